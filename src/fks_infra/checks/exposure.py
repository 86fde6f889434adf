"""The exposure ``systemd-analyze security`` gives each FKS unit: checked, and shown by verify.

Each service unit and companion unit is held to the limit of its sandbox profile
(``services.units.MAX_EXPOSURE``: plain 1.5, ml more, since it re-allows
``sched_setaffinity`` and ``AF_NETLINK``). Passing checks print nothing under ``-q``, so the
level of every unit measured is listed once more at the end of ``fks-infra verify``'s output,
under "systemd-analyze security exposure", one line ``<host>/<unit>: <level> (<profile>, at
most <limit>)`` each, and kept on the test as the property ``exposure`` (``--junitxml``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from fks_infra.catalogue import Sandbox
from fks_infra.checks.fleet import connect
from fks_infra.services.units import MAX_EXPOSURE

#: The summary line of ``systemd-analyze security UNIT`` (systemd 252 and later).
_OVERALL = re.compile(r"Overall exposure level for \S+: (\d+\.\d+)")


@dataclass(frozen=True, order=True)
class Exposure:
    """One unit's level on one host: 0.0 (safe) to 10.0 (unsafe), as systemd rates it."""

    host: str
    unit: str
    sandbox: Sandbox
    level: float
    #: the end of systemd-analyze's table, for an assertion message
    output: str = field(default="", compare=False, repr=False)

    @property
    def limit(self) -> float:
        return MAX_EXPOSURE[self.sandbox]

    def line(self) -> str:
        return f"{self.host}/{self.unit}: {self.level:.1f} ({self.sandbox}, at most {self.limit})"


def measure(request: pytest.FixtureRequest, host: str, unit: str, sandbox: Sandbox) -> Exposure:
    """Ask ``host`` for the exposure of ``unit``, and list it in verify's summary.

    Raises AssertionError (the test fails) when systemd-analyze prints no level.
    """
    result = connect(host).run(f"systemd-analyze security --no-pager {unit}")
    output = f"{result.stdout}{result.stderr}"
    found = _OVERALL.search(output)
    assert found, f"systemd-analyze security {unit} on {host} gave no level:\n{output[-500:]}"
    exposure = Exposure(host, unit, sandbox, float(found.group(1)), output[-2000:])
    request.node.user_properties.append(("exposure", exposure.level))
    _summary(request.config).measured.append(exposure)
    return exposure


class ExposureSummary:
    """A pytest plugin, registered by the first ``measure``: the levels after the results."""

    name = "fks-infra-exposure"

    def __init__(self) -> None:
        self.measured: list[Exposure] = []

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        terminalreporter.write_sep(
            "=", "systemd-analyze security exposure, from 0.0 (safe) to 10.0 (unsafe)"
        )
        for exposure in sorted(self.measured):
            over = exposure.level > exposure.limit
            terminalreporter.write_line(exposure.line() + (": TOO HIGH" if over else ""), red=over)


def _summary(config: pytest.Config) -> ExposureSummary:
    plugin = config.pluginmanager.get_plugin(ExposureSummary.name)
    if not isinstance(plugin, ExposureSummary):
        plugin = ExposureSummary()
        config.pluginmanager.register(plugin, ExposureSummary.name)
    return plugin
