"""Releases as they travel: built once per run and target on the control machine, one
tarball each.

A tarball is packed deterministically (sorted names, fixed owner and time), so the same
release always gives the same bytes and an unchanged release uploads nothing.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
from dataclasses import dataclass

from fks_infra.catalogue import Service
from fks_infra.releases import (
    MANIFEST_NAME,
    PythonTarget,
    Release,
    build_release,
)
from fks_infra.releases.source import parse_release_source


@dataclass(frozen=True)
class Shipment:
    """A built release and the exact bytes that carry it to a host."""

    release: Release
    tarball: bytes
    sha256: str


_lock = threading.Lock()  # pyinfra prepares hosts in greenlets; gevent patches this lock
_shipments: dict[tuple[str, str, PythonTarget | None], Shipment] = {}


def shipment(service: Service, setting: str, target: PythonTarget) -> Shipment:
    """Build (or reuse) the release of ``service`` from a release source setting, for a
    host with the Python ``target`` (a Rust release is the same for every target)."""
    python = service.language.value == "python"
    key = (service.name, setting, target if python else None)
    with _lock:
        if key not in _shipments:
            source, behaviour = parse_release_source(setting)
            release = build_release(
                service.name, service.language.value, source, None, behaviour, target
            )
            tarball = pack(release)
            _shipments[key] = Shipment(release, tarball, hashlib.sha256(tarball).hexdigest())
        return _shipments[key]


def pack(release: Release) -> bytes:
    """The release's files and manifest as an uncompressed, reproducible tar."""
    names = sorted({file.path for file in release.files} | {MANIFEST_NAME})
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in names:
            data = (release.directory / name).read_bytes()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if _executable(release, name) else 0o644
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _executable(release: Release, name: str) -> bool:
    return any(file.path == name and file.executable for file in release.files)
