"""Debian packages: installed, or installed at a pinned version; dpkg repaired first where an
earlier run was interrupted."""

from __future__ import annotations

import re
import shlex
from collections.abc import Generator, Sequence
from dataclasses import dataclass

from pyinfra.api.facts import FactBase
from pyinfra.facts.deb import DebPackages
from pyinfra.facts.util.packaging import parse_packages

from fks_infra.operations.factcache import fact, first_time, host_operation

#: dpkg's journal: entries of a run not yet folded into its status file. dpkg empties it at
#: the end of every run; entries left mean a run died, and apt refuses to start ("dpkg was
#: interrupted, you must manually run 'dpkg --configure -a'").
DPKG_JOURNAL = "/var/lib/dpkg/updates"

#: Package states (dpkg(1) "Package states", the second letter of ``dpkg -l``) a package is
#: left in by an interrupted dpkg and that ``dpkg --configure -a`` completes: U(npacked),
#: half-(F)onfigured, triggers-a(W)aited, (t)riggers-pending.
INTERRUPTED_STATES = "UFWt"

#: Completes what an interrupted dpkg left (dpkg(1): ``--configure --pending``), keeping the
#: host's changed conffiles as ``APT_GET_INSTALL`` does.
DPKG_CONFIGURE_PENDING = (
    "DEBIAN_FRONTEND=noninteractive dpkg --configure -a --force-confdef --force-confold"
)

#: apt-get as the deploy runs it: no questions, and a changed conffile keeps the host's copy.
APT_GET_INSTALL = (
    "DEBIAN_FRONTEND=noninteractive apt-get install -y -q "
    "-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold"
)


#: The same without recommends, for the NVIDIA driver (a server needs none of its X tools).
APT_INSTALL = f"{APT_GET_INSTALL} --no-install-recommends"

#: Refreshes the package lists (no stamp of the last refresh exists on a plain Debian: apt's
#: ``update-success-stamp`` is written only by its periodic job, which servers rarely run).
APT_GET_UPDATE = "DEBIAN_FRONTEND=noninteractive apt-get update -q"


@dataclass(frozen=True)
class DpkgState:
    """What ``dpkg -l`` and dpkg's journal say of a host's packages."""

    #: Installed packages and their versions, as pyinfra's ``DebPackages`` gives them.
    installed: dict[str, set[str]]
    #: Packages an interrupted dpkg left in one of ``INTERRUPTED_STATES``, then
    #: ``DPKG_JOURNAL`` when it holds entries; empty on a healthy host.
    interrupted: tuple[str, ...]


class Dpkg(FactBase[DpkgState]):
    """``DebPackages`` and what an interrupted dpkg left behind, in the one ``dpkg -l``.

    .. code:: python

        DpkgState(installed={"python3": {"3.11.2-1+b1"}}, interrupted=("jq",))
    """

    _JOURNAL = "--journal--"
    _INTERRUPTED = re.compile(rf"^[uihrp][{INTERRUPTED_STATES}][ R]\s+(\S+)")

    def command(self) -> str:
        return f"dpkg -l; echo {self._JOURNAL}; ls -A {DPKG_JOURNAL} 2>/dev/null; true"

    def process(self, output: list[str]) -> DpkgState:
        marker = output.index(self._JOURNAL) if self._JOURNAL in output else len(output)
        listing, journal = output[:marker], output[marker + 1 :]
        interrupted = [
            found.group(1).split(":")[0]
            for line in listing
            if (found := self._INTERRUPTED.match(line))
        ]
        if any(line.strip() for line in journal):
            interrupted.append(DPKG_JOURNAL)
        installed = parse_packages(DebPackages.regex, listing)
        return DpkgState(installed=installed, interrupted=tuple(interrupted))


@host_operation
def packages(names: Sequence[str], recommends: bool = True) -> Generator[object, None, None]:
    """Install the Debian packages of ``names`` that are not installed.

    + names: package names, any version
    + recommends: install what they recommend too, as apt does by default

    The package lists are refreshed before the first install of the run on each host, once.
    Before the first package operation of the run on a host, what an interrupted dpkg left
    (packages unpacked but not configured, its journal: ``Dpkg``) is completed with
    ``dpkg --configure -a``, which apt asks an operator to run by hand.

    Installed packages come from one ``dpkg`` read shared by every package operation of the
    run (until fks-infra changes the host); a converged, healthy host costs no command here.
    """
    state = fact(Dpkg)
    if first_time("dpkg repair") and state.interrupted:
        yield DPKG_CONFIGURE_PENDING
        state = fact(Dpkg)  # read again after the command (the cache was dropped)
    missing = [name for name in names if name not in state.installed]
    if not missing:
        return
    if first_time("apt-get update"):
        yield APT_GET_UPDATE
    install = APT_GET_INSTALL if recommends else APT_INSTALL
    yield f"{install} {' '.join(shlex.quote(name) for name in missing)}"


@host_operation
def pinned_packages(packages: Sequence[str], version_prefix: str) -> Generator[object, None, None]:
    """Install packages at a version that starts with ``version_prefix`` (apt pins hold it).

    + packages: Debian package names
    + version_prefix: e.g. ``535`` for the driver branch (matches ``535.309.01-0+deb12u1``)

    Installs when any package is missing or at another version, asking apt for
    ``name=<prefix>.*`` (the apt preferences written before choose among those;
    ``--allow-downgrades`` lets it go back to the pin). A branch the sources do not have
    fails right here, naming the version apt could not find, instead of apt quietly
    keeping the installed one.
    """
    installed = fact(DebPackages)
    wrong = [
        name
        for name in packages
        if not any(v.startswith(f"{version_prefix}.") for v in installed.get(name, []))
    ]
    if not wrong:
        return
    wanted = " ".join(shlex.quote(f"{name}={version_prefix}.*") for name in packages)
    yield f"{APT_INSTALL} --allow-downgrades {wanted}"
