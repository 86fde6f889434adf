"""Vagrant boxes for the LXC provider, built here from the lab's cached Debian rootfs.

No box is downloaded: ``fks-infra/debian-<suite>`` is made from the same debootstrap
tree the nspawn lab boots (``fks_infra.lab.rootfs``), with what a Vagrant base box
needs added on a throwaway overlay (the cached tree stays untouched):

* the ``vagrant`` user with passwordless sudo and Vagrant's insecure public key (read
  from the installed Vagrant), which ``vagrant up`` replaces by a key of its own;
* SSH host keys made at first boot (the cached tree has none, each host must differ);
* a stand-in ``ifup@.service`` for the step of Vagrant's hostname setting that restarts
  interfaces (LXC configures ``eth0`` before boot; see :data:`IFUP_UNIT`);
* this machine's resolvers, apt mirror and CA bundle, as the lab gives its hosts.

A vagrant-lxc box (format ``1.0.0``) is a tar of ``metadata.json``, ``rootfs.tar.gz`` and
``lxc-config`` (:data:`LXC_CONFIG`); the box's ``metadata.json`` also carries ``fks_box_id``, a hash
of every input above, so a box is rebuilt exactly when one of them changes.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import subprocess
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from fks_infra.lab.errors import LabError
from fks_infra.lab.guest import (
    CA_BUNDLE,
    apt_sources,
    guest_resolv_conf,
    inherit_control_machine,
    write_guest_file,
)
from fks_infra.lab.mirror import system_mirrors
from fks_infra.lab.mounts import mount_overlay, remove_tree
from fks_infra.lab.paths import cache_dir
from fks_infra.lab.rootfs import MARKER, ensure_rootfs
from fks_infra.lab.spec import Release

Report = Callable[[str], None]

#: Bump when what :func:`_add_vagrant_parts` writes changes, so old boxes are rebuilt.
BOX_FORMAT: Final = 4

#: The login Vagrant expects in a base box.
VAGRANT_USER: Final = "vagrant"

#: Where the installed Vagrant keeps its insecure public key(s): Debian's package, then
#: HashiCorp's (``/opt/vagrant``). Newer releases ship several (``vagrant.key.*.pub``).
INSECURE_KEY_GLOBS: Final = (
    "/usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant*.pub",
    "/opt/vagrant/embedded/gems/gems/vagrant-*/keys/vagrant*.pub",
)

#: Makes the SSH host keys on the first boot of each container, before sshd starts.
HOST_KEYS_UNIT_NAME: Final = "fks-ssh-host-keys.service"
HOST_KEYS_UNIT: Final = """\
# fks-infra Vagrant box: every container makes its own SSH host keys on first boot.
[Unit]
Description=Generate missing SSH host keys
Before=ssh.service ssh.socket
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
"""

#: After setting the hostname, Vagrant's Debian guest restarts every interface with
#: ``systemctl stop/start ifup@<iface>.service`` (ifupdown's unit) when neither
#: systemd-networkd nor NetworkManager runs, and fails if the unit does not exist. A
#: container's ``eth0`` is configured by LXC before boot and nothing in the guest manages
#: it: this unit stands in for ifupdown's and leaves the interface as it is.
IFUP_UNIT_NAME: Final = "ifup@.service"
IFUP_UNIT: Final = """\
# fks-infra Vagrant box: LXC configures the interfaces before boot (lxc.net.*); this
# stands in for ifupdown's unit, which Vagrant restarts after setting the hostname.
[Unit]
Description=Interface %i (configured by LXC)

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/true
"""

#: The box's ``lxc-config``, which vagrant-lxc appends to each container's configuration:
#: LXC's common settings for a systemd guest, as LXC's own templates include them (proc,
#: sys and cgroup mounted for systemd, the device list, the capabilities and syscalls a
#: container must not have). Without them systemd's mount namespacing fails in the guest
#: (``status=226/NAMESPACE``), and with it every sandboxed service.
LXC_CONFIG: Final = """\
# fks-infra Vagrant box: LXC's common configuration for a systemd guest.
lxc.include = /usr/share/lxc/config/common.conf
lxc.arch = linux64
"""

#: Seconds for ``tar`` of a ~300 MB tree and for ``vagrant box add`` of the result.
TAR_TIMEOUT_S: Final = 600.0
BOX_ADD_TIMEOUT_S: Final = 600.0


def box_name(release: Release) -> str:
    """The name the box is added under: ``fks-infra/debian-bookworm`` (the Vagrantfile's rule)."""
    return f"fks-infra/{release.distro}-{release.suite}"


def vagrant_home(env: dict[str, str] | None = None) -> Path:
    """Vagrant's data directory: ``$VAGRANT_HOME``, else ``~/.vagrant.d``."""
    env = dict(os.environ) if env is None else env
    return Path(env.get("VAGRANT_HOME") or Path.home() / ".vagrant.d")


def installed_metadata(name: str, home: Path) -> Path:
    """Where ``vagrant box add`` unpacked the ``metadata.json`` of local box ``name``.

    A box added from a file has version ``0``; ``/`` in a name is stored as ``-VAGRANTSLASH-``.
    """
    return home / "boxes" / name.replace("/", "-VAGRANTSLASH-") / "0" / "lxc" / "metadata.json"


def installed_box_id(name: str, home: Path) -> str | None:
    """The ``fks_box_id`` of the installed box ``name``, or None when none (or a foreign one)."""
    try:
        data = json.loads(installed_metadata(name, home).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = data.get("fks_box_id") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def insecure_public_keys(patterns: Sequence[str] = INSECURE_KEY_GLOBS) -> str:
    """Vagrant's insecure public key line(s), from the installed Vagrant.

    Raises ``LabError`` when no Vagrant installation has one.
    """
    for pattern in patterns:
        files = sorted(glob.glob(pattern))
        if files:
            lines = [Path(path).read_text(encoding="ascii").strip() for path in files]
            return "\n".join(dict.fromkeys(line for line in lines if line)) + "\n"
    raise LabError(
        "no Vagrant insecure public key found (looked in "
        + ", ".join(patterns)
        + "); install vagrant (scripts/install-deps)"
    )


@dataclass(frozen=True)
class BoxInputs:
    """Everything that shapes a box; its hash names the build (``fks_box_id``)."""

    release: Release
    rootfs: Path
    apt_sources: str
    resolv_conf: str
    ca_bundle: str
    authorized_keys: str

    def box_id(self) -> str:
        """A 16-hex-digit hash of the inputs and :data:`BOX_FORMAT` (the rootfs by its cache
        name, which already hashes its release and packages)."""
        recipe = "\n\0".join(
            [str(BOX_FORMAT), str(self.release), self.rootfs.name, self.apt_sources,
             self.resolv_conf, self.ca_bundle, self.authorized_keys]
        )  # fmt: skip
        return hashlib.sha256(recipe.encode()).hexdigest()[:16]


def box_inputs(release: Release, rootfs: Path) -> BoxInputs:
    """The inputs of ``release``'s box on this machine (mirror, resolvers, CA bundle, key)."""
    mirrors = system_mirrors(release.suite)
    return BoxInputs(
        release=release,
        rootfs=rootfs,
        apt_sources=apt_sources(mirrors, release.suite),
        resolv_conf=guest_resolv_conf(),
        ca_bundle=CA_BUNDLE.read_text(encoding="utf-8"),
        authorized_keys=insecure_public_keys(),
    )


def _add_vagrant_parts(root: Path, inputs: BoxInputs) -> None:
    """Turn the lab's base tree at ``root`` (an overlay) into a Vagrant base box's tree."""
    # A container is no cached lab rootfs: nothing may take it for one (rootfs.purge_cache).
    (root / MARKER).unlink()
    subprocess.run(
        ["chroot", str(root), "useradd", "--create-home", "--user-group",
         "--shell", "/bin/bash", VAGRANT_USER],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    sudoers = f"{VAGRANT_USER} ALL=(ALL:ALL) NOPASSWD: ALL\n"
    write_guest_file(root, f"/etc/sudoers.d/{VAGRANT_USER}", sudoers, 0o440)
    home = root / "home" / VAGRANT_USER
    (home / ".ssh").mkdir(mode=0o700, exist_ok=True)
    write_guest_file(
        root, f"/home/{VAGRANT_USER}/.ssh/authorized_keys", inputs.authorized_keys, 0o600
    )
    subprocess.run(
        ["chroot", str(root), "chown", "-R", f"{VAGRANT_USER}:{VAGRANT_USER}",
         f"/home/{VAGRANT_USER}/.ssh"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    write_guest_file(root, f"/etc/systemd/system/{HOST_KEYS_UNIT_NAME}", HOST_KEYS_UNIT)
    wants = root / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    (wants / HOST_KEYS_UNIT_NAME).symlink_to(f"/etc/systemd/system/{HOST_KEYS_UNIT_NAME}")
    write_guest_file(root, f"/etc/systemd/system/{IFUP_UNIT_NAME}", IFUP_UNIT)
    write_guest_file(
        root, "/etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
    )
    inherit_control_machine(
        root,
        resolv_conf=inputs.resolv_conf,
        debian_sources=inputs.apt_sources,
        ca_bundle=inputs.ca_bundle,
        logins=("root", VAGRANT_USER),
    )


def box_metadata(inputs: BoxInputs) -> dict[str, object]:
    """The box's ``metadata.json``: vagrant-lxc's format ``1.0.0``, the rootfs tarball
    entries below ``./`` (one component to strip), and the build's ``fks_box_id``."""
    return {
        "provider": "lxc",
        "version": "1.0.0",
        "template-opts": {"--strip-components": "1"},
        "fks_box_id": inputs.box_id(),
        "fks_release": str(inputs.release),
    }


def _run(args: Sequence[str], timeout: float, what: str) -> None:
    try:
        done = subprocess.run(
            list(args), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"{what} did not finish within {timeout:.0f}s") from exc
    if done.returncode != 0:
        raise LabError(f"{what} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")


def build_box(inputs: BoxInputs, work: Path) -> Path:
    """Write the box file for ``inputs`` below ``work`` and return its path.

    The rootfs is an overlay over the cached tree, so the cache is never written;
    ``work`` is removed by the caller.
    """
    upper, layer, merged = work / "upper", work / "work", work / "root"
    mount_overlay(inputs.rootfs, upper, layer, merged)
    try:
        _add_vagrant_parts(merged, inputs)
        _run(
            ["tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "-I", "gzip -1",
             "-C", str(merged), "-cf", str(work / "rootfs.tar.gz"), "."],
            TAR_TIMEOUT_S, f"tar of the {inputs.release} box's rootfs",
        )  # fmt: skip
    finally:
        remove_tree(merged)
    (work / "metadata.json").write_text(json.dumps(box_metadata(inputs), indent=2) + "\n")
    (work / "lxc-config").write_text(LXC_CONFIG, encoding="ascii")
    box = work / "box.tar"
    with tarfile.open(box, "w") as archive:
        for member in ("metadata.json", "lxc-config", "rootfs.tar.gz"):
            archive.add(work / member, arcname=member)
    (work / "rootfs.tar.gz").unlink()
    return box


def ensure_box(release: Release, report: Report, env: dict[str, str] | None = None) -> bool:
    """Make ``box_name(release)`` the current box for this machine; return whether it built one.

    The lab's cached rootfs is built first if missing (about a minute). Raises
    ``LabError`` when a build step or ``vagrant box add`` fails.
    """
    cache = cache_dir()
    rootfs, _ = ensure_rootfs(release, system_mirrors(release.suite), cache)
    inputs = box_inputs(release, rootfs)
    name = box_name(release)
    env = dict(os.environ) if env is None else env
    if installed_box_id(name, vagrant_home(env)) == inputs.box_id():
        return False
    report(f"building Vagrant box {name} ({inputs.box_id()}) from {rootfs}")
    work = cache / "vagrant-boxes" / f".tmp-{inputs.box_id()}-{os.getpid()}"
    remove_tree(work)
    work.mkdir(parents=True)
    try:
        box = build_box(inputs, work)
        try:
            done = subprocess.run(
                ["vagrant", "box", "add", "--force", "--name", name, str(box)],
                capture_output=True, text=True, timeout=BOX_ADD_TIMEOUT_S, check=False, env=env,
            )  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            raise LabError(f"vagrant box add {name} took over {BOX_ADD_TIMEOUT_S:.0f}s") from exc
        if done.returncode != 0:
            raise LabError(f"vagrant box add {name} failed: {done.stderr.strip()[-2000:]}")
    finally:
        remove_tree(work)
    return True
