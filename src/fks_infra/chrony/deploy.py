"""Time: chrony from the configured NTP sources."""

from __future__ import annotations

from pyinfra.api.deploy import deploy

from fks_infra.chrony import config as chrony
from fks_infra.operations.apt import packages
from fks_infra.operations.checked import checked_files
from fks_infra.operations.files import daemon_files
from fks_infra.plan import HostPlan


@deploy("Time")
def configure_time(plan: HostPlan) -> None:
    """chrony, from the configured NTP sources; measuring only where it may not set the clock."""
    packages(name="Install chrony", names=["chrony"])
    # Where it may not set the clock (no CAP_SYS_TIME) a drop-in runs chronyd measuring only.
    drop_in = None if plan.settings.fks_time_adjust_clock else chrony.render_drop_in().encode()
    daemon_files(
        name=f"Render {chrony.DROP_IN} (restart chrony when it changed)",
        unit="chrony.service",
        files=[(chrony.DROP_IN, drop_in, "644")],
    )
    checked_files(
        name=f"Render {chrony.CONFIG}",
        label="chrony",
        files={chrony.CONFIG: chrony.render_chrony(plan.settings)},
        check="chronyd -p -f {candidate}" + chrony.CONFIG + " > /dev/null",
        activate="systemctl restart chrony.service",
    )
