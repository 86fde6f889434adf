"""The base root filesystem every lab host boots from: built once, cached, never half-built.

debootstrap takes about a minute, so the result is cached per release and package
list. The build runs in a temporary directory that is renamed into place only
when complete (rename is atomic on one filesystem): an interrupted build leaves
a ``.tmp-*`` directory that the next build removes, never a rootfs that looks done.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fks_infra.lab.errors import LabError
from fks_infra.lab.mirror import Mirrors
from fks_infra.lab.mounts import remove_tree
from fks_infra.lab.spec import Release

#: What a fresh Debian cloud VM has that pyinfra, testinfra and the deploys rely on.
BASE_PACKAGES: tuple[str, ...] = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "libpam-systemd",
    "openssh-server",
    "python3",
    "sudo",
    "ca-certificates",
    "curl",
    "iproute2",
    "iputils-ping",
    "procps",
    "less",
    "gnupg",
    "netbase",
    "lsb-release",
    "cron",
    "logrotate",
    "tzdata",
)

#: Bump when the build's post-processing changes, so old caches are not reused.
BUILD_FORMAT = 2

#: The lab's operators, as a cloud image's default user: a login with passwordless sudo.
#: The lab logs in as the first (``inventory/lab.py``); a second lets tests deploy as two
#: operators in turn. Their ``authorized_keys`` come per lab (``guest.prepare_guest``).
OPERATORS: tuple[str, ...] = ("deploy", "ops")
#: Every user the lab key logs in as: root (until a deploy refuses it) and the operators.
LOGINS: tuple[str, ...] = ("root", *OPERATORS)
SUDOERS = "/etc/sudoers.d/90-fks-lab-operators"

#: Written last into a finished rootfs; only trees carrying it are reused or purged.
MARKER = ".fks-lab-rootfs"

BUILD_TIMEOUT_S = 1200


def rootfs_id(release: Release, packages: tuple[str, ...] = BASE_PACKAGES) -> str:
    """The cache entry name: release plus a hash of everything that shapes the tree."""
    recipe = "\n".join([str(BUILD_FORMAT), str(release), *sorted(packages), *OPERATORS])
    digest = hashlib.sha256(recipe.encode()).hexdigest()[:12]
    return f"{release.distro}-{release.suite}-{digest}"


def is_complete(path: Path) -> bool:
    """Whether ``path`` is a finished, cached rootfs."""
    return (path / MARKER).is_file()


@contextmanager
def _build_lock(cache: Path) -> Iterator[None]:
    """Serialise builds so two ``lab up`` runs never debootstrap into the same cache."""
    with open(cache / ".lock", "w", encoding="ascii") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _make_generic(root: Path) -> None:
    """Remove per-machine identity, which each host gets fresh in its own overlay."""
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (root / "etc/machine-id").write_text("", encoding="ascii")
    (root / "etc/hostname").unlink(missing_ok=True)
    for deb in (root / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()


def _add_operators(root: Path) -> None:
    """Create ``OPERATORS`` in the tree at ``root``, each with passwordless sudo."""
    for name in OPERATORS:
        subprocess.run(
            ["chroot", str(root), "useradd", "--create-home", "--user-group",
             "--shell", "/bin/bash", name],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
    sudoers = root / SUDOERS.lstrip("/")
    sudoers.write_text(
        "# fks-infra lab: the operators' logins, as a cloud image's default user\n"
        + "".join(f"{name} ALL=(ALL:ALL) NOPASSWD: ALL\n" for name in OPERATORS),
        encoding="ascii",
    )
    sudoers.chmod(0o440)


def _debootstrap(release: Release, mirrors: Mirrors, target: Path, debs: Path, log: Path) -> None:
    args = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(BASE_PACKAGES)}",
        f"--cache-dir={debs}",
        release.suite,
        str(target),
        mirrors.archive,
    ]
    with open(log, "w", encoding="utf-8") as out:
        try:
            done = subprocess.run(
                args, stdout=out, stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise LabError(f"debootstrap ran longer than {BUILD_TIMEOUT_S}s; see {log}") from exc
    if done.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        raise LabError(
            f"debootstrap failed (exit {done.returncode}); last lines of {log}:\n" + "\n".join(tail)
        )


def ensure_rootfs(release: Release, mirrors: Mirrors, cache: Path) -> tuple[Path, bool]:
    """The cached rootfs for ``release``, building it first if needed.

    Returns the path and whether this call built it.
    """
    final = cache / rootfs_id(release)
    if is_complete(final):
        return final, False
    cache.mkdir(parents=True, exist_ok=True)
    with _build_lock(cache):
        if is_complete(final):
            return final, False
        for stale in cache.glob(".tmp-*"):
            if stale.is_dir():
                remove_tree(stale)
        tmp = cache / f".tmp-{final.name}-{os.getpid()}"
        debs = cache / "debs"
        debs.mkdir(exist_ok=True)
        try:
            _debootstrap(release, mirrors, tmp, debs, cache / f"{final.name}.build.log")
            _make_generic(tmp)
            _add_operators(tmp)
            (tmp / MARKER).write_text(f"{release}\n", encoding="ascii")
        except BaseException:
            remove_tree(tmp)
            raise
        remove_tree(final)
        os.rename(tmp, final)
    return final, True


def purge_cache(cache: Path) -> list[Path]:
    """Remove every cached rootfs (only directories the lab marked as its own)."""
    removed = []
    if cache.is_dir():
        for entry in sorted(cache.iterdir()):
            if entry.is_dir() and (is_complete(entry) or entry.name.startswith(".tmp-")):
                remove_tree(entry)
                removed.append(entry)
        remove_tree(cache / "debs")
    return removed
