"""The ``cis`` host option: a lab host with the defaults CIS-hardened fleets give theirs.

The CIS Debian Linux benchmarks' file-creation and temporary-directory items, as the
benchmark remediates them (item titles of the Debian 12 benchmark; the audits read from
the published CIS 5.4.4 text "Ensure default user umask is 027 or more restrictive" and its
Ubuntu/Debian equivalents):

- "Ensure default user umask is configured" (027): ``UMASK 027`` in ``/etc/login.defs``,
  ``pam_umask`` in PAM's session stacks so that value applies to SSH sessions and sudo
  (Debian 12 ignores ``login.defs``' UMASK without it; Debian 13 enables it, with
  ``usergroups``, which would turn 027 into 007 for a user in their own group:
  ``nousergroups`` keeps 027), and ``umask 027`` in ``/etc/profile.d`` for login shells;
- sudo's own umask, ``Defaults umask=0027`` (sudo then runs commands with the union of the
  caller's umask and 0027);
- "Ensure nodev, nosuid, noexec options set on /tmp, /var/tmp, /dev/shm".

nspawn mounts ``/tmp`` and ``/dev/shm`` itself before the guest's ``fstab`` is read, so a
boot-time unit (``MOUNTS_UNIT``) gives them, and a tmpfs on ``/var/tmp``, the options a CIS
host's fstab lines give them. Every write lands in the host's overlay, never in the cached
base tree.
"""

from __future__ import annotations

import re
from pathlib import Path

from fks_infra.lab.guest import write_guest_file

#: The benchmark's umask for logins and sudo.
UMASK = "027"
LOGIN_DEFS = "/etc/login.defs"
#: PAM's session stacks: SSH logins (``common-session``) and sudo
#: (``common-session-noninteractive``).
PAM_SESSIONS = ("/etc/pam.d/common-session", "/etc/pam.d/common-session-noninteractive")
PAM_UMASK = "session optional\tpam_umask.so nousergroups"
PROFILE_UMASK = "/etc/profile.d/fks-lab-cis-umask.sh"
#: No dot in the name: sudo skips files in sudoers.d whose name holds one.
SUDOERS_UMASK = "/etc/sudoers.d/fks-lab-cis-umask"
#: The temporary directories the benchmark mounts nodev,nosuid,noexec.
TEMPORARY_DIRECTORIES = ("/tmp", "/var/tmp", "/dev/shm")
MOUNT_OPTIONS = "nodev,nosuid,noexec"
MOUNTS_UNIT = "/etc/systemd/system/fks-lab-cis-mounts.service"
_MOUNTS_WANTED = "/etc/systemd/system/local-fs.target.wants/fks-lab-cis-mounts.service"

_UMASK_LINE = re.compile(r"^#?[ \t]*UMASK[ \t].*$", re.MULTILINE)


def login_defs(text: str) -> str:
    """``/etc/login.defs`` text with its ``UMASK`` line set to ``UMASK`` (added if none)."""
    if _UMASK_LINE.search(text):
        return _UMASK_LINE.sub(f"UMASK\t\t{UMASK}", text, count=1)
    return text.rstrip("\n") + f"\nUMASK\t\t{UMASK}\n"


def pam_session(text: str) -> str:
    """A PAM session stack with one ``pam_umask`` line (``PAM_UMASK``), the last."""
    lines = [line for line in text.splitlines() if "pam_umask.so" not in line]
    return "\n".join([*lines, PAM_UMASK]) + "\n"


def mounts_unit() -> str:
    """The unit giving ``TEMPORARY_DIRECTORIES`` ``MOUNT_OPTIONS`` at boot, as fstab would."""
    script = (
        f"for d in {' '.join(TEMPORARY_DIRECTORIES)}; do "
        f'mountpoint -q "$d" || mount -t tmpfs -o mode=1777,{MOUNT_OPTIONS} tmpfs "$d"; '
        f'mount -o remount,{MOUNT_OPTIONS} "$d" || exit 1; done'
    )
    return (
        "# fks-infra lab, host option cis: see fks_infra/lab/cis.py\n"
        "[Unit]\n"
        f"Description=CIS: {', '.join(TEMPORARY_DIRECTORIES)} mounted {MOUNT_OPTIONS}\n"
        "DefaultDependencies=no\n"
        "After=tmp.mount\n"
        "Before=local-fs.target\n\n"
        "[Service]\n"
        "Type=oneshot\n"
        "RemainAfterExit=yes\n"
        f"ExecStart=/bin/sh -c '{script}'\n\n"
        "[Install]\n"
        "WantedBy=local-fs.target\n"
    )


def harden(root: Path) -> None:
    """Apply the CIS items of the module docstring to the host tree at ``root``."""
    defs = root / LOGIN_DEFS.lstrip("/")
    write_guest_file(root, LOGIN_DEFS, login_defs(defs.read_text(encoding="utf-8")))
    for stack in PAM_SESSIONS:
        text = (root / stack.lstrip("/")).read_text(encoding="utf-8")
        write_guest_file(root, stack, pam_session(text))
    write_guest_file(root, PROFILE_UMASK, f"# fks-infra lab, host option cis\numask {UMASK}\n")
    write_guest_file(
        root, SUDOERS_UMASK, f"# fks-infra lab, host option cis\nDefaults umask=0{UMASK}\n", 0o440
    )
    write_guest_file(root, MOUNTS_UNIT, mounts_unit())
    wanted = root / _MOUNTS_WANTED.lstrip("/")
    wanted.parent.mkdir(parents=True, exist_ok=True)
    wanted.unlink(missing_ok=True)
    wanted.symlink_to(MOUNTS_UNIT)
