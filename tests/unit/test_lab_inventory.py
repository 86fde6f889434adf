"""The lab's pyinfra inventory: groups by role plus ``lab``, and a clean error with no lab."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from lab_samples import two_host_state

from fks_infra.catalogue import CATALOGUE
from fks_infra.lab.errors import LabError
from fks_infra.lab.inventory import LOGIN_ENV, groups_for, lab_groups
from fks_infra.lab.paths import LabPaths, repo_root


def test_hosts_sit_in_their_role_groups_and_in_lab() -> None:
    groups = groups_for(two_host_state())
    names = {group: [name for name, _ in hosts] for group, hosts in groups.items()}
    assert names == {
        "bridge": ["both-1"],
        "core": ["core-1"],
        "datastore": [],
        "gpu": ["both-1"],
        "lab": ["core-1", "both-1"],
    }


def test_connection_data_logs_in_as_an_operator_with_sudo_like_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(LOGIN_ENV, raising=False)
    data = dict(groups_for(two_host_state())["core"])["core-1"]
    assert data == {
        "ssh_hostname": "10.213.0.10",
        "ssh_user": "deploy",
        "_sudo": True,
        "ssh_key": "/repo/.lab/id_ed25519",
        "ssh_known_hosts_file": "/repo/.lab/known_hosts",
        "ssh_strict_host_key_checking": "yes",
        # Tests log in wrongly on purpose from the gateway: fail2ban must never ban it.
        "fks_fail2ban_ignore": ["10.213.0.1"],
        # Every service's egress probe aims at the stand-in outside endpoint on the gateway.
        "fks_service_environment": {
            name: {"FKS_DEMO_EGRESS_URL": "http://10.213.0.1:38090/"} for name in CATALOGUE.names
        },
        # The alert test waits for an alert: 10 s rather than the default minute.
        "fks_alert_for": "10s",
    }


def test_the_login_can_be_root_without_sudo_or_the_second_operator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(LOGIN_ENV, "root")
    data = dict(groups_for(two_host_state())["core"])["core-1"]
    assert (data["ssh_user"], "_sudo" in data) == ("root", False)
    monkeypatch.setenv(LOGIN_ENV, "ops")
    data = dict(groups_for(two_host_state())["core"])["core-1"]
    assert (data["ssh_user"], data["_sudo"]) == ("ops", True)


def test_a_login_the_lab_hosts_do_not_have_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOGIN_ENV, "mallory")
    with pytest.raises(LabError, match="lab hosts have the logins root, deploy, ops"):
        groups_for(two_host_state())


def test_no_lab_is_an_error_saying_how_to_start_one(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="run `fks-infra lab up`"):
        lab_groups(LabPaths(tmp_path))


def test_pyinfra_reports_a_missing_lab_in_one_line_without_traceback(tmp_path: Path) -> None:
    pyinfra_bin = Path(sys.executable).with_name("pyinfra")
    done = subprocess.run(
        [str(pyinfra_bin), "-y", str(repo_root() / "inventory" / "lab.py"), "exec", "--", "true"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "FKS_LAB_DIR": str(tmp_path)},
    )
    assert done.returncode != 0
    assert "no lab is up" in done.stderr and "fks-infra lab up" in done.stderr
    assert "Traceback" not in done.stderr
