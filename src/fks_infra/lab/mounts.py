"""Mounts the lab makes (overlays per host) and the careful undoing of them.

Deleting a directory tree that still has something mounted below it deletes
through the mount; every removal the lab does therefore goes through
``remove_tree``, which unmounts first and refuses if anything stays mounted.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from fks_infra.lab import proc
from fks_infra.lab.errors import LabError

_OCTAL_RE = re.compile(r"\\([0-7]{3})")


def _unescape(field: str) -> str:
    return _OCTAL_RE.sub(lambda match: chr(int(match.group(1), 8)), field)


def mount_points(mountinfo: str) -> list[Path]:
    """Mount points listed in ``/proc/self/mountinfo`` text, in mount order."""
    return [Path(_unescape(line.split()[4])) for line in mountinfo.splitlines() if line.strip()]


def mounts_under(path: Path) -> list[Path]:
    """Mount points at or below ``path``, deepest first (the order to unmount them in)."""
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        points = mount_points(handle.read())
    inside = {point for point in points if point == path or path in point.parents}
    return sorted(inside, key=lambda point: len(point.parts), reverse=True)


def mount_overlay(lower: Path, upper: Path, work: Path, target: Path) -> None:
    """Mount a copy-on-write view of ``lower`` at ``target``, writes going to ``upper``."""
    for part in (lower, upper, work):
        if any(char in str(part) for char in ",:"):
            raise LabError(f"overlay layer path {part} must not contain ',' or ':'")
    for directory in (upper, work, target):
        directory.mkdir(parents=True, exist_ok=True)
    options = f"lowerdir={lower},upperdir={upper},workdir={work}"
    proc.run(["mount", "-t", "overlay", "fkslab", "-o", options, str(target)])


def unmount_all_under(path: Path) -> list[Path]:
    """Unmount everything at or below ``path``; lazily when a mount is busy. Returns what it did."""
    done = []
    for point in mounts_under(path):
        if not proc.succeeds(["umount", str(point)]):
            proc.run(["umount", "--lazy", str(point)])
        done.append(point)
    return done


def remove_tree(path: Path) -> None:
    """Delete ``path`` after unmounting below it; refuse if a mount survives."""
    if not path.exists():
        return
    unmount_all_under(path)
    left = mounts_under(path)
    if left:
        raise LabError(f"not removing {path}: still mounted below it: {', '.join(map(str, left))}")
    shutil.rmtree(path)
