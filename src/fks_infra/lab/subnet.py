"""Choosing the lab's /24: one that overlaps no address or route this machine has.

A lab subnet that shadowed an existing route would hijack real traffic (the
default gateway's network, a VPN, the DNS resolver), so the choice is made from
what ``ip -j addr`` and ``ip -j route`` report, and the lab only ever contacts
addresses inside the subnet it picked.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from ipaddress import IPv4Address, IPv4Network, ip_interface, ip_network
from typing import Any

from fks_infra.lab import proc
from fks_infra.lab.errors import LabError

#: Private blocks the lab picks a /24 from, in order of preference.
CANDIDATE_BLOCKS = (IPv4Network("10.213.0.0/16"), IPv4Network("172.29.0.0/16"))

#: Addresses inside the chosen /24: the bridge (gateway) and the first host.
GATEWAY_OFFSET = 1
FIRST_HOST_OFFSET = 10


def networks_in_addr_json(entries: list[dict[str, Any]]) -> Iterator[IPv4Network]:
    """IPv4 networks of every address in ``ip -j addr`` output."""
    for link in entries:
        for info in link.get("addr_info", []):
            if info.get("family") == "inet":
                network = ip_interface(f"{info['local']}/{info['prefixlen']}").network
                if isinstance(network, IPv4Network):
                    yield network


def networks_in_route_json(entries: list[dict[str, Any]]) -> Iterator[IPv4Network]:
    """IPv4 destinations of every route in ``ip -j route`` output, the default route aside."""
    for route in entries:
        dst = route.get("dst", "default")
        if dst == "default":
            continue
        network = ip_network(dst, strict=False)
        if isinstance(network, IPv4Network):
            yield network


def choose_subnet(
    taken: Iterable[IPv4Network], blocks: tuple[IPv4Network, ...] = CANDIDATE_BLOCKS
) -> IPv4Network:
    """The first /24 of ``blocks`` that overlaps none of ``taken``."""
    taken = list(taken)
    for block in blocks:
        for candidate in block.subnets(new_prefix=24):
            if not any(candidate.overlaps(net) for net in taken):
                return candidate
    raise LabError(
        "every candidate lab subnet overlaps an address or route of this machine: "
        + ", ".join(map(str, blocks))
    )


def gateway_address(subnet: IPv4Network) -> IPv4Address:
    """The bridge's address: the gateway of every lab host."""
    return subnet.network_address + GATEWAY_OFFSET


def host_address(subnet: IPv4Network, index: int) -> IPv4Address:
    """The address of the ``index``-th host (from 0) of the hosts spec."""
    address = subnet.network_address + FIRST_HOST_OFFSET + index
    if address >= subnet.broadcast_address:
        raise LabError(f"subnet {subnet} has no room for host number {index + 1}")
    return address


def resolver_networks(resolv_conf: str) -> Iterator[IPv4Network]:
    """The IPv4 nameservers of a ``resolv.conf`` as /32s: the lab must not shadow them."""
    for line in resolv_conf.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            try:
                network = ip_network(fields[1])
            except ValueError:
                continue
            if isinstance(network, IPv4Network):
                yield network


def system_taken_networks() -> list[IPv4Network]:
    """Networks this machine already uses: addresses, routes of all tables, resolvers."""
    addrs = json.loads(proc.run(["ip", "-j", "-4", "addr", "show"]) or "[]")
    routes = json.loads(proc.run(["ip", "-j", "-4", "route", "show", "table", "all"]) or "[]")
    with open("/etc/resolv.conf", encoding="utf-8") as handle:
        resolvers = list(resolver_networks(handle.read()))
    return [*networks_in_addr_json(addrs), *networks_in_route_json(routes), *resolvers]
