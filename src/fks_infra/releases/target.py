"""The interpreter and platform a Python release is built for: the host's, not this machine's.

Hosts install wheels offline with their own ``python3``, so every wheel of a release must be
one that interpreter accepts: a pure wheel, or one built for its CPython ABI (``cp313``, or the
stable ``abi3``) and a ``manylinux`` platform its glibc covers. ``PythonTarget`` names that
interpreter and platform and spells it as pip's download options, and as the environment that
dependency markers (``; python_version < "3.11"``) are evaluated in.

Which platform tags a host accepts is the rule of ``packaging.tags`` (what the host's pip
uses): every ``manylinux_2_X_<machine>`` from the host's glibc down to the oldest glibc the
machine had (2.5 on x86_64, 2.17 elsewhere), plus the legacy aliases of those versions
(``manylinux2014`` = 2.17, ``manylinux2010`` = 2.12, ``manylinux1`` = 2.5). ``linux_<machine>``
wheels are built for one machine and are never asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fks_infra.distro import SUPPORTED, Distro

#: The oldest glibc minor version each machine has manylinux wheels for.
OLDEST_GLIBC_MINOR = {"x86_64": 5, "i686": 5, "aarch64": 17, "ppc64le": 17, "s390x": 17}
#: PEP 513/571/599 names of glibc versions: a host accepting 2.X accepts these too.
LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}


@dataclass(frozen=True)
class PythonTarget:
    """A host's CPython, C library and machine, as a Python release is built for them.

    + python: ``MAJOR.MINOR`` of the host's ``python3`` (``3.13``)
    + glibc: ``MAJOR.MINOR`` of the host's glibc (``2.41``)
    + machine: ``uname -m`` of the host (``x86_64``)

    Example: ``PythonTarget.of(distro).pip_options()``
    """

    python: str
    glibc: str
    machine: str = "x86_64"

    def __post_init__(self) -> None:
        if not re.fullmatch(r"3\.\d{1,2}", self.python):
            raise ValueError(f"Python version {self.python!r} is not 3.MINOR")
        if self.machine not in OLDEST_GLIBC_MINOR:
            raise ValueError(
                f"machine {self.machine!r} is not one of {', '.join(OLDEST_GLIBC_MINOR)}"
            )
        match = re.fullmatch(r"2\.(\d{1,3})", self.glibc)
        if match is None or int(match.group(1)) < OLDEST_GLIBC_MINOR[self.machine]:
            raise ValueError(
                f"glibc {self.glibc!r} is not 2.MINOR with a manylinux wheel tag on {self.machine}"
            )

    @classmethod
    def of(cls, distro: Distro, machine: str = "x86_64") -> PythonTarget:
        """The target of a host running ``distro`` (its ``python3`` and its glibc)."""
        return cls(python=distro.python, glibc=distro.glibc, machine=machine)

    @property
    def tag(self) -> str:
        """The interpreter tag, ``cp313``: what a release id shows of its target."""
        return "cp" + self.python.replace(".", "")

    @property
    def abis(self) -> tuple[str, ...]:
        """The ABIs the host's interpreter loads: its own, the stable ABI, and none."""
        return (self.tag, "abi3", "none")

    @property
    def platforms(self) -> tuple[str, ...]:
        """Every manylinux platform tag the host accepts, most preferred (newest) first."""
        newest = int(self.glibc.split(".")[1])
        tags = []
        for minor in range(newest, OLDEST_GLIBC_MINOR[self.machine] - 1, -1):
            tags.append(f"manylinux_2_{minor}_{self.machine}")
            if minor in LEGACY_MANYLINUX:
                tags.append(f"{LEGACY_MANYLINUX[minor]}_{self.machine}")
        return tuple(tags)

    def pip_options(self) -> tuple[str, ...]:
        """``pip download`` options that fetch only wheels this target installs.

        ``--only-binary=:all:`` keeps sdists out: hosts have no compiler to build them.
        pip takes each ``--abi`` and ``--platform`` as given (it widens none of them), so
        every accepted one is listed.
        """
        options = [
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            self.python,
        ]
        for abi in self.abis:
            options += ["--abi", abi]
        for platform in self.platforms:
            options += ["--platform", platform]
        return tuple(options)

    def marker_environment(self) -> dict[str, str]:
        """PEP 508 marker values of the host's interpreter.

        pip evaluates markers against the interpreter it runs on whatever ``--python-version``
        says, so the release builder evaluates them itself with these. The patch level is not
        known here: ``python_full_version`` is ``MAJOR.MINOR.0``, the oldest the host may run.
        """
        full = f"{self.python}.0"
        return {
            "implementation_name": "cpython",
            "implementation_version": full,
            "os_name": "posix",
            "platform_machine": self.machine,
            "platform_python_implementation": "CPython",
            "platform_release": "",
            "platform_system": "Linux",
            "platform_version": "",
            "python_full_version": full,
            "python_version": self.python,
            "sys_platform": "linux",
        }

    def __str__(self) -> str:
        """``cp313-manylinux_2_41_x86_64``, for messages and release metadata."""
        return f"{self.tag}-{self.platforms[0]}"


#: What ``build_release`` builds Python releases for when no target is named: Debian 12's.
DEFAULT_TARGET = PythonTarget.of(SUPPORTED[0])
