"""verify shows the exposure of every unit it measured, after the results, under ``-q``.

A real pytest run (pytester) of checks that measure through ``checks.exposure`` with the
host's answer recorded: passing checks print nothing under ``-q``, so the levels must come
from the summary section; a unit over its profile's limit fails and is marked.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

CHECKS = """
from types import SimpleNamespace

import pytest

from fks_infra.catalogue import Sandbox
from fks_infra.checks import exposure

LEVELS = {"fks-web.service": "1.0", "fks-ai.service": "1.3", "fks-bad.service": "1.9"}


class Host:
    def run(self, command):
        unit = command.split()[-1]
        text = f"→ Overall exposure level for {unit}: {LEVELS[unit]} OK :-)\\n"
        return SimpleNamespace(stdout=text, stderr="", rc=0)


@pytest.fixture(autouse=True)
def recorded_host(monkeypatch):
    monkeypatch.setattr(exposure, "connect", lambda name: Host())


@pytest.mark.parametrize(
    ("unit", "sandbox"),
    [("fks-web.service", Sandbox.PLAIN), ("fks-ai.service", Sandbox.ML),
     ("fks-bad.service", Sandbox.PLAIN)],
)
def test_hardening(request, unit, sandbox):
    found = exposure.measure(request, "core-1", unit, sandbox)
    assert found.level <= found.limit
"""


def test_levels_are_listed_after_the_results(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_checks=CHECKS)
    result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*= systemd-analyze security exposure, from 0.0 (safe) to 10.0 (unsafe) =*",
            "core-1/fks-ai.service: 1.3 (ml, at most 1.6)",
            "core-1/fks-bad.service: 1.9 (plain, at most 1.5): TOO HIGH",
            "core-1/fks-web.service: 1.0 (plain, at most 1.5)",
        ]
    )


def test_junit_keeps_each_level(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_checks=CHECKS)
    pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider", "--junitxml=report.xml")
    report = (pytester.path / "report.xml").read_text()
    assert '<property name="exposure" value="1.3" />' in report
