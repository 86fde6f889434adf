"""sshd: keys only, one drop-in checked by ``sshd -t``."""

from __future__ import annotations

from pyinfra.api.deploy import deploy

from fks_infra.distro import Distro
from fks_infra.operations.checked import checked_files
from fks_infra.plan import HostPlan
from fks_infra.sshd import config as sshd


@deploy("Harden sshd")
def harden_sshd(plan: HostPlan, distro: Distro) -> None:
    """Keys only, few attempts, short grace time: one drop-in, checked by ``sshd -t``."""
    checked_files(
        name=f"Render {sshd.DROP_IN}",
        label="sshd",
        files={sshd.DROP_IN: sshd.render_sshd(plan.settings, plan.login_user)},
        check=sshd.candidate_check("{candidate}" + sshd.DROP_IN),
        activate=sshd.activate_command(distro),
    )
