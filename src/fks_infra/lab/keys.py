"""SSH keys the lab needs: its own login key, per-host host keys, and their known_hosts.

Generated in-process (``cryptography``, already a paramiko dependency) so the
lab needs no ``ssh-keygen`` and no shell, and every host gets keys of its own
instead of the ones baked into the shared base rootfs. ``lab up`` records each host's
public host keys in the lab's known_hosts file (beside the login key) before the host
boots; the lab inventory, ``lab ssh`` and the lab tests check every connection against it,
so a lab host whose key changed is refused as a production host would be.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from fks_infra.lab.errors import LabError

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class KeyPair:
    """An OpenSSH private key (PEM text) and its ``authorized_keys``-style public line."""

    private: str
    public: str


def _openssh_pair(key: PrivateKey, comment: str) -> KeyPair:
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return KeyPair(private=private, public=f"{public} {comment}\n")


def host_keys(hostname: str) -> dict[str, KeyPair]:
    """Fresh host keys of the three types Debian's sshd loads, by type name."""
    comment = f"root@{hostname}"
    return {
        "ed25519": _openssh_pair(ed25519.Ed25519PrivateKey.generate(), comment),
        "ecdsa": _openssh_pair(ec.generate_private_key(ec.SECP256R1()), comment),
        "rsa": _openssh_pair(rsa.generate_private_key(65537, 3072), comment),
    }


def ensure_lab_key(path: Path) -> str:
    """Create the lab's ed25519 login key at ``path`` (mode 0600) once; return its public line.

    The key is kept across labs so scripts and habits around ``lab ssh`` keep working;
    the public line is derived from the private key, so a lost ``.pub`` does not matter.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = ed25519.Ed25519PrivateKey.generate()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(_openssh_pair(key, "fks-infra-lab").private)
    os.chmod(path, 0o600)
    loaded = serialization.load_ssh_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, ed25519.Ed25519PrivateKey):
        raise LabError(f"{path} is not an ed25519 key; remove it and run `lab up` again")
    public = _openssh_pair(loaded, "fks-infra-lab").public
    path.with_name(path.name + ".pub").write_text(public, encoding="ascii")
    return public


#: The lab's known_hosts file's name, in the state directory beside the login key.
KNOWN_HOSTS_NAME = "known_hosts"


def known_hosts_file(lab_key: Path) -> Path:
    """The lab's known_hosts file: beside its login key ``lab_key`` (``LabPaths.key``)."""
    return lab_key.with_name(KNOWN_HOSTS_NAME)


def known_hosts_lines(address: str, keys: Mapping[str, KeyPair]) -> str:
    """OpenSSH known_hosts lines (``address type base64``) for a host's ``host_keys``, all on
    port 22 (where lab hosts' sshd listens)."""
    return "".join(f"{address} {' '.join(pair.public.split()[:2])}\n" for pair in keys.values())


def write_known_hosts(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (mode 0644: public keys only); readers see
    the old file or the new one, never a mix of two labs' keys."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text)
    os.replace(tmp, path)
