"""sshd hardening: one drop-in, rendered from a host's settings. No pyinfra import.

sshd keeps the *first* value it reads for a keyword, and Debian's ``sshd_config`` includes
``sshd_config.d/*.conf`` at its top in name order. The drop-in is named ``00-fks-infra.conf``
so that it is read before any other drop-in (cloud-init's ``50-cloud-init.conf`` may say
``PasswordAuthentication yes``) and its values win.
"""

from __future__ import annotations

from collections.abc import Mapping

from fks_infra.distro import Distro
from fks_infra.errors import Problem
from fks_infra.settings import HostSettings
from fks_infra.templating import render

DROP_IN = "/etc/ssh/sshd_config.d/00-fks-infra.conf"
DROP_IN_TEMPLATE = "etc/ssh/sshd_config.d/00-fks-infra.conf.j2"
MAIN_CONFIG = "/etc/ssh/sshd_config"


def permit_root_login(settings: HostSettings, login_user: str) -> str:
    """sshd's ``PermitRootLogin`` for a host the inventory logs into as ``login_user``.

    ``fks_ssh_permit_root_login`` when set; otherwise ``no`` where the inventory logs in as
    another user (it reaches root through sudo, so a root login is only an attack surface),
    and ``prohibit-password`` (keys only) where it logs in as root.
    """
    if settings.fks_ssh_permit_root_login is not None:
        return settings.fks_ssh_permit_root_login
    return "prohibit-password" if login_user == "root" else "no"


def sshd_problems(
    settings: HostSettings, login_user: str, source_of: Mapping[str, str]
) -> list[Problem]:
    """``PermitRootLogin no`` on a host the inventory logs into as root: the deploy would
    lock out every later run."""
    if settings.fks_ssh_permit_root_login == "no" and login_user == "root":
        key = "fks_ssh_permit_root_login"
        return [
            Problem(
                "'no' would refuse this inventory's own SSH login as root; log in as another "
                "user with _sudo, or leave the setting unset",
                source_of.get(key, ""),
                key=key,
            )
        ]
    return []


def render_sshd(settings: HostSettings, login_user: str) -> str:
    """The drop-in's text for a host the inventory logs into as ``login_user``."""
    return render(
        DROP_IN_TEMPLATE,
        {
            "permit_root_login": permit_root_login(settings, login_user),
            "max_auth_tries": settings.fks_ssh_max_auth_tries,
            "login_grace_time": settings.fks_ssh_login_grace_time,
            "client_alive_interval": settings.fks_ssh_client_alive_interval,
            "client_alive_count_max": settings.fks_ssh_client_alive_count_max,
            "max_sessions": settings.fks_ssh_max_sessions,
        },
    )


def candidate_check(candidate_drop_in: str) -> str:
    """Shell command that runs ``sshd -t`` on the host's whole config with a candidate drop-in.

    A wrapper reads the candidate first, then the live main config (with every live drop-in,
    including the old one of ours, whose values no longer count): the same precedence the
    drop-in will have once live.
    """
    wrapper = f"{candidate_drop_in}.sshd_config"
    return (
        f"printf 'Include %s\\nInclude %s\\n' {candidate_drop_in} {MAIN_CONFIG} > {wrapper} "
        f"&& sshd -t -f {wrapper}"
    )


def activate_command(distro: Distro) -> str:
    """How a changed drop-in takes effect on a host running ``distro``.

    Where OpenSSH is socket-activated (Ubuntu 24.04: ``ssh.socket`` owns the port and
    starts ``ssh.service`` on the first connection), the daemon may not be running: it is
    reloaded only if it is, and the next connection starts it with the new config. The
    drop-in changes no ``Port``, so ``ssh.socket`` itself stays as it is.
    """
    if distro.ssh_socket:
        return "systemctl try-reload-or-restart ssh.service"
    return "systemctl reload ssh.service"
