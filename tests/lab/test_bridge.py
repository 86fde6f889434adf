"""End to end on the lab: the bridge checks against a stand-in for the Windows side.

The lab has no Windows desktop. This test starts one on bridge-1 -- two loopback
``python3 -m http.server``s in transient systemd units (one for NinjaTrader's TCP port, one
for the MT5 HTTP bridge) -- deploys with the endpoints pointed at them (pyinfra ``--data``),
runs the bridge checks with ``fks-infra verify``, then stops the stand-in and shows the
failure message. The lab is deployed plainly again at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest
from deploying import INVENTORY, Run, deploy, fks_infra

from fks_infra.lab.testing import Lab

pytestmark = pytest.mark.lab

HOST = "bridge-1"
UNITS = {"ninjatrader": "fks-standin-ninjatrader", "mt5": "fks-standin-mt5"}
FREE_PORT = (
    'python3 -c \'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); '
    "print(s.getsockname()[1])'"
)


def stand_in(lab: Lab, unit: str, port: int) -> None:
    done = lab.ssh(
        HOST,
        f"systemd-run --unit={unit} --property=DynamicUser=yes --collect "
        f"python3 -m http.server {port} --bind 127.0.0.1 --directory /usr/share/doc "
        f"&& for i in $(seq 50); do ss -Hltn 'sport = :{port}' | grep -q . && exit 0; "
        "sleep 0.1; done; exit 1",
    )
    assert done.returncode == 0, done.stderr


def stop(lab: Lab, unit: str) -> None:
    lab.ssh(HOST, f"systemctl stop {unit}.service 2>/dev/null; true")


@pytest.fixture
def endpoints(lab: Lab, deployed: Run) -> Iterator[list[str]]:
    """Stand-ins up on bridge-1, the bridges deployed against them; as --data items."""
    ports = {}
    for thing, unit in UNITS.items():
        ports[thing] = int(lab.ssh(HOST, FREE_PORT).stdout)
        stand_in(lab, unit, ports[thing])
    data = [
        "fks_ninjatrader_host=127.0.0.1",
        f"fks_ninjatrader_port={ports['ninjatrader']}",
        f"fks_mt5_bridge_url=http://127.0.0.1:{ports['mt5']}/",
        "fks_windows_endpoints_checked=true",
    ]
    try:
        pointed = deploy("--limit", HOST, *(arg for item in data for arg in ("--data", item)))
        assert pointed.returncode == 0, pointed.why()
        yield data
    finally:
        for unit in UNITS.values():
            stop(lab, unit)
        # Back to the plain lab inventory (env files with the lab's own endpoints).
        assert deploy("--limit", HOST).returncode == 0


def verify_bridge(data: list[str], report: Path) -> tuple[int, str, dict[str, str]]:
    """fks-infra verify of bridge-1's bridge checks: (exit code, output, {test id: outcome})."""
    done = fks_infra("verify", INVENTORY, "--limit", HOST, "--junitxml", str(report),
                     *(f"--data={item}" for item in data), "--", "-k", "test_bridge")  # fmt: skip
    outcomes = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        result = next(iter(case), None)
        outcomes[case.get("name", "")] = "passed" if result is None else result.tag
    return done.returncode, done.stdout + done.stderr, outcomes


def test_env_files_carry_the_stand_in_endpoints(lab: Lab, endpoints: list[str]) -> None:
    port = endpoints[1].split("=", 1)[1]
    ninja = lab.ssh(HOST, "cat /etc/fks/ninja.env").stdout
    assert 'NINJATRADER_HOST="127.0.0.1"' in ninja and f'NINJATRADER_PORT="{port}"' in ninja
    assert "MT5_BRIDGE_URL=" in lab.ssh(HOST, "cat /etc/fks/meta.env").stdout


def test_bridge_checks_pass_then_fail_clearly_without_the_windows_side(
    lab: Lab, endpoints: list[str], tmp_path: Path
) -> None:
    code, output, outcomes = verify_bridge(endpoints, tmp_path / "up.xml")
    assert code == 0, output[-3000:]
    assert outcomes["test_reachable[bridge-1/ninjatrader/reachable]"] == "passed", outcomes
    assert outcomes["test_reachable[bridge-1/mt5/reachable]"] == "passed", outcomes
    assert outcomes["test_http_answers[bridge-1/mt5/http_answers]"] == "passed", outcomes
    # No WinRM host in the lab: skipped, with its reason, never passed.
    assert outcomes["test_windows_side_over_winrm[bridge-1/mt5/windows_side_over_winrm]"] == (
        "skipped"
    )

    for unit in UNITS.values():
        stop(lab, unit)
    code, output, outcomes = verify_bridge(endpoints, tmp_path / "down.xml")
    print(output[-4000:])  # the operator's view of the failure (pytest -s shows it)
    assert code != 0
    assert outcomes["test_reachable[bridge-1/ninjatrader/reachable]"] == "failure"
    assert "ninjatrader at 127.0.0.1:" in output
    assert "does not accept TCP connections from bridge-1" in output
    assert "did not answer HTTP from bridge-1" in output


def test_plain_lab_verify_skips_the_windows_checks_saying_why(
    deployed: Run, tmp_path: Path
) -> None:
    report = tmp_path / "plain.xml"
    done = fks_infra("verify", INVENTORY, "--limit", HOST, "--junitxml", str(report),
                     "--", "-k", "test_bridge", "-rs")  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]
    assert "fks_windows_endpoints_checked is False for bridge-1" in done.stdout
