"""The edge's TLS certificate, made on the host when none is configured."""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Generator

from fks_infra.operations.commands import argv
from fks_infra.operations.factcache import file_digest, host_operation


@host_operation
def self_signed_certificate(
    certificate: str, key: str, common_name: str, addresses: tuple[str, ...] = (), days: int = 825
) -> Generator[object, None, None]:
    """Make a self-signed certificate and its key on the host, only when either is missing.

    + certificate, key: absolute paths on the host (the key ends up root-only, mode 600)
    + common_name: the certificate's subject CN, also its first DNS subjectAltName
    + addresses: IP addresses the certificate also names
    + days: validity

    The key is made on the host and never leaves it. An existing pair is kept as it is.
    """
    if file_digest(certificate) and file_digest(key):
        return
    alt_names = ",".join([f"DNS:{common_name}", *(f"IP:{address}" for address in addresses)])
    new_key, new_certificate = f"{key}.fks-new", f"{certificate}.fks-new"
    yield argv("mkdir", "-p", "-m", "700", posixpath.dirname(key))
    yield (
        "umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
        f"-nodes -sha256 -days {days} -subj {shlex.quote('/CN=' + common_name)} "
        f"-addext {shlex.quote('subjectAltName=' + alt_names)} "
        f"-keyout {shlex.quote(new_key)} -out {shlex.quote(new_certificate)}"
    )
    yield argv("chmod", "644", new_certificate)
    yield argv("mv", "-f", new_key, key)
    yield argv("mv", "-f", new_certificate, certificate)
