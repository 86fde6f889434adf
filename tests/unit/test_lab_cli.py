"""The ``lab`` command group: errors are one line and exit 1, before anything is created."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from lab_samples import two_host_state

from fks_infra.lab import lifecycle
from fks_infra.lab.cli import lab
from fks_infra.lab.state import save_state
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


def test_table_aligns_name_roles_release_address_and_state() -> None:
    table = host_table(two_host_state(), {"core-1": "running"})
    assert table.splitlines() == [
        "NAME    ROLES       RELEASE          ADDRESS      STATE",
        "core-1  core        debian:trixie    10.213.0.10  running",
        "both-1  gpu+bridge  debian:bookworm  10.213.0.11  unknown",
    ]


def test_table_shows_a_host_s_options_with_its_release() -> None:
    state = two_host_state()
    cis = state.hosts[0].model_copy(update={"options": ("cis",)})
    table = host_table(state.model_copy(update={"hosts": (cis, state.hosts[1])}), {})
    assert table.splitlines()[1].split()[:3] == ["core-1", "core", "debian:trixie+cis"]


def test_bad_release_of_one_host_is_refused_naming_the_host(runner: CliRunner) -> None:
    result = runner.invoke(lab, ["up", "--hosts", "core-1:core@trixie,gpu-1:gpu"])
    assert result.exit_code == 1
    assert "Error: host 'core-1': release 'trixie' is invalid" in result.output


def test_hosts_come_from_the_environment_when_not_given(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FKS_LAB_HOSTS", "core-1:core@debian:trixie,gpu-1:web")
    result = runner.invoke(lab, ["up"])
    assert result.exit_code == 1
    assert "host 'gpu-1' has unknown role(s) 'web'" in result.output


def test_status_names_the_releases_and_shows_them_per_host(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_state(tmp_path / "state.json", two_host_state())
    monkeypatch.setattr(
        lifecycle, "status_of", lambda state, paths: {h.name: "running" for h in state.hosts}
    )
    result = runner.invoke(lab, ["status"])
    assert result.exit_code == 0, result.output
    assert "network 10.213.0.0/24 (debian:trixie, debian:bookworm)" in result.output
    assert "core-1  core        debian:trixie    10.213.0.10  running" in result.output
