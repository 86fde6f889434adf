"""sshd hardening: one drop-in, rendered from a host's settings. No pyinfra import.

sshd keeps the *first* value it reads for a keyword, and Debian's ``sshd_config`` includes
``sshd_config.d/*.conf`` at its top in name order. The drop-in is named ``00-fks-infra.conf``
so that it is read before any other drop-in (cloud-init's ``50-cloud-init.conf`` may say
``PasswordAuthentication yes``) and its values win.
"""

from __future__ import annotations

from fks_infra.settings import HostSettings
from fks_infra.templates import render

DROP_IN = "/etc/ssh/sshd_config.d/00-fks-infra.conf"
DROP_IN_TEMPLATE = "etc/ssh/sshd_config.d/00-fks-infra.conf.j2"
MAIN_CONFIG = "/etc/ssh/sshd_config"


def render_sshd(settings: HostSettings) -> str:
    return render(
        DROP_IN_TEMPLATE,
        {
            "permit_root_login": settings.fks_ssh_permit_root_login,
            "max_auth_tries": settings.fks_ssh_max_auth_tries,
            "login_grace_time": settings.fks_ssh_login_grace_time,
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
