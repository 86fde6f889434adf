"""The nftables firewall of a host, rendered from the placement of the whole inventory.

Inbound is denied by default. Open are: loopback, replies, ICMP that IP needs, SSH from
anywhere (so a deploy can never lock its operator out), 80/443 on edge hosts, and each port
of an FKS service, node exporter or datastore only to the inventory hosts that need it: the
EDGE, SCRAPE, OPENED and DATASTORE needs of ``access.py`` (nginx hosts and the monitor host
reach every service, the monitor host every node exporter, readers of PostgreSQL and Redis
the datastore host). Prometheus, Alertmanager and the blackbox exporter listen on localhost
only and need no rule. The control machine is not among them. fks-infra owns one table
(``inet fks_infra``) in its own file, loaded by its own unit (``fks-firewall.service``), and
never flushes the whole ruleset, so rules of other tools (tailscale, container runtimes)
stay; Debian's ``/etc/nftables.conf`` and ``nftables.service`` are not fks-infra's. The
ruleset depends on the plan only, never on what is installed, so it goes live before any
service listens. No pyinfra import.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from fks_infra.access import Need, access_to
from fks_infra.nginx.config import serves_edge
from fks_infra.plan import HostPlan, InventoryPlan
from fks_infra.ports import HTTP, HTTPS, SSH
from fks_infra.templating import render

#: fks-infra's table, alone in its file (loaded by ``UNIT``).
RULESET_PATH = "/etc/fks-infra/firewall.nft"
RULESET_TEMPLATE = "etc/fks-infra/firewall.nft.j2"
#: Loads ``RULESET_PATH`` at boot before the network is up; stopping it deletes only ``TABLE``
#: (``files/etc/systemd/system/fks-firewall.service``).
UNIT = "fks-firewall.service"
UNIT_PATH = f"/etc/systemd/system/{UNIT}"
TABLE = "fks_infra"
WEB_PORTS = (HTTP, HTTPS)


@dataclass(frozen=True)
class ServiceRule:
    """Who may reach one service port: addresses by family, and why (for the rule comment)."""

    name: str
    port: int
    ipv4: tuple[str, ...]
    ipv6: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class FirewallContext:
    path: str
    unit: str
    enabled: bool
    table: str
    ssh_ports: tuple[int, ...]
    web_ports: tuple[int, ...]
    public_tcp_ports: tuple[int, ...]
    public_udp_ports: tuple[int, ...]
    service_rules: tuple[ServiceRule, ...]

    def template_vars(self) -> dict[str, object]:
        return asdict(self)


#: The needs of ``access.py`` nftables enforces; CALL is the tailnet's alone.
FIREWALL_NEEDS = frozenset({Need.EDGE, Need.SCRAPE, Need.OPENED, Need.DATASTORE})


def service_rules(plan: HostPlan, inventory: InventoryPlan) -> tuple[ServiceRule, ...]:
    """One rule per port of ``plan`` other inventory hosts must reach, in ``access_to`` order.

    Sources are the hosts' addresses, without ``plan``'s own (what it sends to its own
    addresses arrives on loopback). A rule's reason joins each address's reasons with
    ``, `` and the addresses' with ``; ``.
    """
    address_of = {host.name: host.address for host in inventory.hosts}
    peers: dict[tuple[str, int], dict[str, list[str]]] = {}
    for rule in access_to(inventory, plan):
        source = address_of[rule.source]
        if rule.need in FIREWALL_NEEDS and source != plan.address:
            why = peers.setdefault((rule.what, rule.port), {}).setdefault(source, [])
            why.append(rule.reason)
    return tuple(
        _rule(what, port, {address: ", ".join(why) for address, why in by_address.items()})
        for (what, port), by_address in peers.items()
    )


def _rule(name: str, port: int, peers: dict[str, str]) -> ServiceRule:
    addresses = sorted(peers, key=ipaddress.ip_address)
    return ServiceRule(
        name=name,
        port=port,
        ipv4=tuple(a for a in addresses if ipaddress.ip_address(a).version == 4),
        ipv6=tuple(a for a in addresses if ipaddress.ip_address(a).version == 6),
        reason="; ".join(sorted(set(peers.values()))),
    )


def firewall_context(
    plan: HostPlan, inventory: InventoryPlan, ssh_ports: Iterable[int]
) -> FirewallContext:
    """The firewall of one host; ``ssh_ports`` are where its sshd can be reached."""
    settings = plan.settings
    return FirewallContext(
        path=RULESET_PATH,
        unit=UNIT,
        enabled=settings.fks_firewall_enabled,
        table=TABLE,
        ssh_ports=tuple(sorted(set(ssh_ports))) or (SSH,),
        web_ports=WEB_PORTS if serves_edge(plan) else (),
        public_tcp_ports=tuple(sorted(set(settings.fks_firewall_public_tcp_ports))),
        public_udp_ports=tuple(sorted(set(settings.fks_firewall_public_udp_ports))),
        service_rules=service_rules(plan, inventory),
    )


def render_ruleset(
    plan: HostPlan, inventory: InventoryPlan, ssh_ports: Iterable[int] = (SSH,)
) -> str:
    """The text of ``RULESET_PATH`` for one host."""
    return render(RULESET_TEMPLATE, firewall_context(plan, inventory, ssh_ports).template_vars())
