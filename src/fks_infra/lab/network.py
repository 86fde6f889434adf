"""The lab network: one bridge, a namespace and veth pair per host, NAT to the registries.

Each host lives in a named network namespace (``ip netns``) that systemd-nspawn
joins, so addresses are set from outside before the guest boots and the guest
needs no network manager. Outbound traffic is masqueraded by an nftables table
of the lab's own, which ``down`` deletes as a whole without touching other rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from fks_infra.lab import names, proc

IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
NETNS_DIR = Path("/run/netns")


def nat_ruleset(subnet: IPv4Network) -> str:
    """The nftables table that lets lab hosts reach the outside, and nothing else."""
    return (
        f"table {names.NFT_FAMILY} {names.NFT_TABLE} {{\n"
        "  chain postrouting {\n"
        "    type nat hook postrouting priority srcnat; policy accept;\n"
        f"    ip saddr {subnet} ip daddr != {subnet} masquerade\n"
        "  }\n"
        "}\n"
    )


def create_bridge(subnet: IPv4Network, gateway: IPv4Address) -> str:
    """Create the bridge and NAT; return ``ip_forward``'s previous value for ``down`` to restore."""
    proc.run(["ip", "link", "add", names.BRIDGE, "type", "bridge"])
    proc.run(["ip", "addr", "add", f"{gateway}/{subnet.prefixlen}", "dev", names.BRIDGE])
    proc.run(["ip", "link", "set", names.BRIDGE, "up"])
    proc.run(["nft", "-f", "-"], input_text=nat_ruleset(subnet))
    before = IP_FORWARD.read_text(encoding="ascii").strip()
    if before != "1":
        IP_FORWARD.write_text("1\n", encoding="ascii")
    return before


def attach_host(host: str, address: IPv4Address, subnet: IPv4Network, gateway: IPv4Address) -> None:
    """Give ``host`` a namespace: ``eth0`` with ``address``, default route via the bridge."""
    ns = names.netns_name(host)
    veth = names.veth_name(host)
    proc.run(["ip", "netns", "add", ns])
    proc.run(
        ["ip", "link", "add", veth, "type", "veth", "peer", "name", names.GUEST_IFACE, "netns", ns]
    )
    proc.run(["ip", "link", "set", veth, "master", names.BRIDGE, "up"])
    inside = ["ip", "-n", ns]
    proc.run([*inside, "link", "set", "lo", "up"])
    proc.run([*inside, "addr", "add", f"{address}/{subnet.prefixlen}", "dev", names.GUEST_IFACE])
    proc.run([*inside, "link", "set", names.GUEST_IFACE, "up"])
    proc.run([*inside, "route", "add", "default", "via", str(gateway)])


@dataclass(frozen=True)
class NetworkLeftovers:
    """Lab network objects that exist on this machine right now."""

    netns: tuple[str, ...]
    links: tuple[str, ...]
    nft_table: bool

    def __bool__(self) -> bool:
        return bool(self.netns or self.links or self.nft_table)

    def describe(self) -> str:
        parts = [f"netns {ns}" for ns in self.netns] + [f"link {link}" for link in self.links]
        if self.nft_table:
            parts.append(f"nft table {names.NFT_FAMILY} {names.NFT_TABLE}")
        return ", ".join(parts)


def find_leftovers() -> NetworkLeftovers:
    """Every lab namespace, link and nft table present, found by name alone."""
    netns = tuple(
        sorted(p.name for p in NETNS_DIR.glob(f"{names.NETNS_PREFIX}*"))
        if NETNS_DIR.is_dir()
        else ()
    )
    link_names = [link["ifname"] for link in json.loads(proc.run(["ip", "-j", "link", "show"]))]
    links = tuple(
        sorted(
            name
            for name in link_names
            if name == names.BRIDGE or name.startswith(names.VETH_PREFIX)
        )
    )
    table = f"table {names.NFT_FAMILY} {names.NFT_TABLE}"
    nft_table = table in proc.run(["nft", "list", "tables"]).splitlines()
    return NetworkLeftovers(netns=netns, links=links, nft_table=nft_table)


def remove_network(ip_forward_before: str | None) -> NetworkLeftovers:
    """Delete every lab namespace, link and the nft table; restore ``ip_forward`` if known.

    Links go before the bridge (a veth end leaves with its namespace anyway).
    Returns what was found, for the report.
    """
    found = find_leftovers()
    for ns in found.netns:
        proc.run(["ip", "netns", "delete", ns])
    for link in sorted(found.links, key=lambda name: name == names.BRIDGE):
        proc.succeeds(["ip", "link", "delete", link])
    if found.nft_table:
        proc.run(["nft", "delete", "table", names.NFT_FAMILY, names.NFT_TABLE])
    if ip_forward_before is not None and ip_forward_before != "1":
        IP_FORWARD.write_text(f"{ip_forward_before}\n", encoding="ascii")
    return found
