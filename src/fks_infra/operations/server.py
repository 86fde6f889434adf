"""The host itself: system accounts, directories, the pre-flight check."""

from __future__ import annotations

import shlex
import time
from collections.abc import Generator

from fks_infra.operations.commands import argv
from fks_infra.operations.factcache import fact, host_operation
from fks_infra.operations.facts import DirectoryModes, Preflight


@host_operation
def directories(layout: tuple[tuple[str, str, str], ...]) -> Generator[object, None, None]:
    """Make directories exist with their mode and owner, read in one fact.

    + layout: (path, mode, owner) for each directory; the group is the owner's
    """
    current = fact(DirectoryModes, paths=tuple(path for path, _, _ in layout))
    for path, mode, owner in layout:
        if current.get(path) != (mode, owner):
            yield argv("install", "-d", "-m", mode, "-o", owner, path)


@host_operation
def preflight(min_free_mib: int, max_clock_skew_s: int) -> Generator[object, None, None]:
    """Stop this host before any change when its disk is almost full or its clock is off.

    + min_free_mib: free space / must have
    + max_clock_skew_s: largest difference allowed between the host's and this machine's clock

    A healthy host yields nothing. A failing one yields a command that prints the reason and
    fails, so pyinfra stops the host here and names it in the summary.
    """
    found = fact(Preflight)
    problems = []
    if found["free_mib"] < min_free_mib:
        problems.append(f"only {found['free_mib']} MiB free on / (need {min_free_mib})")
    skew = abs(found["clock"] - int(time.time()))
    if skew > max_clock_skew_s:
        problems.append(f"clock is {skew} s off this machine's (at most {max_clock_skew_s})")
    if problems:
        message = "pre-flight check failed: " + "; ".join(problems)
        yield f"echo {shlex.quote(message)} >&2; exit 1"
