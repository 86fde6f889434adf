"""Choosing the lab /24 from recorded ``ip -j`` output, never shadowing what exists."""

from __future__ import annotations

import json
from ipaddress import IPv4Address, IPv4Network

import pytest

from fks_infra.lab.errors import LabError
from fks_infra.lab.subnet import (
    choose_subnet,
    gateway_address,
    host_address,
    networks_in_addr_json,
    networks_in_route_json,
    resolver_networks,
)

# Recorded on the project's Debian 12 VM (`ip -j -4 addr show`, `ip -j -4 route show table all`),
# trimmed to the fields the parser reads.
ADDR_JSON = json.loads("""[
 {"ifindex":1,"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8}]},
 {"ifindex":4,"ifname":"eth0","addr_info":[{"family":"inet","local":"192.0.2.2","prefixlen":24}]}
]""")
ROUTE_JSON = json.loads("""[
 {"dst":"default","gateway":"192.0.2.1","dev":"eth0","flags":[]},
 {"dst":"192.0.2.0/24","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"192.0.2.2"},
 {"type":"local","dst":"127.0.0.0/8","dev":"lo","table":"local","prefsrc":"127.0.0.1"},
 {"type":"local","dst":"127.0.0.1","dev":"lo","table":"local","prefsrc":"127.0.0.1"},
 {"type":"broadcast","dst":"192.0.2.255","dev":"eth0","table":"local","prefsrc":"192.0.2.2"}
]""")


def _taken(addr: list[dict[str, object]], route: list[dict[str, object]]) -> list[IPv4Network]:
    return [*networks_in_addr_json(addr), *networks_in_route_json(route)]


def test_recorded_machine_gets_the_first_candidate() -> None:
    assert choose_subnet(_taken(ADDR_JSON, ROUTE_JSON)) == IPv4Network("10.213.0.0/24")


def test_parsers_read_addresses_and_routes_but_not_the_default_route() -> None:
    assert IPv4Network("192.0.2.0/24") in list(networks_in_addr_json(ADDR_JSON))
    routes = list(networks_in_route_json(ROUTE_JSON))
    assert IPv4Network("127.0.0.1/32") in routes
    assert IPv4Network("0.0.0.0/0") not in routes


def test_an_address_inside_a_candidate_skips_it() -> None:
    addr = [*ADDR_JSON, {"ifname": "vpn0", "addr_info": [
        {"family": "inet", "local": "10.213.0.77", "prefixlen": 24}]}]  # fmt: skip
    assert choose_subnet(_taken(addr, ROUTE_JSON)) == IPv4Network("10.213.1.0/24")


def test_a_wide_route_over_the_whole_block_moves_to_the_next_block() -> None:
    route = [*ROUTE_JSON, {"dst": "10.0.0.0/8", "gateway": "192.0.2.9", "dev": "eth0"}]
    assert choose_subnet(_taken(ADDR_JSON, route)) == IPv4Network("172.29.0.0/24")


def test_the_resolver_is_never_shadowed() -> None:
    resolvers = list(resolver_networks("# c\nnameserver 10.213.0.53\nnameserver ::1\nsearch x\n"))
    assert resolvers == [IPv4Network("10.213.0.53/32")]
    assert choose_subnet(resolvers) == IPv4Network("10.213.1.0/24")


def test_ipv6_routes_are_ignored() -> None:
    assert list(networks_in_route_json([{"dst": "fe80::/64", "dev": "eth0"}])) == []


def test_no_free_subnet_is_an_error() -> None:
    with pytest.raises(LabError, match="every candidate"):
        choose_subnet([IPv4Network("0.0.0.0/0")])


def test_addresses_inside_the_subnet() -> None:
    subnet = IPv4Network("10.213.4.0/24")
    assert gateway_address(subnet) == IPv4Address("10.213.4.1")
    assert host_address(subnet, 0) == IPv4Address("10.213.4.10")
    assert host_address(subnet, 244) == IPv4Address("10.213.4.254")
    with pytest.raises(LabError, match="no room"):
        host_address(subnet, 245)
