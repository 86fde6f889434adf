"""Who must reach whom: every inbound need of an inventory, from the catalogue and the placement.

One model for three renderers. The nftables firewall (``firewall.ruleset``), the tailnet
policy (``tailscale.policy``) and PostgreSQL's ``pg_hba.conf`` (``datastores.config``) all
read the ``Access`` rules computed here, and each renders the needs it enforces (in brackets):

- EDGE (nftables): every nginx host (``serves_edge``) reaches every service it proxies to;
- SCRAPE (nftables, tailnet): the host running ``monitor`` reaches every service and every
  host's node exporter;
- DATASTORE (nftables, tailnet, pg_hba for PostgreSQL): a host running a service that reads
  PostgreSQL or Redis reaches it on the datastore host;
- OPENED (nftables): every inventory host reaches a service its host names in
  ``fks_firewall_open_services``;
- CALL (tailnet): every core host reaches every service, because core services call them.
  nftables has never opened these: a core host without nginx is not let in by the private
  network's firewall, only by the tailnet policy.

A host's needs of itself are listed too: the firewall and the tailnet leave them out (what a
host sends to itself never crosses the network), ``pg_hba.conf`` admits them.

Not here, because no inventory host is their source: SSH from anywhere, 80/443 on nginx hosts
and ``fks_firewall_public_*_ports`` (the firewall opens them to every address), and the
tailnet admins (``fks_tailscale_admins``, people) reaching SSH and HTTPS.

Outbound needs (``Egress``): a service that talks to the outside (``Service.egress``, or the
host's ``fks_egress_services``) may reach what the host's egress settings allow; every other
service reaches only localhost and the inventory's hosts. Two renderers read them: the units
(``services.deploy.unit_options``: ``IPAddressAllow=`` and the proxy's variables) and the
tailnet policy (``tailscale.policy``: ``autogroup:internet``, the networks, the proxy). The
nftables firewall filters input only: it has no output chain, so egress is the units' alone.

No pyinfra import.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal
from urllib.parse import urlsplit

from fks_infra.catalogue import Role, Service
from fks_infra.monitoring.config import MONITOR
from fks_infra.nginx.config import edge_hosts
from fks_infra.plan import HostPlan, InventoryPlan
from fks_infra.ports import NODE_EXPORTER, POSTGRES, REDIS

#: What listens on the supporting ports, as rules and rule comments name it.
NODE_EXPORTER_NAME = "node-exporter"
POSTGRESQL_NAME = "postgresql"
REDIS_NAME = "redis"

#: The datastores of the datastore host: (what, port, whether a service reads it).
DATASTORES: tuple[tuple[str, int, Callable[[Service], bool]], ...] = (
    (POSTGRESQL_NAME, POSTGRES, lambda service: service.needs_postgres),
    (REDIS_NAME, REDIS, lambda service: service.needs_redis),
)


class Need(StrEnum):
    """Why a source must reach a destination; each renderer enforces some of them."""

    EDGE = "edge"
    SCRAPE = "scrape"
    DATASTORE = "datastore"
    OPENED = "opened"
    CALL = "call"


@dataclass(frozen=True)
class Access:
    """One inbound need: ``source`` must reach ``port`` on ``destination``.

    + source, destination: inventory host names (equal for a host's need of itself)
    + port: the port on the destination (its placed port for a service)
    + what: what listens there: a service name, ``node-exporter``, ``postgresql``, ``redis``
    + need: which rule of the placement asks for it (``Need``)
    + reason: who on the source needs it, for rule comments: ``nginx on core-1``,
      ``training on gpu-1``
    + protocol: always ``tcp`` today
    """

    source: str
    destination: str
    port: int
    what: str
    need: Need
    reason: str
    protocol: Literal["tcp"] = "tcp"


def access_to(inventory: InventoryPlan, destination: HostPlan) -> tuple[Access, ...]:
    """Every need of an inventory host to reach ``destination``, in a fixed order.

    Order: the destination's services in placement order (for each: EDGE, SCRAPE, OPENED,
    then CALL sources, each in inventory order), then its node exporter, then PostgreSQL
    and Redis if it is the datastore host. Renderers that group rules keep this order.
    """
    return tuple(_access_to(inventory, destination))


def inventory_access(inventory: InventoryPlan) -> tuple[Access, ...]:
    """Every inbound need of the inventory: ``access_to`` of each host, in inventory order."""
    return tuple(rule for plan in inventory.hosts for rule in _access_to(inventory, plan))


def _access_to(inventory: InventoryPlan, destination: HostPlan) -> Iterator[Access]:
    edges = edge_hosts(inventory)
    monitors = inventory.hosts_running(MONITOR)
    core = tuple(plan for plan in inventory.hosts if Role.CORE in plan.roles)
    opened = destination.settings.fks_firewall_open_services

    def to(source: HostPlan, port: int, what: str, need: Need, reason: str) -> Access:
        return Access(source.name, destination.name, port, what, need, reason)

    for service in destination.services:
        port, name = service.port, service.name
        yield from (to(e, port, name, Need.EDGE, f"nginx on {e.name}") for e in edges)
        yield from (to(m, port, name, Need.SCRAPE, f"monitor on {m.name}") for m in monitors)
        if name in opened:
            reason = "{} (fks_firewall_open_services)"
            yield from (
                to(h, port, name, Need.OPENED, reason.format(h.name)) for h in inventory.hosts
            )
        yield from (to(c, port, name, Need.CALL, f"core services on {c.name}") for c in core)
    for monitor in monitors:
        yield to(
            monitor, NODE_EXPORTER, NODE_EXPORTER_NAME, Need.SCRAPE, f"prometheus on {monitor.name}"
        )
    if Role.DATASTORE in destination.roles:
        for what, port, reads in DATASTORES:
            for source in inventory.hosts:
                readers = [service.name for service in source.services if reads(service)]
                if readers:
                    reason = f"{', '.join(readers)} on {source.name}"
                    yield to(source, port, what, Need.DATASTORE, reason)


#: The variables a proxy is named by: upper case (Go, Python, most tools) and lower case
#: (curl reads ``http_proxy`` in lower case only); ``fks_service_environment`` may not set them.
PROXY_VARIABLES = (
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
    "https_proxy",
    "http_proxy",
    "no_proxy",
)
#: Where a host's DNS resolvers are read from (``nameserver`` lines, resolv.conf(5)).
RESOLV_CONF = "/etc/resolv.conf"


class Reach(StrEnum):
    """What an egress service may reach outside the inventory."""

    #: Every address: ``fks_egress_allow`` and ``fks_egress_proxy`` unset.
    ANY = "any"
    #: The networks of ``fks_egress_allow`` and the host's DNS resolvers.
    NETWORKS = "networks"
    #: The proxy of ``fks_egress_proxy`` (and the networks of ``fks_egress_allow`` if set).
    PROXY = "proxy"


@dataclass(frozen=True)
class Egress:
    """One outbound need: ``service`` on ``host`` talks to the outside.

    + host: the inventory host name
    + service: the service's name
    + reach: ``Reach.ANY``, ``NETWORKS`` or ``PROXY``
    + networks: the networks of ``fks_egress_allow`` as given (CIDR text), in order; empty
      for ``ANY`` and for a proxy without them
    + proxy: the proxy URL (``fks_egress_proxy``), or None
    + reason: why, for comments: ``execution (catalogue)``, ``analyze (fks_egress_services)``

    A proxy named by an IP address is reached at that address (``proxy_address``); one named
    by DNS name only inside ``networks`` (settings validation requires them).
    """

    host: str
    service: str
    reach: Reach
    networks: tuple[str, ...] = ()
    proxy: str | None = None
    reason: str = ""

    @property
    def needs_resolvers(self) -> bool:
        """Whether the host's DNS resolvers must be reachable: whenever networks are listed
        (names resolve there first); ``any`` covers them, a proxy resolves for its clients."""
        return bool(self.networks)

    @property
    def proxy_address(self) -> str | None:
        """The proxy's IP address when the URL names one, else None."""
        host = urlsplit(self.proxy).hostname if self.proxy else None
        if host is None:
            return None
        try:
            return str(ipaddress.ip_address(host))
        except ValueError:
            return None

    @property
    def proxy_port(self) -> int | None:
        """The proxy's TCP port (its scheme's default when the URL names none), or None."""
        if self.proxy is None:
            return None
        parts = urlsplit(self.proxy)
        return parts.port or (443 if parts.scheme == "https" else 80)

    def ip_allow(self, resolvers: Iterable[str] = ()) -> tuple[str, ...]:
        """What the unit's ``IPAddressAllow=`` adds for this need, besides the inventory.

        + resolvers: the host's DNS resolvers (``resolvers_in``), added when
          ``needs_resolvers``

        ``("any",)`` for ``ANY``; else the proxy's address, the networks and the resolvers.
        """
        if self.reach is Reach.ANY:
            return ("any",)
        found = [*((self.proxy_address,) if self.proxy_address else ()), *self.networks]
        if self.needs_resolvers:
            found += list(resolvers)
        return tuple(dict.fromkeys(found))

    def environment(self, no_proxy: Iterable[str]) -> tuple[tuple[str, str], ...]:
        """The proxy's variables for the unit, in ``PROXY_VARIABLES`` order; empty without one.

        + no_proxy: hosts reached directly (localhost, the inventory's names and addresses)
        """
        if self.proxy is None:
            return ()
        direct = ",".join(dict.fromkeys(no_proxy))
        values = {"HTTPS_PROXY": self.proxy, "HTTP_PROXY": self.proxy, "NO_PROXY": direct}
        return tuple((name, values[name.upper()]) for name in PROXY_VARIABLES)


