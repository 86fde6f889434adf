"""The bridges' Windows endpoints: validated before any host is touched, written to env files."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr
from testinfra.backend.base import BaseBackend
from windows_side import ENDPOINTS

from fks_infra.bridges import winrm_connection
from fks_infra.catalogue import CATALOGUE
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


def test_winrm_connection_string_round_trips_through_testinfra() -> None:
    settings = HostSettings(fks_windows_winrm_host="192.0.2.200", fks_windows_winrm_user="fks@desk")
    spec = winrm_connection(settings, "p@ss:w/rd?")
    assert spec is not None and spec.startswith("winrm://fks%40desk:p%40ss%3Aw%2Frd%3F@")
    assert spec.endswith("@192.0.2.200:5986?no_verify_ssl=false")
    parsed = BaseBackend.parse_hostspec(spec.removeprefix("winrm://").split("?")[0])
    assert (parsed.name, parsed.port, parsed.user, parsed.password) == (
        "192.0.2.200", "5986", "fks@desk", "p@ss:w/rd?"
    )  # fmt: skip
    assert winrm_connection(HostSettings(), "x") is None
    insecure = HostSettings(fks_windows_winrm_host="fd00::5", fks_windows_winrm_verify_tls=False)
    assert winrm_connection(insecure, "x") == "winrm://fks:x@[fd00::5]:5986?no_verify_ssl=true"
