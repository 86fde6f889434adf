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
tailnet admins (``fks_tailscale_admins``, people) reaching SSH and HTTPS. The egress policy
of issue #13 extends this model with outbound needs. No pyinfra import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

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
