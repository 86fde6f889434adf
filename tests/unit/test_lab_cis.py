"""The ``cis`` host option's files, written into a tree as ``lab up`` writes a host's overlay.

That they take effect on a booted host (login umask, sudo's umask, mount options) is proved
in the lab (tests/lab/test_cis_host.py); here: what is written, and that sudo accepts it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from fks_infra.lab import cis

#: Debian 12's session stack (no pam_umask) and Debian 13's (pam_umask, usergroups built in).
BOOKWORM_SESSION = (
    "session\t[default=1]\t\t\tpam_permit.so\nsession\trequisite\t\t\tpam_deny.so\n"
    "session\trequired\tpam_unix.so \nsession\toptional\tpam_systemd.so \n"
)
TRIXIE_SESSION = BOOKWORM_SESSION.replace(
    "session\trequired\tpam_unix.so",
    "session optional\t\t\tpam_umask.so\nsession\trequired\tpam_unix.so",
)


def tree(tmp_path: Path, login_defs: str, session: str) -> Path:
    for path, text in [
        (cis.LOGIN_DEFS, login_defs),
        *((stack, session) for stack in cis.PAM_SESSIONS),
    ]:
        target = tmp_path / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return tmp_path


def read(root: Path, path: str) -> str:
    return (root / path.lstrip("/")).read_text(encoding="utf-8")


@pytest.mark.parametrize("session", [BOOKWORM_SESSION, TRIXIE_SESSION])
def test_login_umask_is_027_in_login_defs_pam_and_profile(tmp_path: Path, session: str) -> None:
    root = tree(tmp_path, "MAIL_DIR /var/mail\n#UMASK 022\nUSERGROUPS_ENAB yes\n", session)
    cis.harden(root)
    assert read(root, cis.LOGIN_DEFS) == "MAIL_DIR /var/mail\nUMASK\t\t027\nUSERGROUPS_ENAB yes\n"
    for stack in cis.PAM_SESSIONS:
        lines = read(root, stack).splitlines()
        # One pam_umask, not Debian 13's usergroups one (which makes 027 into 007).
        assert [line for line in lines if "pam_umask" in line] == [cis.PAM_UMASK]
        assert "pam_unix.so" in read(root, stack)
    assert read(root, cis.PROFILE_UMASK).endswith("umask 027\n")


def test_a_login_defs_without_umask_gets_one(tmp_path: Path) -> None:
    root = tree(tmp_path, "USERGROUPS_ENAB yes", TRIXIE_SESSION)  # Debian 13 has no UMASK line
    cis.harden(root)
    assert read(root, cis.LOGIN_DEFS) == "USERGROUPS_ENAB yes\nUMASK\t\t027\n"


def test_sudo_umask_is_a_sudoers_drop_in_sudo_reads(tmp_path: Path) -> None:
    # That sudo applies it is proved on a booted host (tests/lab/test_cis_host.py).
    cis.harden(tree(tmp_path, "", BOOKWORM_SESSION))
    sudoers = tmp_path / cis.SUDOERS_UMASK.lstrip("/")
    assert "." not in sudoers.name  # sudo skips sudoers.d files with a dot in their name
    assert sudoers.stat().st_mode & 0o777 == 0o440
    assert sudoers.read_text(encoding="utf-8").splitlines()[-1] == "Defaults umask=0027"


def test_temporary_directories_are_mounted_nodev_nosuid_noexec_at_boot(tmp_path: Path) -> None:
    cis.harden(tree(tmp_path, "", BOOKWORM_SESSION))
    unit = read(tmp_path, cis.MOUNTS_UNIT)
    assert "for d in /tmp /var/tmp /dev/shm; do" in unit
    assert 'mount -o remount,nodev,nosuid,noexec "$d"' in unit
    wanted = tmp_path / "etc/systemd/system/local-fs.target.wants" / Path(cis.MOUNTS_UNIT).name
    assert wanted.is_symlink() and str(wanted.readlink()) == cis.MOUNTS_UNIT
    # The script is what sh runs: a syntax error would leave the defaults in place.
    script = unit.split("ExecStart=/bin/sh -c '", 1)[1].split("'\n", 1)[0]
    assert subprocess.run(["sh", "-n", "-c", script], check=False).returncode == 0


def test_hardening_twice_gives_the_same_tree(tmp_path: Path) -> None:
    root = tree(tmp_path, "UMASK 022\n", TRIXIE_SESSION)
    cis.harden(root)
    first = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    cis.harden(root)
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == first
