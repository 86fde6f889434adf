"""How verify and status connect: exactly as pyinfra does, elevated as the deploy's commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_sshd import client_key_file, fake_sshd

from fks_infra.connections import (
    HostKeyError,
    HostKeyPolicy,
    UnsafeSSHConfigValue,
    elevation,
    host_key_policy,
    remote_host,
    ssh_config,
    write_ssh_config,
)

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


# -- host keys: pyinfra's policy for the same data ---------------------------------------


def test_the_policy_is_pyinfras_default_accept_new_in_the_users_known_hosts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    policy = host_key_policy("core-1", {"ssh_hostname": "192.0.2.10"})
    assert policy == HostKeyPolicy("accept-new", tmp_path / ".ssh" / "known_hosts")
    assert policy.missing == "record"


@pytest.mark.parametrize(
    ("strict", "missing", "pyinfra_policy"),
    [
        ("yes", "refuse", "StrictPolicy"),
        ("accept-new", "record", "AcceptNewPolicy"),
        ("no", "warn", "WarningPolicy"),
        ("off", "warn", "WarningPolicy"),
        ("ask", "refuse", "AskPolicy"),  # pyinfra prompts; verify and status never do
    ],
)
def test_each_strict_value_does_what_pyinfra_does_with_a_new_key(
    tmp_path: Path, strict: str, missing: str, pyinfra_policy: str
) -> None:
    from pyinfra.connectors.sshuserclient.client import get_missing_host_key_policy

    data = {"ssh_strict_host_key_checking": strict, "ssh_known_hosts_file": "/x/known"}
    assert host_key_policy("core-1", data).missing == missing
    assert type(get_missing_host_key_policy(strict)).__name__ == pyinfra_policy


def test_a_strict_value_pyinfra_refuses_is_refused_naming_the_host() -> None:
    with pytest.raises(HostKeyError, match="core-1: ssh_strict_host_key_checking='maybe'"):
        host_key_policy("core-1", {"ssh_strict_host_key_checking": "maybe"})


def test_the_known_hosts_file_is_the_datas_then_the_ssh_configs_then_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "config").write_text(
        "Host 192.0.2.10\n    UserKnownHostsFile ~/fleet_hosts ~/other\n"
    )
    assert host_key_policy("core-1", {"ssh_hostname": "192.0.2.10"}).known_hosts == (
        tmp_path / "fleet_hosts"
    )
    assert host_key_policy("core-2", {"ssh_hostname": "192.0.2.11"}).known_hosts == (
        tmp_path / ".ssh" / "known_hosts"
    )
    data = {"ssh_hostname": "192.0.2.10", "ssh_known_hosts_file": "~/pinned"}
    assert host_key_policy("core-1", data).known_hosts == tmp_path / "pinned"
    other = tmp_path / "other_config"
    other.write_text("Host core-3\n    UserKnownHostsFile /etc/ssh/fleet\n")
    data = {"ssh_config_file": str(other)}
    assert host_key_policy("core-3", data).known_hosts == Path("/etc/ssh/fleet")


def _loopback(port: int, known_hosts: Path, key: str, strict: str) -> dict[str, object]:
    return {
        "ssh_hostname": "127.0.0.1",
        "ssh_port": port,
        "ssh_user": "deploy",
        "ssh_key": key,
        "ssh_known_hosts_file": str(known_hosts),
        "ssh_strict_host_key_checking": strict,
    }


def _run(tmp_path: Path, data: dict[str, object]) -> object:
    config = write_ssh_config(tmp_path / "ssh_config", [("core-1", data)])
    return remote_host("core-1", data, config, timeout=5).run("true")


def test_strict_yes_refuses_an_unknown_key_naming_host_and_file(tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    with fake_sshd() as server:
        data = _loopback(server.port, known, client_key_file(str(tmp_path)), "yes")
        with pytest.raises(HostKeyError) as refused:
            _run(tmp_path, data)
    message = str(refused.value)
    assert message.startswith(f"core-1 ([127.0.0.1]:{server.port}): no host key")
    assert str(known) in message and server.key.fingerprint in message
    assert server.commands == []  # nothing ran on it


def test_accept_new_records_a_new_key_then_refuses_a_changed_one(tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    key = client_key_file(str(tmp_path))
    with fake_sshd() as first:
        data = _loopback(first.port, known, key, "accept-new")
        assert _run(tmp_path, data).rc == 0  # type: ignore[attr-defined]
        assert first.commands == ["true"]
    recorded = known.read_text().split()
    assert recorded == [f"[127.0.0.1]:{first.port}", "ssh-ed25519", first.key.get_base64()]
    # The same address and port, another key: refused under every policy, as in pyinfra.
    for strict in ("accept-new", "no"):
        with fake_sshd(port=first.port) as impostor:
            with pytest.raises(HostKeyError) as changed:
                _run(tmp_path, {**data, "ssh_strict_host_key_checking": strict})
            assert impostor.commands == []
        assert f"core-1 ([127.0.0.1]:{first.port}): the SSH host key changed" in str(changed.value)
        assert str(known) in str(changed.value)
        assert impostor.key.fingerprint in str(changed.value)
    assert known.read_text().split() == recorded  # the recorded key is kept


def test_a_recorded_key_is_accepted_under_strict_yes(tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    with fake_sshd() as server:
        known.write_text(f"[127.0.0.1]:{server.port} ssh-ed25519 {server.key.get_base64()}\n")
        data = _loopback(server.port, known, client_key_file(str(tmp_path)), "yes")
        assert _run(tmp_path, data).rc == 0  # type: ignore[attr-defined]


def test_an_ssh_config_stricthostkeychecking_no_does_not_loosen_the_policy(
    tmp_path: Path,
) -> None:
    """testinfra reads ``StrictHostKeyChecking no`` from the ssh_config as 'accept any key';
    the policy of the data is applied after it."""
    known = tmp_path / "known_hosts"
    with fake_sshd() as server:
        data = _loopback(server.port, known, client_key_file(str(tmp_path)), "yes")
        config = write_ssh_config(tmp_path / "ssh_config", [("core-1", data)])
        config.write_text(config.read_text() + "    StrictHostKeyChecking no\n")
        with pytest.raises(HostKeyError):
            remote_host("core-1", data, config, timeout=5).run("true")


# -- the ssh_config: one directive per line, whatever the data -----------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("ssh_hostname", "10.0.0.1\nProxyCommand touch /tmp/pwned"),
        ("ssh_hostname", "10.0.0.1\rProxyCommand x"),
        ("ssh_user", 'deploy"'),
        ("ssh_key", "/keys/%d/id"),
        ("ssh_user", "deploy\x00"),
        ("ssh_port", "22\x0bProxyCommand x"),
    ],
)
def test_a_value_that_could_add_a_directive_is_refused_naming_host_and_key(
    key: str, value: str
) -> None:
    with pytest.raises(UnsafeSSHConfigValue, match=f"core-1: {key}="):
        ssh_config([("core-1", {key: value})])


@pytest.mark.parametrize("name", ["core-1\nProxyCommand x", "core 1", "*", "core-1,evil", ""])
def test_a_host_name_that_is_not_one_alias_is_refused(name: str) -> None:
    with pytest.raises(UnsafeSSHConfigValue, match="cannot be an ssh_config Host"):
        ssh_config([(name, {"ssh_hostname": "10.0.0.1"})])


def test_a_key_path_with_spaces_is_one_quoted_value(tmp_path: Path) -> None:
    import paramiko

    text = ssh_config([("core-1", {"ssh_hostname": "10.0.0.1", "ssh_key": "/k/my key"})])
    assert '    IdentityFile "/k/my key"' in text.splitlines()
    parsed = paramiko.SSHConfig.from_text(text).lookup("core-1")
    assert parsed["identityfile"] == ["/k/my key"]
    assert set(parsed) == {"hostname", "identityfile"}