def egress_services(plan: HostPlan) -> tuple[tuple[Service, str], ...]:
    """The services of ``plan`` that talk to the outside, in placement order, each with the
    source of that answer: ``fks_egress_services`` when set, else the catalogue."""
    chosen = plan.settings.fks_egress_services
    if chosen is None:
        return tuple((s, "catalogue") for s in plan.services if s.egress)
    return tuple((s, "fks_egress_services") for s in plan.services if s.name in chosen)


def egress_of(plan: HostPlan) -> tuple[Egress, ...]:
    """Every outbound need of one host, in placement order."""
    settings = plan.settings
    networks = settings.fks_egress_allow
    proxy = settings.fks_egress_proxy
    if proxy is not None:
        reach = Reach.PROXY
    elif networks is not None:
        reach = Reach.NETWORKS
    else:
        reach = Reach.ANY
    return tuple(
        Egress(
            host=plan.name,
            service=service.name,
            reach=reach,
            networks=tuple(networks or ()),
            proxy=proxy,
            reason=f"{service.name} ({source})",
        )
        for service, source in egress_services(plan)
    )


def egress_for(plan: HostPlan, service: Service) -> Egress | None:
    """The outbound need of ``service`` on ``plan``, or None for a service that has none."""
    return next((e for e in egress_of(plan) if e.service == service.name), None)


