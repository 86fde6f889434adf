"""Egress from the catalogue: settings, the rendered units' IPAddressAllow= and environment.

Expected lines are written out by hand from the catalogue (which services talk to the
outside) and read back from the unit text the real template renders; nothing here is
computed with ``fks_infra.access``'s own helpers.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from pyinfra.facts.files import FindInFile
from windows_side import ENDPOINTS

from fks_infra.access import resolvers_in
from fks_infra.catalogue import CATALOGUE
from fks_infra.datastores.config import datastore_env
from fks_infra.errors import Problem, ProblemsError
from fks_infra.plan import HostSpec, InventoryPlan, plan_inventory
from fks_infra.services import deploy
from fks_infra.services.deploy import RESOLVER_LINES, unit_options
from fks_infra.services.units import render_unit
from fks_infra.settings import ENV_FILE_VARIABLES, HostSettings

FILE = "inventory/test.py"
#: The catalogue's services that talk to the outside, as issue #16 lists them.
TALKING_OUT = {"execution", "data_ingestion", "crypto", "futures", "stocks", "analyze", "ai"}
CORE, GPU, BRIDGE = "10.0.0.10", "10.0.0.20", "10.0.0.30"
PEERS = sorted([CORE, GPU, BRIDGE])
#: The bridges' Windows side (ninja: NinjaTrader's address, meta: the MT5 bridge's host).
WINDOWS = {"ninja": ENDPOINTS["fks_ninjatrader_host"], "meta": "192.0.2.200"}


def secrets(name: str, settings: HostSettings) -> tuple[SecretStr | None, list[Problem]]:
    return SecretStr("x"), []


def three(**core_data: Any) -> InventoryPlan:
    def spec(name: str, role: str, address: str, **data: Any) -> HostSpec:
        data = {"ssh_hostname": address, **ENDPOINTS, **data}
        return HostSpec(name, (role,), data, {key: FILE for key in data}, source=FILE)

    return plan_inventory(
        [
            spec("core-1", "core", CORE, **core_data),
            spec("gpu-1", "gpu", GPU),
            spec("bridge-1", "bridge", BRIDGE),
        ],
        secrets=secrets,
    )


def refused(**core_data: Any) -> list[str]:
    with pytest.raises(ProblemsError) as caught:
        three(**core_data)
    return [str(problem) for problem in caught.value.problems]


def unit_text(name: str, inventory: InventoryPlan, resolvers: tuple[str, ...] = ()) -> str:
    service = CATALOGUE[name]
    plan = next(p for p in inventory.hosts if p.runs(name))
    options = unit_options(service, plan, inventory, resolvers=resolvers)
    argv = [f"{service.install_dir}/current/bin/fks_{name}"]
    return render_unit(service, argv, options, release_id="0123456789abcdef")


def lines(text: str, key: str) -> list[str]:
    """The values of ``key=`` in the unit's text, in order (an independent reader)."""
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(f"{key}=")]


def allowed(text: str) -> list[str]:
    return lines(text, "IPAddressAllow")


def environment(text: str) -> list[str]:
    return lines(text, "Environment")


def test_the_catalogue_marks_the_services_issue_16_names() -> None:
    assert {s.name for s in CATALOGUE if s.egress} == TALKING_OUT


# -- unset: any address for egress services, deny-all for the rest ------------------------


@pytest.mark.parametrize("name", sorted(CATALOGUE.names))
def test_unset_egress_services_reach_any_address_the_others_only_their_peers(name: str) -> None:
    text = unit_text(name, three())
    assert lines(text, "IPAddressDeny") == ["any"]
    if name in TALKING_OUT:
        assert allowed(text) == ["localhost", "any"]
    elif name in WINDOWS:
        assert allowed(text) == ["localhost", *sorted([*PEERS, WINDOWS[name]])]
    else:
        assert allowed(text) == ["localhost", *PEERS]
    assert not any("PROXY" in line.upper() for line in environment(text))


def test_a_host_may_say_which_of_its_services_talk_out() -> None:
    inventory = three(fks_egress_services=["web"])
    assert allowed(unit_text("web", inventory)) == ["localhost", "any"]
    assert allowed(unit_text("execution", inventory)) == ["localhost", *PEERS]
    # Another host keeps the catalogue's answer.
    assert allowed(unit_text("ai", inventory)) == ["localhost", "any"]
    nobody = three(fks_egress_services=[])
    assert allowed(unit_text("execution", nobody)) == ["localhost", *PEERS]


