"""Where the lab keeps its files: per-checkout state, and a machine-wide rootfs cache.

The state directory (``<repo>/.lab``, or ``FKS_LAB_DIR``) holds what one lab run
owns: the state file, the SSH key, each host's overlay layers and console logs.
The cache (``/var/cache/fks-infra/lab``, or ``FKS_LAB_CACHE``) holds base root
filesystems, which outlive labs because building one takes about a minute.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

STATE_DIR_ENV = "FKS_LAB_DIR"
CACHE_DIR_ENV = "FKS_LAB_CACHE"
DEFAULT_CACHE_DIR = Path("/var/cache/fks-infra/lab")


def repo_root() -> Path:
    """The checkout this package runs from, found by its ``pyproject.toml``.

    Falls back to the current directory when the package is installed
    somewhere that is not a checkout.
    """
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file() and (parent / "src" / "fks_infra").is_dir():
            return parent
    return Path.cwd()


def state_dir() -> Path:
    """The lab state directory, absolute."""
    override = os.environ.get(STATE_DIR_ENV)
    return Path(override).resolve() if override else repo_root() / ".lab"


def cache_dir() -> Path:
    """The directory holding cached base root filesystems, absolute."""
    override = os.environ.get(CACHE_DIR_ENV)
    return Path(override).resolve() if override else DEFAULT_CACHE_DIR


@dataclass(frozen=True)
class LabPaths:
    """Files and directories inside one state directory."""

    root: Path

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def key(self) -> Path:
        return self.root / "id_ed25519"

    @property
    def machines(self) -> Path:
        return self.root / "machines"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def machine(self, host: str) -> Path:
        return self.machines / host

    def merged(self, host: str) -> Path:
        """The overlay mount point: the tree the host boots from."""
        return self.machine(host) / "root"

    def upper(self, host: str) -> Path:
        return self.machine(host) / "upper"

    def work(self, host: str) -> Path:
        return self.machine(host) / "work"

    def console_log(self, host: str) -> Path:
        return self.logs / f"{host}.console.log"


def lab_paths() -> LabPaths:
    """The paths of the lab for the current environment."""
    return LabPaths(state_dir())
