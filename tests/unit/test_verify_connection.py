"""How verify and status connect: exactly as pyinfra does, elevated as the deploy's commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from fks_infra.connections import elevation, remote_host, write_ssh_config

SUDO_HOST = {"ssh_hostname": "192.0.2.10", "ssh_user": "deploy", "_sudo": True}


def test_a_sudo_inventory_is_checked_through_sudo() -> None:
    assert elevation(SUDO_HOST) == {"sudo": True}
    assert elevation({**SUDO_HOST, "_sudo_user": "postgres"}) == {
        "sudo": True,
        "sudo_user": "postgres",
    }


def test_a_root_inventory_runs_its_checks_as_they_are() -> None:
    assert elevation({"ssh_user": "root"}) == {}
    assert elevation({"ssh_user": "root", "_sudo": False}) == {}


def test_the_testinfra_command_of_a_sudo_host_runs_through_sudo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """testinfra builds the command; no connection is made (its client is never opened)."""
    config = write_ssh_config(tmp_path / "ssh_config", [("core-1", SUDO_HOST)])
    monkeypatch.setattr("fks_infra.transport.set_nodelay", lambda sock: None)
    import testinfra.backend.paramiko as backend

    monkeypatch.setattr(backend.ParamikoBackend, "client", property(lambda self: _NoClient()))
    host = remote_host("core-1", SUDO_HOST, config)
    assert host.backend.get_command("nft list ruleset") == "sudo /bin/sh -c 'nft list ruleset'"
    assert "User deploy" in config.read_text()


class _NoClient:
    def get_transport(self) -> _NoClient:
        return self

    sock = None
