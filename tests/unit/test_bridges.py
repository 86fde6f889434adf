"""The bridges' Windows endpoints: validated before any host is touched, written to env files."""

from __future__ import annotations

import dataclasses
import shlex
from typing import Any

import pytest
from pydantic import SecretStr
from testinfra.backend.base import BaseBackend
from windows_side import ENDPOINTS

from fks_infra.bridges import winrm_connection
from fks_infra.catalogue import CATALOGUE
from fks_infra.checks import test_bridge
from fks_infra.checks.fleet import HostTarget
from fks_infra.checks.test_bridge import run_over_winrm, winrm_host
from fks_infra.errors import Problem, ProblemsError
from fks_infra.plan import HostSpec, InventoryPlan, plan_inventory
from fks_infra.services.deploy import env_file, unit_options
from fks_infra.services.envfile import render_env
from fks_infra.settings import HostSettings


def secrets(name: str, settings: HostSettings) -> tuple[SecretStr | None, list[Problem]]:
    return SecretStr(f"value-of-{name}"), []


def inventory(**bridge_data: Any) -> list[HostSpec]:
    data = {"ssh_hostname": "192.0.2.30", **bridge_data}
    return [
        HostSpec("core-1", ("core",), {"ssh_hostname": "192.0.2.10"}),
        HostSpec("gpu-1", ("gpu",), {"ssh_hostname": "192.0.2.20"}),
        HostSpec("bridge-1", ("bridge",), data, {key: "inventory/prod.py" for key in data}),
    ]


def plan(**bridge_data: Any) -> InventoryPlan:
    return plan_inventory(inventory(**bridge_data), secrets=secrets)


def problems(**bridge_data: Any) -> list[str]:
    with pytest.raises(ProblemsError) as caught:
        plan(**bridge_data)
    return [str(problem) for problem in caught.value.problems]


def without(*keys: str) -> dict[str, Any]:
    return {k: v for k, v in ENDPOINTS.items() if k not in keys}


def test_a_missing_ninjatrader_host_on_a_bridge_host_is_an_error() -> None:
    assert problems(**without("fks_ninjatrader_host")) == [
        "host bridge-1: fks_ninjatrader_host: not set, and ninja runs here: it becomes "
        "NINJATRADER_HOST in /etc/fks/ninja.env (there is no default on purpose)"
    ]


def test_every_missing_endpoint_is_reported_at_once() -> None:
    found = problems()
    assert [p.split(": ")[1] for p in found] == [
        "fks_mt5_bridge_url",
        "fks_ninjatrader_host",
        "fks_ninjatrader_port",
    ]


def test_endpoints_are_needed_only_where_the_bridges_run() -> None:
    url = "http://192.0.2.200:18080/"
    result = plan_inventory(
        [
            HostSpec("core-1", ("core",), {"ssh_hostname": "192.0.2.10"}),
            HostSpec("gpu-1", ("gpu",), {"ssh_hostname": "192.0.2.20",
                                         "fks_services_extra": ["meta"],
                                         "fks_mt5_bridge_url": url}),
            HostSpec("bridge-1", ("bridge",), {"ssh_hostname": "192.0.2.30",
                                               **without("fks_mt5_bridge_url"),
                                               "fks_services_skip": ["meta"]}),
        ],
        secrets=secrets,
    )  # fmt: skip
    assert [h.name for h in result.hosts_running("meta")] == ["gpu-1"]


def test_an_mt5_url_at_a_catalogue_port_names_the_service_it_would_hit() -> None:
    # The original code's default: http://localhost:8006, which is ninja's own port.
    for url in ("http://192.0.2.200:8006", "http://192.0.2.200:8006/api"):
        assert problems(**{**ENDPOINTS, "fks_mt5_bridge_url": url}) == [
            f"inventory/prod.py: host bridge-1: fks_mt5_bridge_url: {url!r} points at port "
            "8006, which is FKS service ninja's, not the MT5 bridge on the Windows side"
        ]


def test_a_catalogue_port_moved_by_an_override_counts_where_it_moved() -> None:
    found = problems(
        **{**ENDPOINTS, "fks_mt5_bridge_url": "http://192.0.2.200:8013/"},
        fks_port_overrides={"ninja": 8013},  # monitor's 8013 is taken, reported as a clash
    )
    assert any("8013" in line for line in found)


def test_a_ninjatrader_port_of_the_catalogue_is_rejected() -> None:
    assert problems(**{**ENDPOINTS, "fks_ninjatrader_port": 8005}) == [
        "inventory/prod.py: host bridge-1: fks_ninjatrader_port: port 8005 is FKS service "
        "meta's, not NinjaTrader's"
    ]


def test_endpoint_hosts_must_be_addresses_the_unit_can_allow() -> None:
    assert (
        "the host must be an IP address"
        in problems(**{**ENDPOINTS, "fks_mt5_bridge_url": "http://windows-desk:18080/"})[0]
    )
    assert (
        "fks_ninjatrader_host"
        in problems(**{**ENDPOINTS, "fks_ninjatrader_host": "windows-desk"})[0]
    )


def test_env_files_carry_the_endpoints_beside_the_secrets() -> None:
    inventory = plan(**ENDPOINTS)
    bridge = inventory.host("bridge-1")
    assert env_file(CATALOGUE["ninja"], bridge, inventory).splitlines()[1:] == [
        'NINJATRADER_HOST="192.0.2.200"',
        'NINJATRADER_PORT="36973"',
    ]
    assert env_file(CATALOGUE["meta"], bridge, inventory).splitlines()[1:] == [
        'MT5_BRIDGE_URL="http://192.0.2.200:18080/"',
        'MT5_LOGIN="value-of-MT5_LOGIN"',
        'MT5_PASSWORD="value-of-MT5_PASSWORD"',
        'MT5_SERVER="value-of-MT5_SERVER"',
    ]