# -- networks: only them and the host's resolvers -------------------------------------------


def test_networks_and_the_host_s_resolvers_are_all_an_egress_service_reaches() -> None:
    inventory = three(fks_egress_allow=["203.0.113.0/24", "2001:db8:40::/48"])
    text = unit_text("execution", inventory, resolvers=("192.0.2.53",))
    assert allowed(text) == [
        "localhost",
        *sorted([*PEERS, "203.0.113.0/24", "2001:db8:40::/48", "192.0.2.53"]),
    ]
    # Services that do not talk out are not given the networks, nor the resolvers.
    assert allowed(unit_text("web", inventory, resolvers=("192.0.2.53",))) == [
        "localhost",
        *PEERS,
    ]


def test_an_empty_list_of_networks_leaves_egress_services_nothing_outside() -> None:
    assert allowed(unit_text("execution", three(fks_egress_allow=[]))) == ["localhost", *PEERS]


# -- a proxy: its address only, and the variables every HTTP client reads ---------------------


def test_a_proxy_is_the_one_address_outside_and_named_in_the_environment() -> None:
    inventory = three(fks_egress_proxy="http://192.0.2.60:3128")
    text = unit_text("execution", inventory)
    assert allowed(text) == ["localhost", *sorted([*PEERS, "192.0.2.60"])]
    direct = f"localhost,127.0.0.1,::1,core-1,{CORE},gpu-1,{GPU},bridge-1,{BRIDGE}"
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        assert f"{name}=http://192.0.2.60:3128" in environment(text)
    assert f"NO_PROXY={direct}" in environment(text)
    assert f"no_proxy={direct}" in environment(text)
    web = unit_text("web", inventory)
    assert allowed(web) == ["localhost", *PEERS]
    assert not any("PROXY" in line.upper() for line in environment(web))


def test_a_proxy_named_by_dns_name_is_reached_inside_its_networks() -> None:
    inventory = three(
        fks_egress_proxy="http://proxy.example.internal:3128", fks_egress_allow=["192.0.2.0/28"]
    )
    text = unit_text("execution", inventory, resolvers=("192.0.2.53",))
    assert allowed(text) == ["localhost", *sorted([*PEERS, "192.0.2.0/28", "192.0.2.53"])]
    assert "HTTPS_PROXY=http://proxy.example.internal:3128" in environment(text)


# -- fks_service_environment -------------------------------------------------------------------


def test_extra_variables_reach_the_unit_quoted_for_systemd() -> None:
    inventory = three(
        fks_service_environment={
            "web": {"FKS_DEMO_EGRESS_URL": "http://10.0.0.1:38090/", "GREETING": "50% $off 'x'"}
        }
    )
    text = unit_text("web", inventory)
    assert "FKS_DEMO_EGRESS_URL=http://10.0.0.1:38090/" in environment(text)
    # % doubled (a specifier otherwise), the whole assignment quoted, $ kept (not expanded).
    assert "\"GREETING=50%% $off 'x'\"" in environment(text)
    assert not any("FKS_DEMO" in line for line in environment(unit_text("api", inventory)))


