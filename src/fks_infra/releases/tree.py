"""Source trees as build inputs: which files count, their digest, a clean copy."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from fks_infra.releases.manifest import sha256_file

# Build outputs, caches and VCS data: never inputs. Leaving them out keeps the
# release id stable across a `cargo build` or `pip install -e` in the checkout.
_SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".venv",
        "venv",
        "__pycache__",
        "build",
        "dist",
        "target",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        ".artifacts",
    }
)
_SKIPPED_SUFFIXES = (".pyc", ".pyo")


def tree_files(root: Path) -> list[str]:
    """Relative POSIX paths of the input files under ``root``, sorted."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIPPED_DIRS and not d.endswith(".egg-info")]
        for name in files:
            path = Path(folder, name)
            if path.is_file() and not name.endswith(_SKIPPED_SUFFIXES):
                found.append(path.relative_to(root).as_posix())
    return sorted(found)


def tree_digest(root: Path) -> str:
    """SHA-256 over paths, contents and executable bits of the input files."""
    return entries_digest(
        (relative, sha256_file(root / relative), os.access(root / relative, os.X_OK))
        for relative in tree_files(root)
    )


def entries_digest(entries: Iterable[tuple[str, str, bool]]) -> str:
    """``tree_digest`` of a tree given as (relative path, content SHA-256, executable)."""
    digest = hashlib.sha256()
    for relative, content_sha256, executable in sorted(entries):
        digest.update(f"{relative}\0{content_sha256}\0{int(executable)}\n".encode())
    return digest.hexdigest()


def copy_tree(root: Path, destination: Path) -> Path:
    """Copy only the input files, so stale build output in a checkout cannot leak into a wheel."""
    for relative in tree_files(root):
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / relative, target)
    return destination