def inventory_egress(inventory: InventoryPlan) -> tuple[Egress, ...]:
    """Every outbound need of the inventory: ``egress_of`` each host, in inventory order."""
    return tuple(need for plan in inventory.hosts for need in egress_of(plan))


def no_proxy(inventory: InventoryPlan) -> tuple[str, ...]:
    """What a proxied service reaches directly: localhost and every inventory host, by name
    and by address (``NO_PROXY``; IPv6 addresses as they are, which curl, Go and Python take)."""
    hosts = [name for plan in inventory.hosts for name in (plan.name, plan.address)]
    return tuple(dict.fromkeys(["localhost", "127.0.0.1", "::1", *hosts]))


def resolvers_in(lines: Iterable[str]) -> tuple[str, ...]:
    """The DNS resolvers a unit must reach, from the ``nameserver`` lines of ``RESOLV_CONF``.

    Loopback resolvers (systemd-resolved's 127.0.0.53) are left out: ``localhost`` covers
    them. A scoped IPv6 link-local resolver (``fe80::1%eth0``) becomes ``link-local``: a
    ``%`` is a systemd specifier. Lines that name no address are ignored, as the resolver
    library does. Order kept, duplicates dropped.
    """
    found: list[str] = []
    for line in lines:
        words = line.split()
        if len(words) < 2 or words[0] != "nameserver":
            continue
        text, _, scope = words[1].partition("%")
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            continue
        if address.is_loopback:
            continue
        found.append("link-local" if scope or address.is_link_local else str(address))
    return tuple(dict.fromkeys(found))
