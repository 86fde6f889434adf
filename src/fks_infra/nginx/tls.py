"""The certificate and key nginx serves: configured on the control machine, or self-signed.

No pyinfra import.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fks_infra.errors import Problem
from fks_infra.settings import HostSettings

TLS_DIR = "/etc/nginx/tls"


@dataclass(frozen=True)
class TlsFiles:
    """Where the certificate and key nginx serves lie on the host."""

    certificate: str
    key: str


#: Made on the host by openssl when no certificate is configured (and only when missing).
SELF_SIGNED_TLS = TlsFiles(f"{TLS_DIR}/fks-self-signed.crt", f"{TLS_DIR}/fks-self-signed.key")


def configured_tls(certificate: bytes, key: bytes) -> TlsFiles:
    """Paths of a configured pair, named by its digest.

    A new pair gets new file names, so it changes nginx's config and goes live only through
    the ``nginx -t`` of the candidate config, never by overwriting files nginx reads now.
    """
    digest = hashlib.sha256(certificate + b"\0" + key).hexdigest()[:16]
    return TlsFiles(f"{TLS_DIR}/fks-{digest}.crt", f"{TLS_DIR}/fks-{digest}.key")


def tls_problems(settings: HostSettings, source_of: Mapping[str, str]) -> list[Problem]:
    """What is wrong with a host's TLS settings, checked on the control machine."""
    certificate, key = settings.fks_tls_certificate, settings.fks_tls_key
    if (certificate is None) != (key is None):
        given, missing = (
            ("fks_tls_certificate", "fks_tls_key")
            if key is None
            else ("fks_tls_key", "fks_tls_certificate")
        )
        return [
            Problem(
                f"{given} is set but {missing} is not: give both, or neither for a "
                "self-signed certificate",
                source_of.get(given, ""),
                key=missing,
            )
        ]
    problems = []
    for setting, path, marker in (
        ("fks_tls_certificate", certificate, b"-----BEGIN CERTIFICATE-----"),
        ("fks_tls_key", key, b"PRIVATE KEY-----"),
    ):
        if path is None:
            continue
        file = Path(path)
        if not file.is_file():
            message = f"no such file {path!r} on this machine"
        elif marker not in file.read_bytes():
            message = f"{path!r} is not a PEM file holding {marker.decode().strip('-')}"
        else:
            continue
        problems.append(Problem(message, source_of.get(setting, ""), key=setting))
    return problems


def read_tls(settings: HostSettings) -> tuple[bytes, bytes] | None:
    """The configured certificate and key, or None for a self-signed pair."""
    if settings.fks_tls_certificate is None or settings.fks_tls_key is None:
        return None
    return Path(settings.fks_tls_certificate).read_bytes(), Path(settings.fks_tls_key).read_bytes()
