"""The ``lab`` command group: errors are one line and exit 1, before anything is created."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from lab_samples import two_host_state

from fks_infra.lab.cli import lab
from fks_infra.lab.table import host_table


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("FKS_LAB_DIR", str(tmp_path))
    return CliRunner()


def test_bad_hosts_spec_is_refused_without_traceback(runner: CliRunner) -> None:
    result = runner.invoke(lab, ["up", "--hosts", "core-1:web"])
    assert result.exit_code == 1
    assert "Error: host 'core-1' has unknown role(s) 'web'" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", [["status"], ["ssh", "core-1"]])
def test_commands_needing_a_lab_say_how_to_start_one(runner: CliRunner, command: list[str]) -> None:
    result = runner.invoke(lab, command)
    assert result.exit_code == 1
    assert "no lab is up" in result.output and "fks-infra lab up" in result.output


def test_table_aligns_name_roles_addresstwo_host_state() -> None:
    table = host_table(two_host_state(), {"core-1": "running"})
    assert table.splitlines() == [
        "NAME    ROLES       ADDRESS      STATE",
        "core-1  core        10.213.0.10  running",
        "both-1  gpu+bridge  10.213.0.11  unknown",
    ]
