"""SHA256SUMS manifests: written on the control machine, checked on the host.

This module is deliberately standalone (standard library only, no fks_infra
import): a deploy copies this very file to the host and runs
``python3 manifest.py RELEASE_DIR [--manifest-sha256 HEX]`` before a release
goes live. The manifest is also plain ``sha256sum -c`` input.

A manifest covers the directories it names: a file in such a directory that it
does not list is a problem too, because ``pip --find-links wheels`` would pick
up a planted wheel that ``sha256sum -c`` never looks at.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path, PurePosixPath

MANIFEST_NAME = "SHA256SUMS"
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks so large wheels cost no memory."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(directory: Path) -> str:
    """List every regular file under ``directory`` in SHA256SUMS; return the manifest's digest.

    Lines are sorted by path so that the same files always give the same manifest.
    """
    lines = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        relative = path.relative_to(directory).as_posix()
        if relative != MANIFEST_NAME:
            lines.append(f"{sha256_file(path)}  {relative}\n")
    manifest = directory / MANIFEST_NAME
    manifest.write_text("".join(lines), encoding="utf-8")
    return sha256_file(manifest)


def read_manifest(directory: Path) -> dict[str, str]:
    """Return ``{relative path: sha256}`` from the manifest; raise ValueError on a bad line."""
    entries: dict[str, str] = {}
    text = (directory / MANIFEST_NAME).read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), start=1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not _is_hex(digest) or not _is_safe(name):
            raise ValueError(f"{MANIFEST_NAME} line {number} is malformed: {line!r}")
        if name in entries:
            raise ValueError(f"{MANIFEST_NAME} line {number} lists {name} twice")
        entries[name] = digest
    return entries


def verify_manifest(directory: Path, manifest_sha256: str | None = None) -> list[str]:
    """Check a release directory against its manifest; return the problems (empty: valid).

    + directory: the release directory holding SHA256SUMS
    + manifest_sha256: the digest of SHA256SUMS the control machine wrote; without
      it a forger who rewrites a file and its manifest line would go unnoticed
    """
    manifest = directory / MANIFEST_NAME
    if not manifest.is_file():
        return [f"{manifest}: missing"]
    if manifest_sha256 is not None and sha256_file(manifest) != manifest_sha256.lower():
        return [f"{MANIFEST_NAME}: digest {sha256_file(manifest)} is not the expected one"]
    try:
        entries = read_manifest(directory)
    except ValueError as error:
        return [str(error)]
    problems = []
    for name, expected in sorted(entries.items()):
        path = directory / name
        if path.is_symlink() or (path.exists() and not path.is_file()):
            problems.append(f"{name}: not a regular file")
        elif not path.exists():
            problems.append(f"{name}: missing")
        elif sha256_file(path) != expected:
            problems.append(f"{name}: SHA-256 mismatch")
    covered = {PurePosixPath(name).parent for name in entries} | {PurePosixPath(".")}
    for folder in sorted(covered):
        for path in sorted((directory / folder).iterdir()) if (directory / folder).is_dir() else []:
            relative = path.relative_to(directory).as_posix()
            if not path.is_dir() and relative != MANIFEST_NAME and relative not in entries:
                problems.append(f"{relative}: not in {MANIFEST_NAME}")
    return problems


def _is_hex(text: str) -> bool:
    return all(char in "0123456789abcdef" for char in text)


def _is_safe(name: str) -> bool:
    """Reject absolute paths and ``..``: a manifest must not point outside its directory."""
    path = PurePosixPath(name)
    return bool(name) and not path.is_absolute() and ".." not in path.parts


def main(argv: list[str] | None = None) -> int:
    """Command line for the host: print each problem, exit 1 when there is any."""
    parser = argparse.ArgumentParser(description="Verify a release directory by SHA-256.")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--manifest-sha256", help="expected SHA-256 of the SHA256SUMS file")
    args = parser.parse_args(argv)
    problems = verify_manifest(args.directory, args.manifest_sha256)
    for problem in problems:
        print(f"{args.directory}: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
