"""Turning the shared base tree into one particular host, inside that host's overlay.

Everything here is identity or trust that must differ per host or come from the
control machine: hostname, machine-id, SSH host keys, the lab's login key (for root and
every operator), DNS,
apt sources and the CA bundle. Writes land in the host's overlay upper layer,
so the cached base rootfs stays untouched.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address, ip_address
from pathlib import Path

from fks_infra.lab.errors import LabError
from fks_infra.lab.keys import KeyPair
from fks_infra.lab.mirror import Mirrors
from fks_infra.lab.rootfs import LOGINS

CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
LOCAL_CA_DIR = Path("/usr/local/share/ca-certificates")
RESOLV_CONF = Path("/etc/resolv.conf")
#: Where systemd-resolved keeps the real upstream servers when resolv.conf names its stub.
RESOLVED_UPSTREAMS = Path("/run/systemd/resolve/resolv.conf")
DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"

#: In a container on this hybrid-cgroup host, stopping a root user manager left
#: behind by an SSH login sometimes hangs until its 120 s stop timeout, which
#: stalls every poweroff that races with a recent login. Capping it keeps
#: ``lab down`` orderly and quick; services' own stop timeouts are untouched.
USER_MANAGER_DROPIN = (
    "# fks-infra lab only: see fks_infra/lab/guest.py\n[Service]\nTimeoutStopSec=5s\n"
)
#: The login users' user managers (root's and every operator's) linger: each starts once
#: at boot instead of with every SSH login and stopping ten seconds after it. Inside
#: nspawn, that per-login teardown races with the next login's slice
#: (``user-runtime-dir@0.service`` fails at step CGROUP), which leaves the host "degraded"
#: between logins for reasons no deploy caused.
LINGER_DIR = "/var/lib/systemd/linger"


@dataclass(frozen=True)
class GuestIdentity:
    """What makes one lab host itself."""

    name: str
    address: IPv4Address
    #: Every lab host's name and address, for ``/etc/hosts``.
    peers: tuple[tuple[str, IPv4Address], ...]
    authorized_key: str
    #: Its SSH host keys by type (``keys.host_keys``), already in the lab's known_hosts.
    host_keys: Mapping[str, KeyPair]


def write_guest_file(root: Path, guest_path: str, content: str, mode: int = 0o644) -> None:
    """Write ``content`` at ``guest_path`` below ``root``, replacing (not following) a symlink."""
    target = root / guest_path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink():
        target.unlink()
    target.write_text(content, encoding="utf-8")
    os.chmod(target, mode)


def usable_nameservers(resolv_conf: str) -> list[str]:
    """Nameserver lines a guest can use: loopback ones point at the guest itself."""
    servers = []
    for line in resolv_conf.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            try:
                if not ip_address(fields[1].split("%")[0]).is_loopback:
                    servers.append(fields[1])
            except ValueError:
                continue
    return servers


def guest_resolv_conf() -> str:
    """A resolv.conf for guests built from this machine's resolvers.

    Guests reach them through the lab's NAT, the same way this machine does.
    """
    for source in (RESOLV_CONF, RESOLVED_UPSTREAMS):
        if source.is_file():
            servers = usable_nameservers(source.read_text(encoding="utf-8"))
            if servers:
                lines = [f"nameserver {server}" for server in servers]
                return "# written by fks-infra lab from the control machine's resolvers\n" + (
                    "\n".join(lines) + "\n"
                )
    raise LabError(
        f"no non-loopback nameserver in {RESOLV_CONF} or {RESOLVED_UPSTREAMS}: "
        "lab guests would have no DNS"
    )


def apt_sources(mirrors: Mirrors, suite: str) -> str:
    """deb822 sources like a fresh cloud VM's: the suite, its updates and security."""
    text = (
        f"Types: deb\nURIs: {mirrors.archive}\nSuites: {suite} {suite}-updates\n"
        f"Components: main\nSigned-By: {DEBIAN_KEYRING}\n"
    )
    if mirrors.security:
        text += (
            f"\nTypes: deb\nURIs: {mirrors.security}\nSuites: {suite}-security\n"
            f"Components: main\nSigned-By: {DEBIAN_KEYRING}\n"
        )
    return text


