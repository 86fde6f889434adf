"""systemd units kept running and enabled, read in one batched fact."""

from __future__ import annotations

from collections.abc import Generator, Sequence

from fks_infra.operations.commands import argv
from fks_infra.operations.factcache import host_operation, unit_state


@host_operation
def service_state(
    units: Sequence[str], running: bool | None = True, enabled: bool | None = True
) -> Generator[object, None, None]:
    """Start and enable those of some systemd services that are not so already.

    + units: service units; one ``systemctl enable`` and one ``systemctl start`` for all
      that need it
    + running: start each unless it is active (a failed one after ``systemctl reset-failed``);
      ``None`` leaves them as they are
    + enabled: enable each unless its unit file is enabled; ``None`` leaves them as they are

    The states of the units fks-infra manages come from one read per host, shared by every
    ``service_state`` of the run; pyinfra's ``systemd.service`` reads two facts per unit.
    """
    yield from service_state_commands(units, running, enabled)


def service_state_commands(
    units: Sequence[str], running: bool | None, enabled: bool | None
) -> Generator[object, None, None]:
    """``service_state``'s commands, for operations that also keep units running."""
    if not (running or enabled):
        return  # nothing wanted of the units: nothing to read either
    states = {unit: unit_state(unit) for unit in units}
    disabled = [unit for unit, state in states.items() if state.get("enabled") != "enabled"]
    stopped = [
        unit for unit, state in states.items() if state.get("active") not in ("active", "reloading")
    ]
    # A unit that gave up (its start limit hit while, say, a password was being rotated) is
    # refused a start until its failure is reset (systemd.unit(5), StartLimitIntervalSec=).
    failed = [unit for unit in stopped if states[unit].get("active") == "failed"]
    if enabled and disabled:
        yield argv("systemctl", "enable", *disabled)
    if running and failed:
        yield argv("systemctl", "reset-failed", *failed)
    if running and stopped:
        yield argv("systemctl", "start", *stopped)
