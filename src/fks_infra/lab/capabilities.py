"""Can this machine run a lab? Checked up front so the answer is one clear sentence.

The test suite uses the same check to decide between skipping lab tests
(a developer laptop without root) and failing them (CI, where a missing
capability is a broken runner, not a reason to go green).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from fks_infra.lab import proc
from fks_infra.lab.errors import LabError

#: Programs the lab runs, and the Debian package that provides each.
REQUIRED_TOOLS: dict[str, str] = {
    "systemd-nspawn": "systemd-container",
    "debootstrap": "debootstrap",
    "nft": "nftables",
    "ip": "iproute2",
    "mount": "mount",
}


def _has_overlayfs() -> bool:
    def listed() -> bool:
        return "overlay" in Path("/proc/filesystems").read_text(encoding="ascii").split()

    if listed():
        return True
    proc.succeeds(["modprobe", "overlay"])
    return listed()


def missing_capabilities() -> list[str]:
    """What this machine lacks to run a lab, one phrase each; empty when it can."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root privileges (the lab creates namespaces, mounts and links)")
    for tool, package in REQUIRED_TOOLS.items():
        if shutil.which(tool) is None:
            missing.append(f"{tool} (Debian package {package})")
    if not _has_overlayfs():
        missing.append("overlayfs support in the kernel")
    return missing


def require_capabilities() -> None:
    """Raise ``LabError`` naming everything missing, before the lab changes anything."""
    missing = missing_capabilities()
    if missing:
        raise LabError("this machine cannot run the lab; missing: " + "; ".join(missing))
