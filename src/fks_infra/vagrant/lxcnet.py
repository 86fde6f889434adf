"""The network of the Vagrant LXC containers: a bridge, its gateway address and NAT, ours alone.

Debian's ``lxc-net`` (bridge ``lxcbr0`` with dnsmasq) needs systemd as PID 1 to start,
and a machine-wide DHCP server is more than a test needs. Instead, as the nspawn lab
does (``fks_infra.lab.network``), this module creates one bridge with the gateway
address of a free /24 and an nftables table that masquerades the containers' traffic,
and the Vagrantfile gives each container a static address on that bridge
(``lxc.net.0.ipv4.address``), which vagrant-lxc then reads back with ``lxc-info -iH``.

Every object is found by name alone (:data:`BRIDGE`, :data:`NFT_TABLE`), so a crashed
run is cleaned up by :func:`remove_network` without any state; none of the names is one
the nspawn lab uses (``fkslab0``, ``inet fkslab``), and the subnet comes from other
private blocks than the lab's and overlaps no address or route of this machine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Final

from fks_infra.lab import proc
from fks_infra.lab.errors import LabError
from fks_infra.lab.subnet import choose_subnet, gateway_address, system_taken_networks

#: The Linux bridge every container's veth joins (the Vagrantfile's ``LXC_BRIDGE``).
BRIDGE: Final = "fksvag0"

#: nftables family and table holding the containers' NAT rule, deleted as a whole.
NFT_FAMILY: Final = "inet"
NFT_TABLE: Final = "fksvagrant"

#: Private blocks the containers' /24 comes from: not the lab's (10.213/16, 172.29/16),
#: so even two choices made at the same instant cannot pick the same subnet.
CANDIDATE_BLOCKS: Final = (IPv4Network("10.214.0.0/16"), IPv4Network("172.30.0.0/16"))

IP_FORWARD: Final = Path("/proc/sys/net/ipv4/ip_forward")


@dataclass(frozen=True)
class LxcNetwork:
    """The network one Vagrant session created.

    + subnet: the containers' /24; hosts get ``.10`` upwards (the Vagrantfile's rule)
    + gateway: the bridge's address, ``.1``
    + ip_forward_before: ``/proc/sys/net/ipv4/ip_forward`` before, restored on removal
    """

    subnet: IPv4Network
    gateway: IPv4Address
    ip_forward_before: str

    @property
    def prefix(self) -> str:
        """The first three octets, the form ``FKS_VAGRANT_SUBNET`` takes: ``10.214.0``."""
        return str(self.subnet.network_address).rsplit(".", 1)[0]


def nat_ruleset(subnet: IPv4Network) -> str:
    """The nftables table that lets the containers reach the package mirror, and nothing else."""
    return (
        f"table {NFT_FAMILY} {NFT_TABLE} {{\n"
        "  chain postrouting {\n"
        "    type nat hook postrouting priority srcnat; policy accept;\n"
        f"    ip saddr {subnet} ip daddr != {subnet} masquerade\n"
        "  }\n"
        "}\n"
    )


@dataclass(frozen=True)
class Leftovers:
    """This module's network objects present on the machine now."""

    bridge: bool
    nft_table: bool

    def __bool__(self) -> bool:
        return self.bridge or self.nft_table

    def describe(self) -> str:
        """``link fksvag0, nft table inet fksvagrant`` (what exists), for messages."""
        parts = [f"link {BRIDGE}"] if self.bridge else []
        if self.nft_table:
            parts.append(f"nft table {NFT_FAMILY} {NFT_TABLE}")
        return ", ".join(parts)


def find_leftovers() -> Leftovers:
    """Whether the bridge and the nft table exist, asked of ``ip`` and ``nft``."""
    links = json.loads(proc.run(["ip", "-j", "link", "show"]) or "[]")
    bridge = any(link.get("ifname") == BRIDGE for link in links)
    table = f"table {NFT_FAMILY} {NFT_TABLE}"
    tables = proc.run(["nft", "list", "tables"]).splitlines()
    return Leftovers(bridge=bridge, nft_table=table in tables)


def create_network() -> LxcNetwork:
    """Choose a free /24, create the bridge with its gateway and the NAT table.

    Raises ``LabError`` when a previous run left the bridge or table behind (run
    ``python -m fks_infra.vagrant down``), when no candidate /24 is free, or when a
    command fails; what this call created is removed again before the error.
    """
    left = find_leftovers()
    if left:
        raise_leftovers(left)
    subnet = choose_subnet(system_taken_networks(), CANDIDATE_BLOCKS)
    gateway = gateway_address(subnet)
    before = IP_FORWARD.read_text(encoding="ascii").strip()
    network = LxcNetwork(subnet=subnet, gateway=gateway, ip_forward_before=before)
    try:
        proc.run(["ip", "link", "add", BRIDGE, "type", "bridge"])
        proc.run(["ip", "addr", "add", f"{gateway}/{subnet.prefixlen}", "dev", BRIDGE])
        proc.run(["ip", "link", "set", BRIDGE, "up"])
        proc.run(["nft", "-f", "-"], input_text=nat_ruleset(subnet))
        if before != "1":
            IP_FORWARD.write_text("1\n", encoding="ascii")
    except BaseException:
        remove_network(before)
        raise
    return network


def raise_leftovers(left: Leftovers) -> None:
    """Refuse to start over another run's network, saying how to remove it."""
    raise LabError(
        f"a Vagrant LXC network is already on this machine ({left.describe()}): another "
        "session is running, or one crashed; `python -m fks_infra.vagrant down` removes it"
    )


def remove_network(ip_forward_before: str | None = None) -> Leftovers:
    """Delete the bridge and the NAT table if present; restore ``ip_forward`` if known.

    Returns what was found. Deleting the bridge while a container's veth is still
    attached detaches that veth; containers are destroyed before this is called.
    """
    found = find_leftovers()
    if found.bridge:
        proc.run(["ip", "link", "delete", BRIDGE])
    if found.nft_table:
        proc.run(["nft", "delete", "table", NFT_FAMILY, NFT_TABLE])
    if ip_forward_before is not None and ip_forward_before != "1":
        IP_FORWARD.write_text(f"{ip_forward_before}\n", encoding="ascii")
    return found