# -- validation before action: file, host, key ----------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"fks_egress_allow": ["203.0.113.7/24"]},
            "fks_egress_allow: item 0 ('203.0.113.7/24') is not an address or a network "
            "without host bits",
        ),
        ({"fks_egress_allow": ["exchange.example.com"]}, "is not an address or a network"),
        ({"fks_egress_allow": ["0.0.0.0/0"]}, "covers Tailscale's addresses (100.64.0.0/10)"),
        ({"fks_egress_allow": ["fd7a:115c:a1e0::/64"]}, "covers Tailscale's addresses"),
        ({"fks_egress_allow": ["127.0.0.0/8"]}, "is loopback"),
        ({"fks_egress_proxy": "socks5://192.0.2.60:1080"}, "scheme must be http or https"),
        ({"fks_egress_proxy": "http://192.0.2.60:3128/path"}, "no path or query"),
        ({"fks_egress_proxy": "http://192.0.2.60:99999"}, "port is not a number"),
        ({"fks_egress_proxy": "http://proxy.example.internal:3128"}, "named by DNS name"),
        ({"fks_egress_services": ["exec"]}, "item 0 ('exec') is not a catalogue service"),
        ({"fks_service_environment": {"webb": {"A": "b"}}}, "key 'webb' is not a catalogue"),
        ({"fks_service_environment": {"web": {"1A": "b"}}}, "is not a variable name"),
        ({"fks_service_environment": {"web": {"SERVICE_PORT": "1"}}}, "set by fks-infra"),
        ({"fks_service_environment": {"web": {"DATABASE_URL": "x"}}}, "set by fks-infra"),
        ({"fks_service_environment": {"web": {"STATE_DIRECTORY": "/"}}}, "set by fks-infra"),
        ({"fks_service_environment": {"web": {"MT5_BRIDGE_URL": "x"}}}, "set by fks-infra"),
        ({"fks_service_environment": {"web": {"HTTPS_PROXY": "x"}}}, "set from fks_egress_proxy"),
        ({"fks_service_environment": {"web": {"LD_PRELOAD": "x"}}}, "dynamic loader"),
        ({"fks_service_environment": {"web": {"AUTH_SECRET": "x"}}}, "names a secret"),
        ({"fks_service_environment": {"web": {"BINANCE_API_KEY": "x"}}}, "names a secret"),
        ({"fks_service_environment": {"web": {"db_password": "x"}}}, "names a secret"),
    ],
)
def test_bad_egress_and_environment_settings_are_refused_naming_file_host_and_key(
    data: dict[str, Any], expected: str
) -> None:
    (key,) = data
    found = refused(**data)
    assert len(found) == 1, found
    assert found[0].startswith(f"{FILE}: host core-1: {key}:"), found
    assert expected in found[0], found


def test_a_refused_proxy_url_is_not_echoed() -> None:
    (found,) = refused(fks_egress_proxy="http://192.0.2.60:3128/?token=CANARY")
    assert "CANARY" not in found


def test_a_value_is_never_echoed_for_a_secret_s_name() -> None:
    (found,) = refused(fks_service_environment={"web": {"EXCHANGE_API_SECRET": "CANARY"}})
    assert "CANARY" not in found


def test_the_env_file_s_variables_are_all_refused_as_extra_variables() -> None:
    inventory = three()
    written = {
        name
        for plan in inventory.hosts
        for service in plan.services
        for name in datastore_env(service, plan, inventory)
    }
    assert written and written <= set(ENV_FILE_VARIABLES)


# -- the host's resolvers: read only when needed, from /etc/resolv.conf's nameserver lines ----


def test_resolvers_are_read_from_the_host_only_for_a_need_that_lists_networks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads: list[str] = []

    def host_resolvers() -> tuple[str, ...]:
        reads.append("read")
        return ("192.0.2.53",)

    monkeypatch.setattr(deploy, "_host_resolvers", host_resolvers)
    for inventory in (three(), three(fks_egress_proxy="http://192.0.2.60:3128")):
        for name in ("execution", "web"):
            plan = next(p for p in inventory.hosts if p.runs(name))
            unit_options(CATALOGUE[name], plan, inventory)
    assert reads == []
    networks = three(fks_egress_allow=["203.0.113.0/24"])
    options = unit_options(CATALOGUE["execution"], networks.host("core-1"), networks)
    assert reads == ["read"]
    assert "192.0.2.53" in options.ip_allow


def test_the_resolver_fact_s_command_finds_the_nameserver_lines(tmp_path: Path) -> None:
    resolv_conf = tmp_path / "resolv.conf"
    resolv_conf.write_text(
        "# comment nameserver 198.51.100.1\nsearch example.internal\n"
        "nameserver 127.0.0.53\n  nameserver\t192.0.2.53\noptions edns0\nnameserver 2001:db8::53\n"
    )
    command = FindInFile().command(
        path=str(resolv_conf), pattern=RESOLVER_LINES, extended_regex=True
    )
    done = subprocess.run(
        ["sh", "-c", command.get_raw_value()], capture_output=True, text=True, check=True
    )
    assert resolvers_in(done.stdout.splitlines()) == ("192.0.2.53", "2001:db8::53")
