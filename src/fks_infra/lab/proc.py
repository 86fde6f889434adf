"""Running host commands: argument lists only, failures turned into LabError."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from fks_infra.lab.errors import LabError


def run(
    args: Sequence[str],
    *,
    input_text: str | None = None,
    timeout: float = 120.0,
) -> str:
    """Run ``args`` and return its stdout; raise ``LabError`` naming the command on failure.

    + args: the command and its arguments (never a shell string)
    + input_text: text fed to the command's stdin
    + timeout: seconds before the command is killed, so no call can hang the lab
    """
    try:
        done = subprocess.run(
            list(args),
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise LabError(f"{args[0]} is not installed: {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"{' '.join(args)} did not finish within {timeout:.0f}s") from exc
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()
        raise LabError(f"{' '.join(args)} failed with exit code {done.returncode}: {detail}")
    return done.stdout


def succeeds(args: Sequence[str], *, timeout: float = 30.0) -> bool:
    """Whether ``args`` exits 0; for probes and best-effort teardown steps."""
    try:
        done = subprocess.run(list(args), capture_output=True, timeout=timeout, check=False)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0
