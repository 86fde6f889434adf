"""The one access model: which inbound needs an inventory has, and why.

Expected rules are written out by hand from the catalogue (which services read PostgreSQL or
Redis, which role each has), not computed with the module's own helpers.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from pydantic import SecretStr
from windows_side import ENDPOINTS

from fks_infra.access import (
    Access,
    Egress,
    Need,
    Reach,
    access_to,
    egress_for,
    egress_of,
    inventory_access,
    inventory_egress,
    no_proxy,
    resolvers_in,
)
from fks_infra.catalogue import CATALOGUE
from fks_infra.errors import Problem
from fks_infra.plan import HostSpec, InventoryPlan, plan_inventory
from fks_infra.settings import HostSettings

UNIQUE_CORE = [s.name for s in CATALOGUE if s.unique and s.role.value == "core"]
E, S, D, OPEN, C = Need.EDGE, Need.SCRAPE, Need.DATASTORE, Need.OPENED, Need.CALL


def secrets(name: str, settings: HostSettings) -> tuple[SecretStr | None, list[Problem]]:
    return SecretStr("x"), []


def spec(name: str, groups: tuple[str, ...], address: str, **data: Any) -> HostSpec:
    data = {"ssh_hostname": address, **ENDPOINTS, **data}
    return HostSpec(name, groups, data, {key: "inventory/test.py" for key in data})


def three(**gpu_data: Any) -> InventoryPlan:
    return plan_inventory(
        [
            spec("core-1", ("core",), "10.0.0.10"),
            spec("gpu-1", ("gpu",), "10.0.0.20", **gpu_data),
            spec("bridge-1", ("bridge",), "fd00::30"),
        ],
        secrets=secrets,
    )


def single() -> InventoryPlan:
    return plan_inventory([spec("aio-1", ("core", "gpu", "bridge"), "127.0.0.1")], secrets=secrets)


def rows(rules: tuple[Access, ...]) -> list[tuple[str, str, int, str, Need, str]]:
    return [(r.source, r.destination, r.port, r.what, r.need, r.reason) for r in rules]


def on(service: str, port: int, host: str = "core-1") -> list[tuple[Any, ...]]:
    """The EDGE, SCRAPE and CALL rules from the one core host of ``three()``."""
    return [
        ("core-1", host, port, service, E, "nginx on core-1"),
        ("core-1", host, port, service, S, "monitor on core-1"),
        ("core-1", host, port, service, C, "core services on core-1"),
    ]


NODE = ("core-1", "{host}", 9100, "node-exporter", S, "prometheus on core-1")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (
            "gpu-1",
            [*on("ai", 8007, "gpu-1"), *on("training", 8011, "gpu-1")],
        ),
        (
            "bridge-1",
            [*on("meta", 8005, "bridge-1"), *on("ninja", 8006, "bridge-1")],
        ),
    ],
)
def test_three_hosts_the_core_host_reaches_the_others(
    host: str, expected: list[tuple[Any, ...]]
) -> None:
    inventory = three()
    node = tuple(value.format(host=host) if value == "{host}" else value for value in NODE)
    assert rows(access_to(inventory, inventory.host(host))) == [*expected, node]


def test_three_hosts_readers_reach_the_datastores_on_the_core_host() -> None:
    inventory = three()
    rules = access_to(inventory, inventory.host("core-1"))
    assert [row for row in rows(rules) if row[4] is D] == [
        (
            "core-1",
            "core-1",
            5432,
            "postgresql",
            D,
            "web, data, portfolio, data_ingestion on core-1",
        ),
        ("gpu-1", "core-1", 5432, "postgresql", D, "training on gpu-1"),
        ("core-1", "core-1", 6379, "redis", D, "web, api, data, data_ingestion on core-1"),
        ("gpu-1", "core-1", 6379, "redis", D, "ai on gpu-1"),
    ]
    # Everything else on core-1 is core-1's need of itself: nginx, monitor and core
    # services of its 15 services, and the scrape of its node exporter.
    others = [rule for rule in rules if rule.need is not D]
    assert {rule.source for rule in others} == {"core-1"}
    assert len(others) == 15 * 3 + 1
    assert rows(others[:3]) == on("web", 8000)


def test_one_host_has_only_needs_of_itself() -> None:
    inventory = single()
    rules = inventory_access(inventory)
    assert {(r.source, r.destination) for r in rules} == {("aio-1", "aio-1")}
    assert len(rules) == 19 * 3 + 1 + 2
    assert [row for row in rows(rules) if row[4] is D] == [
        (
            "aio-1",
            "aio-1",
            5432,
            "postgresql",
            D,
            "web, data, training, portfolio, data_ingestion on aio-1",
        ),
        ("aio-1", "aio-1", 6379, "redis", D, "web, api, data, ai, data_ingestion on aio-1"),
    ]


def test_open_services_let_every_inventory_host_in() -> None:
    inventory = three(fks_firewall_open_services=["ai"])
    rules = access_to(inventory, inventory.host("gpu-1"))
    assert [row for row in rows(rules) if row[4] is OPEN] == [
        (host, "gpu-1", 8007, "ai", OPEN, f"{host} (fks_firewall_open_services)")
        for host in ("core-1", "gpu-1", "bridge-1")
    ]


def test_rules_carry_the_port_placed_on_the_destination() -> None:
    inventory = three(fks_port_overrides={"ai": 8013, "monitor": 8007})
    ports = {r.port for r in access_to(inventory, inventory.host("gpu-1")) if r.what == "ai"}
    assert ports == {8013}


def test_a_core_host_without_nginx_calls_but_is_no_edge() -> None:
    inventory = plan_inventory(
        [
            spec("core-1", ("core", "datastore"), "10.0.0.10"),
            spec(
                "core-2",
                ("core",),
                "10.0.0.11",
                fks_nginx_enabled=False,
                fks_services_skip=UNIQUE_CORE,
            ),
            spec("gpu-1", ("gpu",), "10.0.0.20"),
            spec("bridge-1", ("bridge",), "10.0.0.30"),
        ],
        secrets=secrets,
    )
    ai = [r for r in access_to(inventory, inventory.host("gpu-1")) if r.what == "ai"]
    assert {(r.source, r.need) for r in ai} == {
        ("core-1", E),
        ("core-1", S),
        ("core-1", C),
        ("core-2", C),
    }


def test_a_datastore_host_without_services_is_scraped_and_read() -> None:
    inventory = plan_inventory(
        [
            spec("core-1", ("core",), "10.0.0.10"),
            spec("db-1", ("datastore",), "10.0.0.9"),
            spec("gpu-1", ("gpu",), "10.0.0.20"),
            spec("bridge-1", ("bridge",), "10.0.0.30"),
        ],
        secrets=secrets,
    )
    rules = access_to(inventory, inventory.host("db-1"))
    assert [(r.source, r.what, r.need) for r in rules] == [
        ("core-1", "node-exporter", S),
        ("core-1", "postgresql", D),
        ("gpu-1", "postgresql", D),
        ("core-1", "redis", D),
        ("gpu-1", "redis", D),
    ]


def test_the_inventory_is_every_host_in_order_and_rules_are_frozen() -> None:
    inventory = three()
    assert inventory_access(inventory) == tuple(
        rule for host in inventory.hosts for rule in access_to(inventory, host)
    )
    rule = inventory_access(inventory)[0]
    assert rule.protocol == "tcp"
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.port = 1  # type: ignore[misc]


# -- outbound needs (Egress) -----------------------------------------------------------------

TALKING_OUT_CORE = ["execution", "analyze", "crypto", "futures", "stocks", "data_ingestion"]


def test_egress_services_of_the_catalogue_reach_any_address_when_nothing_is_set() -> None:
    inventory = three()
    assert [
        (e.host, e.service, e.reach, e.networks, e.proxy) for e in inventory_egress(inventory)
    ] == [
        *(("core-1", name, Reach.ANY, (), None) for name in TALKING_OUT_CORE),
        ("gpu-1", "ai", Reach.ANY, (), None),
    ]
    assert egress_for(inventory.host("core-1"), CATALOGUE["execution"]) == Egress(
        "core-1", "execution", Reach.ANY, reason="execution (catalogue)"
    )
    assert egress_for(inventory.host("core-1"), CATALOGUE["web"]) is None
    assert egress_of(inventory.host("bridge-1")) == ()


def test_egress_follows_the_host_s_settings() -> None:
    inventory = three(
        fks_egress_services=["training"],
        fks_egress_allow=["203.0.113.0/24"],
        fks_egress_proxy="https://192.0.2.60:8443",
    )
    (need,) = egress_of(inventory.host("gpu-1"))
    assert need == Egress(
        "gpu-1",
        "training",
        Reach.PROXY,
        ("203.0.113.0/24",),
        "https://192.0.2.60:8443",
        "training (fks_egress_services)",
    )
    assert (need.proxy_address, need.proxy_port, need.needs_resolvers) == ("192.0.2.60", 8443, True)
    assert need.ip_allow(["192.0.2.53"]) == ("192.0.2.60", "203.0.113.0/24", "192.0.2.53")
    networks = dataclasses.replace(need, reach=Reach.NETWORKS, proxy=None)
    assert networks.ip_allow(["192.0.2.53"]) == ("203.0.113.0/24", "192.0.2.53")
    assert networks.environment(["localhost"]) == ()
    assert dataclasses.replace(need, reach=Reach.ANY).ip_allow(["192.0.2.53"]) == ("any",)


def test_a_proxy_alone_needs_no_resolvers_and_its_port_defaults_to_the_scheme_s() -> None:
    need = Egress("core-1", "execution", Reach.PROXY, proxy="http://[2001:db8::60]")
    assert (need.proxy_address, need.proxy_port, need.needs_resolvers) == (
        "2001:db8::60",
        80,
        False,
    )
    assert need.ip_allow(["192.0.2.53"]) == ("2001:db8::60",)
    assert dict(need.environment(["localhost", "10.0.0.10"])) == {
        "HTTPS_PROXY": "http://[2001:db8::60]",
        "HTTP_PROXY": "http://[2001:db8::60]",
        "NO_PROXY": "localhost,10.0.0.10",
        "https_proxy": "http://[2001:db8::60]",
        "http_proxy": "http://[2001:db8::60]",
        "no_proxy": "localhost,10.0.0.10",
    }


def test_no_proxy_is_localhost_and_every_inventory_host_by_name_and_address() -> None:
    assert no_proxy(three()) == (
        "localhost", "127.0.0.1", "::1",
        "core-1", "10.0.0.10", "gpu-1", "10.0.0.20", "bridge-1", "fd00::30",
    )  # fmt: skip


def test_resolvers_come_from_nameserver_lines_without_loopback() -> None:
    resolv_conf = [
        "nameserver 127.0.0.53",
        "nameserver 192.0.2.53",
        "  nameserver 2001:db8::53",
        "nameserver fe80::1%eth0",
        "nameserver not-an-address",
        "nameserver 192.0.2.53",
        "nameserver ::1",
    ]
    assert resolvers_in(resolv_conf) == ("192.0.2.53", "2001:db8::53", "link-local")
    assert resolvers_in([]) == ()
