"""Debian packages: installed, or installed at a pinned version."""

from __future__ import annotations

import shlex
from collections.abc import Generator, Sequence

from pyinfra.facts.deb import DebPackages

from fks_infra.operations.factcache import fact, first_time, host_operation

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


@host_operation
def packages(names: Sequence[str], recommends: bool = True) -> Generator[object, None, None]:
    """Install the Debian packages of ``names`` that are not installed.

    + names: package names, any version
    + recommends: install what they recommend too, as apt does by default

    The package lists are refreshed before the first install of the run on each host, once.

    Installed packages come from one ``dpkg`` read shared by every package operation of the
    run (until fks-infra changes the host); a converged host costs no command here.
    """
    installed = fact(DebPackages)
    missing = [name for name in names if name not in installed]
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
