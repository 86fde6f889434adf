"""The nftables firewall of a host, rendered from the placement of the whole inventory.

Inbound is denied by default. Open are: loopback, replies, ICMP that IP needs, SSH from
anywhere (so a deploy can never lock its operator out), 80/443 on edge hosts, and each FKS
service port only to the inventory hosts whose plan needs it: the edge (nginx) hosts, which
proxy to every service, and the host running ``monitor``, which scrapes every service. The
node exporter (9100) is open to the monitor host; PostgreSQL (5432) and Redis (6379) on the
datastore host to the hosts whose services read them. Prometheus, Alertmanager and the
blackbox exporter listen on localhost only and need no rule. The control machine is not
among them. fks-infra owns one table (``inet fks_infra``) and never
flushes the whole ruleset, so rules of other tools (tailscale, container runtimes) stay.
No pyinfra import.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from fks_infra.catalogue import Role
from fks_infra.monitoring.config import MONITOR
from fks_infra.nginx.config import edge_hosts, serves_edge
from fks_infra.plan import HostPlan, InventoryPlan
from fks_infra.ports import HTTP, HTTPS, NODE_EXPORTER, POSTGRES, REDIS, SSH
from fks_infra.templating import render

RULESET_PATH = "/etc/nftables.conf"
RULESET_TEMPLATE = "etc/nftables.conf.j2"
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
    enabled: bool
    table: str
    ssh_ports: tuple[int, ...]
    web_ports: tuple[int, ...]
    public_tcp_ports: tuple[int, ...]
    public_udp_ports: tuple[int, ...]
    service_rules: tuple[ServiceRule, ...]

    def template_vars(self) -> dict[str, object]:
        return asdict(self)


def peers_of(plan: HostPlan, inventory: InventoryPlan, service_name: str) -> dict[str, str]:
    """{address: why} of every other inventory host that needs to reach a service of ``plan``.

    The host itself is left out: what it sends to its own addresses arrives on loopback.
    """
    why: dict[str, list[str]] = {}
    for edge in edge_hosts(inventory):
        why.setdefault(edge.address, []).append(f"nginx on {edge.name}")
    for monitor in inventory.hosts_running(MONITOR):
        why.setdefault(monitor.address, []).append(f"monitor on {monitor.name}")
    if service_name in plan.settings.fks_firewall_open_services:
        for other in inventory.hosts:
            why.setdefault(other.address, []).append(f"{other.name} (fks_firewall_open_services)")
    why.pop(plan.address, None)
    return {address: ", ".join(reasons) for address, reasons in why.items()}


def _rule(name: str, port: int, peers: dict[str, str]) -> ServiceRule:
    addresses = sorted(peers, key=ipaddress.ip_address)
    return ServiceRule(
        name=name,
        port=port,
        ipv4=tuple(a for a in addresses if ipaddress.ip_address(a).version == 4),
        ipv6=tuple(a for a in addresses if ipaddress.ip_address(a).version == 6),
        reason="; ".join(sorted(set(peers.values()))),
    )


def support_peers(
    plan: HostPlan, inventory: InventoryPlan
) -> list[tuple[str, int, dict[str, str]]]:
    """(name, port, {address: why}) of the supporting ports other hosts reach on ``plan``."""
    found: list[tuple[str, int, dict[str, str]]] = []
    monitors = {
        m.address: f"prometheus on {m.name}"
        for m in inventory.hosts_running(MONITOR)
        if m.address != plan.address
    }
    found.append(("node-exporter", NODE_EXPORTER, monitors))
    if Role.DATASTORE in plan.roles:
        for name, port, wanted in (
            ("postgresql", POSTGRES, "needs_postgres"),
            ("redis", REDIS, "needs_redis"),
        ):
            readers: dict[str, list[str]] = {}
            for other in inventory.hosts:
                users = [s.name for s in other.services if getattr(s, wanted)]
                if users and other.address != plan.address:
                    readers.setdefault(other.address, []).append(
                        f"{', '.join(users)} on {other.name}"
                    )
            found.append((name, port, {a: "; ".join(w) for a, w in readers.items()}))
    return [(name, port, peers) for name, port, peers in found if peers]


def firewall_context(
    plan: HostPlan, inventory: InventoryPlan, ssh_ports: Iterable[int]
) -> FirewallContext:
    """The firewall of one host; ``ssh_ports`` are where its sshd can be reached."""
    settings = plan.settings
    rules = []
    for service in plan.services:
        peers = peers_of(plan, inventory, service.name)
        if peers:
            rules.append(_rule(service.name, service.port, peers))
    rules += [_rule(name, port, peers) for name, port, peers in support_peers(plan, inventory)]
    return FirewallContext(
        enabled=settings.fks_firewall_enabled,
        table=TABLE,
        ssh_ports=tuple(sorted(set(ssh_ports))) or (SSH,),
        web_ports=WEB_PORTS if serves_edge(plan) else (),
        public_tcp_ports=tuple(sorted(set(settings.fks_firewall_public_tcp_ports))),
        public_udp_ports=tuple(sorted(set(settings.fks_firewall_public_udp_ports))),
        service_rules=tuple(rules),
    )


def render_ruleset(
    plan: HostPlan, inventory: InventoryPlan, ssh_ports: Iterable[int] = (SSH,)
) -> str:
    """The text of ``/etc/nftables.conf`` for one host."""
    return render(RULESET_TEMPLATE, firewall_context(plan, inventory, ssh_ports).template_vars())
