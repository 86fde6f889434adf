"""The host table ``lab up`` and ``lab status`` print."""

from __future__ import annotations

from fks_infra.lab.state import LabState
from fks_infra.tables import text_table

HEADERS = ("NAME", "ROLES", "RELEASE", "ADDRESS", "STATE")


def host_table(state: LabState, live: dict[str, str]) -> str:
    """Aligned columns: name, roles, release (with its host options: ``debian:trixie+cis``),
    address and the live state of every host."""
    rows = [
        (
            host.name,
            "+".join(host.roles),
            host.release + "".join(f"+{option}" for option in host.options),
            host.address,
            live.get(host.name, "unknown"),
        )
        for host in state.hosts
    ]
    return text_table(HEADERS, rows, rule=False)
