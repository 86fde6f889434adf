"""The operating systems fks-infra supports, and everything that differs between them.

Pure data (no pyinfra): a host's ``/etc/os-release`` (read by ``host/facts.py``) picks one
``Distro``; every release-specific choice of a deploy (PostgreSQL's major version, the
NVIDIA driver branch and package names, apt suites, the CUDA repository path, sshd's unit)
is read from it, never from a default that assumes one release.

Where each figure comes from:

- Debian 12 and 13: the packages' candidate versions in the Debian archive, read with
  ``apt-cache policy`` against bookworm's and trixie's lists on 2026-12-01 (postgresql-15
  15.x / postgresql-17 17.12; python3 3.11 / 3.13.5; libc6 2.36 / 2.41; non-free
  ``nvidia-driver`` 535.261 / 550.163; nginx 1.22 / 1.26.3).
- Ubuntu 22.04 and 24.04: their archive cannot be reached from the machines fks-infra is
  developed on; the figures are Ubuntu's published package versions (postgresql-14 /
  postgresql-16, python3 3.10 / 3.12, libc6 2.35 / 2.39, the ``-server`` NVIDIA branches of
  the restricted component, OpenSSH's socket activation from 24.04 on), proven only by unit
  tests with recorded facts (README, "What could not be exercised here").
- NVIDIA's CUDA repository paths follow NVIDIA's naming (``<id><version without dot>``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


class UnsupportedSystemError(ValueError):
    """A host runs an operating system fks-infra does not support (the message says which)."""


@dataclass(frozen=True)
class Distro:
    """One supported release and the choices that follow from it.

    + id, version_id, codename: as ``/etc/os-release`` says (``debian``, ``12``, ``bookworm``)
    + postgres: PostgreSQL's major version in the release's archive
    + python: the release's ``python3`` (``MAJOR.MINOR``), what venvs on the host are made with
    + glibc: the release's C library version (``MAJOR.MINOR``): the newest ``manylinux_2_X``
      wheel tag the host's Python accepts
    + nvidia_branch: the NVIDIA driver branch fks-infra installs unless a setting pins another
    + nvidia_archive_branches: the branches the release's own archive carries
    + cuda_path: the release's folder in NVIDIA's CUDA repository
    + nginx: the release's nginx (``MAJOR.MINOR``)
    + ssh_socket: whether OpenSSH is socket-activated (``ssh.socket`` owns the listening port)
    """

    id: str
    version_id: str
    codename: str
    postgres: str
    python: str
    glibc: str
    nvidia_branch: str
    nvidia_archive_branches: tuple[str, ...]
    cuda_path: str
    nginx: str
    ssh_socket: bool = False

    @property
    def nginx_http2_directive(self) -> bool:
        """Whether nginx takes ``http2 on;`` (1.25.1 and later deprecate ``listen ... http2``,
        warning on every ``nginx -t``; earlier ones do not know the directive)."""
        major, minor = (int(part) for part in self.nginx.split("."))
        return (major, minor) >= (1, 25)

    @property
    def name(self) -> str:
        """``Debian 12 (bookworm)``, for messages."""
        return f"{self.id.capitalize()} {self.version_id} ({self.codename})"

    @property
    def archive_source(self) -> str:
        """The ``fks_gpu_driver_source`` that means this release's own archive."""
        return self.id

    def nvidia_userland(self, branch: str) -> tuple[str, ...]:
        """What works without a kernel module: nvidia-smi, NVML, the persistence daemon."""
        if self.id == "ubuntu":
            return (
                f"nvidia-utils-{branch}-server",
                f"libnvidia-compute-{branch}-server",
                f"nvidia-compute-utils-{branch}-server",
            )
        return ("nvidia-smi", "libnvidia-ml1", "nvidia-persistenced")

    def nvidia_module(self, branch: str) -> tuple[str, ...]:
        """The kernel module as a DKMS package and the driver metapackage."""
        if self.id == "ubuntu":
            return (f"nvidia-driver-{branch}-server", f"nvidia-dkms-{branch}-server")
        return ("nvidia-driver", "nvidia-kernel-dkms")


SUPPORTED: tuple[Distro, ...] = (
    Distro("debian", "12", "bookworm", "15", "3.11", "2.36", "535", ("535",), "debian12", "1.22"),
    Distro("debian", "13", "trixie", "17", "3.13", "2.41", "550", ("550",), "debian13", "1.26"),
    Distro(
        "ubuntu",
        "22.04",
        "jammy",
        "14",
        "3.10",
        "2.35",
        "535",
        ("535", "550", "570"),
        "ubuntu2204",
        "1.18",
    ),
    Distro(
        "ubuntu",
        "24.04",
        "noble",
        "16",
        "3.12",
        "2.39",
        "550",
        ("535", "550", "570"),
        "ubuntu2404",
        "1.24",
        ssh_socket=True,
    ),
)


def supported_names() -> str:
    """``Debian 12 (bookworm), Debian 13 (trixie), ...``, for messages."""
    return ", ".join(distro.name for distro in SUPPORTED)


def distro_of(os_release: Mapping[str, str]) -> Distro:
    """The supported release ``/etc/os-release``'s fields name.

    + os_release: its ``KEY=value`` fields, unquoted (``ID``, ``VERSION_ID``, ...)

    Raises ``UnsupportedSystemError`` naming what was found and what is supported.
    """
    found_id = os_release.get("ID", "").lower()
    version = os_release.get("VERSION_ID", "")
    for distro in SUPPORTED:
        if (distro.id, distro.version_id) == (found_id, version):
            return distro
    found = os_release.get("PRETTY_NAME") or f"{found_id or 'unknown'} {version}".strip()
    raise UnsupportedSystemError(f"{found} is not supported (supported: {supported_names()})")


def parse_os_release(text: str) -> dict[str, str]:
    """The fields of an ``os-release`` file (os-release(5): shell-style assignments, values
    optionally in single or double quotes; comments and blank lines ignored)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        fields[key.strip()] = value
    return fields
