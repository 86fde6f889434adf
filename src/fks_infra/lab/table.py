"""The host table ``lab up`` and ``lab status`` print."""

from __future__ import annotations

from fks_infra.lab.state import LabState

HEADERS = ("NAME", "ROLES", "ADDRESS", "STATE")


def host_table(state: LabState, live: dict[str, str]) -> str:
    """Aligned columns: name, roles, address and the live state of every host."""
    rows = [HEADERS] + [
        (host.name, "+".join(host.roles), host.address, live.get(host.name, "unknown"))
        for host in state.hosts
    ]
    widths = [max(len(row[col]) for row in rows) for col in range(len(HEADERS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