def _passwd_entry(root: Path, user: str) -> tuple[int, int, str]:
    """(uid, gid, home) of ``user`` in the tree's ``/etc/passwd``."""
    for line in (root / "etc/passwd").read_text(encoding="utf-8").splitlines():
        fields = line.split(":")
        if len(fields) >= 6 and fields[0] == user:
            return int(fields[2]), int(fields[3]), fields[5]
    raise LabError(
        f"no user {user!r} in the base rootfs; rebuild it (`fks-infra lab down --purge`)"
    )


def _authorize(root: Path, user: str, key: str) -> None:
    """The lab key in ``user``'s ``~/.ssh/authorized_keys`` (0600 in a 0700 dir, theirs),
    the way cloud-init installs a VM's login key."""
    uid, gid, home = _passwd_entry(root, user)
    ssh_dir = root / home.lstrip("/") / ".ssh"
    ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_guest_file(root, f"{home}/.ssh/authorized_keys", key, 0o600)
    for path in (ssh_dir, ssh_dir / "authorized_keys"):
        os.chown(path, uid, gid)


def hosts_file(identity: GuestIdentity) -> str:
    """``/etc/hosts`` naming every lab host, so hosts reach each other by name."""
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    lines += [f"{address}\t{name}" for name, address in identity.peers]
    return "\n".join(lines) + "\n"


def _local_cas() -> Iterable[Path]:
    return sorted(LOCAL_CA_DIR.rglob("*.crt")) if LOCAL_CA_DIR.is_dir() else []


def inherit_control_machine(
    root: Path, *, resolv_conf: str, debian_sources: str, ca_bundle: str, logins: Iterable[str]
) -> None:
    """What every container tree made here (lab hosts, Vagrant boxes) takes from this
    machine: its resolvers (``guest_resolv_conf``), its Debian mirror (``apt_sources``, in
    place of ``sources.list``), its CA bundle (apt, curl, and pip through ``/etc/pip.conf``),
    and lingering user managers for ``logins`` (``USER_MANAGER_DROPIN`` says why)."""
    write_guest_file(root, "/etc/resolv.conf", resolv_conf)
    (root / "etc/apt/sources.list").unlink(missing_ok=True)
    write_guest_file(root, "/etc/apt/sources.list.d/debian.sources", debian_sources)
    write_guest_file(root, str(CA_BUNDLE), ca_bundle)
    write_guest_file(root, "/etc/pip.conf", f"[global]\ncert = {CA_BUNDLE}\n")
    write_guest_file(root, "/etc/systemd/system/user@.service.d/fks-lab.conf", USER_MANAGER_DROPIN)
    for user in logins:
        write_guest_file(root, f"{LINGER_DIR}/{user}", "")


def prepare_guest(root: Path, identity: GuestIdentity, mirrors: Mirrors, suite: str) -> None:
    """Give the tree at ``root`` (an overlay over the base rootfs) its host identity.

    The CA bundle is copied both as the live bundle (apt, curl and pip, through
    ``/etc/pip.conf``, work at once) and as the control machine's local CA files,
    so a later ``update-ca-certificates`` in the guest keeps trusting them.
    """
    write_guest_file(root, "/etc/hostname", f"{identity.name}\n")
    write_guest_file(root, "/etc/hosts", hosts_file(identity))
    write_guest_file(root, "/etc/machine-id", f"{uuid.uuid4().hex}\n", 0o444)
    for kind, pair in identity.host_keys.items():
        write_guest_file(root, f"/etc/ssh/ssh_host_{kind}_key", pair.private, 0o600)
        write_guest_file(root, f"/etc/ssh/ssh_host_{kind}_key.pub", pair.public)
    for user in LOGINS:
        _authorize(root, user, identity.authorized_key)
    inherit_control_machine(
        root,
        resolv_conf=guest_resolv_conf(),
        debian_sources=apt_sources(mirrors, suite),
        ca_bundle=CA_BUNDLE.read_text(encoding="utf-8"),
        logins=LOGINS,
    )
    for ca in _local_cas():
        relative = ca.relative_to(LOCAL_CA_DIR)
        write_guest_file(
            root, str(LOCAL_CA_DIR / "fks-lab-control" / relative), ca.read_text("utf-8")
        )
