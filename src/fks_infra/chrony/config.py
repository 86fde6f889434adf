"""Time: chrony's config and, where it may not set the clock, its unit drop-in.

No pyinfra import.
"""

from __future__ import annotations

from fks_infra.settings import HostSettings
from fks_infra.templating import render

CONFIG = "/etc/chrony/chrony.conf"
CONFIG_TEMPLATE = "etc/chrony/chrony.conf.j2"
#: Only present where ``fks_time_adjust_clock`` is False.
DROP_IN = "/etc/systemd/system/chrony.service.d/fks-infra.conf"
DROP_IN_TEMPLATE = "etc/systemd/system/chrony.service.d/fks-infra.conf.j2"


def render_chrony(settings: HostSettings) -> str:
    return render(
        CONFIG_TEMPLATE,
        {
            "pools": settings.fks_ntp_pools,
            "servers": settings.fks_ntp_servers,
            "adjust_clock": settings.fks_time_adjust_clock,
        },
    )


def render_drop_in() -> str:
    return render(DROP_IN_TEMPLATE, {})
