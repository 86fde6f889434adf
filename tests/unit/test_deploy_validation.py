"""A deploy run validates the whole inventory before its first operation.

Runs the real pyinfra CLI against the ``@local`` connector (no network), in a copy of the
project, and compares its message with ``fks-infra check``'s.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(tool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / tool), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )


def test_pyinfra_deploy_stops_before_any_operation_with_check_s_message(tmp_path: Path) -> None:
    for folder in ("group_data", "deploy"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory/bad.py").write_text(
        'core = [("@local", {"fks_services_skip": ["web"], "fks_port_overrides": {"api": 80}})]\n'
    )
    check = run("fks-infra", "check", "inventory/bad.py", cwd=tmp_path)
    deploy = run("pyinfra", "-y", "inventory/bad.py", "deploy/all.py", cwd=tmp_path)

    assert check.returncode == 2
    problems = [line for line in check.stderr.splitlines() if line.startswith("  - ")]
    assert problems == [
        "  - inventory/bad.py: host @local: fks_port_overrides: api is on port 80, outside the "
        "cpu_core range 8000-8013",
        "  - inventory/bad.py: host @local: fks_port_overrides: api is on port 80, which is "
        "reserved for nginx (http)",
    ]
    assert deploy.returncode != 0
    for line in problems:
        assert line in deploy.stderr
    assert "Traceback" not in deploy.stderr
    # pyinfra's phases: the run ended in "Preparing operation files" (loading deploy/all.py),
    # so it never reached the phase that executes operations.
    phases = [line for line in deploy.stderr.splitlines() if line.startswith("--> ")]
    assert phases[-3:-1] == ["--> Preparing operation files...", "--> Disconnecting from hosts..."]


# Each bad input of test_cli.py, on the @local connector (no network): pyinfra must stop in
# the deploy file with the same problem check prints, before any operation, no traceback.
LOCAL_BAD_INPUTS = {
    "duplicate port via an override": (
        'core = [("@local", {"fks_port_overrides": {"api": 8002}})]',
        "fks_port_overrides: port 8002 is used by both api and app",
    ),
    "port out of range": (
        'core = [("@local", {"fks_port_overrides": {"api": 8099}})]',
        "api is on port 8099, outside the cpu_core range 8000-8013",
    ),
    "group mixture that places nothing": (
        'cores = [("@local", {})]',
        "host is in no role group (its groups: cores, bad, @local); roles are core, gpu, bridge",
    ),
    "unknown fks key": (
        'core = [("@local", {"fks_service_skip": ["web"]})]',
        "fks_service_skip: unknown setting; did you mean fks_services_skip?",
    ),
    "host data of the wrong type": (
        'core = [("@local", {"fks_services_extra": 7})]',
        "fks_services_extra: Input should be a valid tuple (got 7)",
    ),
    # Issue #15: values that would reach an ssh_config, a unit or a shell unchecked.
    "ssh_hostname carrying a ProxyCommand": (
        'core = [("@local", {"ssh_hostname": "127.0.0.1\\nProxyCommand id"})]',
        "host @local: ssh_hostname: holds the unprintable character U+000A at position 9",
    ),
    "MT5 bridge URL with shell syntax": (
        """core = [("@local", {"fks_mt5_bridge_url": "http://192.0.2.200:18080/'$(id)'"})]""",
        "host @local: fks_mt5_bridge_url: a URL here may hold letters, digits",
    ),
    "missing secret": (
        'core = [("@local", {"fks_secrets_file": "nowhere.toml"})]',
        "missing secret DJANGO_SECRET_KEY (needed by web): set FKS_SECRET_DJANGO_SECRET_KEY",
    ),
}


@pytest.mark.parametrize("case", LOCAL_BAD_INPUTS, ids=list(LOCAL_BAD_INPUTS))
def test_every_bad_inventory_stops_a_pyinfra_deploy_like_check(tmp_path: Path, case: str) -> None:
    for folder in ("group_data", "deploy"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    (tmp_path / "inventory").mkdir()
    inventory, expected = LOCAL_BAD_INPUTS[case]
    (tmp_path / "inventory/bad.py").write_text(inventory + "\n")
    check = run("fks-infra", "check", "inventory/bad.py", cwd=tmp_path)
    deploy = run("pyinfra", "-y", "inventory/bad.py", "deploy/all.py", cwd=tmp_path)
    assert check.returncode == 2 and expected in check.stderr
    assert deploy.returncode != 0 and expected in deploy.stderr
    assert "Traceback" not in deploy.stderr + deploy.stdout