def test_the_bridge_units_may_reach_the_windows_side_and_nothing_else_new() -> None:
    result = plan(**ENDPOINTS)
    bridge = result.host("bridge-1")
    inventory_hosts = {"192.0.2.10", "192.0.2.20", "192.0.2.30"}
    assert set(unit_options(CATALOGUE["ninja"], bridge, result).ip_allow) == {
        *inventory_hosts,
        "192.0.2.200",
    }
    api = unit_options(CATALOGUE["api"], result.host("core-1"), result)
    assert set(api.ip_allow) == inventory_hosts


def test_a_setting_may_not_shadow_a_secret() -> None:
    with pytest.raises(ValueError, match="MT5_LOGIN"):
        render_env({"MT5_LOGIN": "a"}, {"MT5_LOGIN": "b"})


def test_every_catalogue_environment_setting_exists() -> None:
    for service in CATALOGUE:
        for _, key in service.environment:
            assert key in HostSettings.model_fields, (service.name, key)


def test_winrm_connection_string_round_trips_through_testinfra_without_the_password() -> None:
    settings = HostSettings(fks_windows_winrm_host="192.0.2.200", fks_windows_winrm_user="fks@desk")
    spec = winrm_connection(settings)
    assert spec == "winrm://fks%40desk@192.0.2.200:5986?no_verify_ssl=false"
    parsed = BaseBackend.parse_hostspec(spec.removeprefix("winrm://").split("?")[0])
    assert (parsed.name, parsed.port, parsed.user, parsed.password) == (
        "192.0.2.200", "5986", "fks@desk", None
    )  # fmt: skip
    assert winrm_connection(HostSettings()) is None
    insecure = HostSettings(fks_windows_winrm_host="fd00::5", fks_windows_winrm_verify_tls=False)
    assert winrm_connection(insecure) == "winrm://fks@[fd00::5]:5986?no_verify_ssl=true"


def test_the_winrm_host_gets_its_password_apart_from_the_spec() -> None:
    """pywinrm is installed (a dependency) and gets the password; the spec never holds it."""
    settings = HostSettings(fks_windows_winrm_host="192.0.2.200", fks_windows_winrm_user="fks")
    spec = winrm_connection(settings)
    assert spec is not None
    host = winrm_host(spec, SecretStr("p@ss:w/rd? canary"))
    assert host.backend.conn_args == {  # type: ignore[attr-defined]
        "endpoint": "https://192.0.2.200:5986/wsman",
        "transport": "ntlm",
        "username": "fks",
        "password": "p@ss:w/rd? canary",
    }
    assert "canary" not in repr(host) and "canary" not in host.backend.get_pytest_id()


def test_a_winrm_failure_is_reported_without_the_password_or_its_frames() -> None:
    """A refused connection (a closed loopback port) fails with the transport's reason only."""
    settings = HostSettings(fks_windows_winrm_host="127.0.0.1", fks_windows_winrm_port=9)
    spec = winrm_connection(settings)
    assert spec is not None
    password = SecretStr("canary-winrm-0123")
    with pytest.raises(AssertionError, match=r"WinRM to 127.0.0.1 failed: .*Connection") as caught:
        run_over_winrm(winrm_host(spec, password), "Get-Process", password)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__ is False
    assert caught.value.__context__ is None  # no chained traceback whose frames hold it


HOSTILE_URL = "http://192.0.2.200:18080/'$(touch /tmp/pwned)'"


@pytest.mark.parametrize(
    ("thing", "check", "settings"),
    [
        ("mt5", test_bridge.test_http_answers, {"fks_mt5_bridge_url": HOSTILE_URL}),
        ("mt5", test_bridge.test_reachable, {"fks_mt5_bridge_url": HOSTILE_URL}),
        (
            "ninjatrader",
            test_bridge.test_reachable,
            {"fks_ninjatrader_host": "192.0.2.200';id;'", "fks_ninjatrader_port": 36973},
        ),
    ],
)
def test_the_endpoint_probes_quote_what_they_pass_to_the_shell(
    monkeypatch: pytest.MonkeyPatch, thing: str, check: Any, settings: dict[str, Any]
) -> None:
    """Whatever validation let through, the probe's shell sees each value as one argument."""
    commands: list[str] = []

    class Recorder:
        def run(self, command: str) -> Any:
            commands.append(command)
            return type("Result", (), {"rc": 0, "stdout": "200\n", "stderr": ""})()

    monkeypatch.setattr(test_bridge, "connect", lambda name: Recorder())
    bridge = plan(**ENDPOINTS).hosts[2]
    # model_construct: values the settings' validation may refuse, to prove the quoting alone.
    unchecked = HostSettings.model_construct(**{**bridge.settings.model_dump(), **settings})
    check(HostTarget(dataclasses.replace(bridge, settings=unchecked), thing))
    (command,) = commands
    words = shlex.split(command)
    if check is test_bridge.test_http_answers:
        assert words[-1] == HOSTILE_URL
    elif thing == "mt5":
        assert words[-2:] == ["192.0.2.200", "18080"]
    else:
        assert words[-2:] == ["192.0.2.200';id;'", "36973"]
