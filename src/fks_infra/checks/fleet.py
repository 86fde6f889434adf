"""The hosts and services one verification run checks, and the connections to them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fks_infra.catalogue import Service
from fks_infra.connections import remote_host
from fks_infra.distro import Distro, distro_of, parse_os_release
from fks_infra.gpu.driver import needs_driver
from fks_infra.nginx.config import serves_edge
from fks_infra.plan import HostPlan, InventoryPlan


@dataclass(frozen=True)
class Target:
    """One thing to check: a service on a host (placed or meant to be absent)."""

    host: HostPlan
    service: Service

    def __str__(self) -> str:
        return f"{self.host.name}/{self.service.name}"


@dataclass(frozen=True)
class HostTarget:
    """One thing on a host that is not a service: ``nginx``, ``firewall``, ``sshd``, ``chrony``."""

    host: HostPlan
    thing: str

    def __str__(self) -> str:
        return f"{self.host.name}/{self.thing}"


@dataclass(frozen=True)
class RouteTarget:
    """One service as reached through the nginx of one edge host."""

    edge: HostPlan
    service: Service

    def __str__(self) -> str:
        return f"{self.edge.name}/nginx-{self.service.name}"


@dataclass(frozen=True)
class CompanionTarget:
    """One companion unit of a placed service (``web`` ``worker``)."""

    host: HostPlan
    service: Service
    companion: str

    @property
    def unit(self) -> str:
        return self.service.companion_unit(self.companion)

    def __str__(self) -> str:
        return f"{self.host.name}/{self.service.name}-{self.companion}"


@dataclass(frozen=True)
class Fleet:
    plan: InventoryPlan
    ssh_config: Path
    limit: frozenset[str]
    #: each host's pyinfra data: how the deploy reached it (ssh_port, ssh_user, _sudo)
    data: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def ssh_port(self, host_name: str) -> int:
        """Where the deploy reached the host's sshd."""
        return int(self.data.get(host_name, {}).get("ssh_port") or 22)

    def hosts(self) -> Iterator[HostPlan]:
        return (h for h in self.plan.hosts if not self.limit or h.name in self.limit)

    def placed(self) -> list[Target]:
        return [Target(h, s) for h in self.hosts() for s in h.services]

    def absent(self) -> list[Target]:
        return [
            Target(h, s) for h in self.hosts() for s in self.plan.catalogue if not h.runs(s.name)
        ]

    def edge(self) -> list[HostTarget]:
        return [HostTarget(h, "nginx") for h in self.hosts() if serves_edge(h)]

    def routes(self) -> list[RouteTarget]:
        return [RouteTarget(t.host, s) for t in self.edge() for s in self.plan.catalogue]

    def firewall(self) -> list[HostTarget]:
        return [HostTarget(h, "firewall") for h in self.hosts()]

    def sshd(self) -> list[HostTarget]:
        return [HostTarget(h, "sshd") for h in self.hosts()]

    def chrony(self) -> list[HostTarget]:
        return [HostTarget(h, "chrony") for h in self.hosts()]

    def gpu_host(self) -> list[HostTarget]:
        return [HostTarget(h, "nvidia") for h in self.hosts() if needs_driver(h.services)]

    def gpu_service(self) -> list[Target]:
        return [Target(h, s) for h in self.hosts() for s in h.services if s.needs_gpu]

    def windows_endpoint(self) -> list[HostTarget]:
        """``ninjatrader`` on hosts running ninja, ``mt5`` on hosts running meta."""
        return [
            HostTarget(h, thing)
            for h in self.hosts()
            for service, thing in (("ninja", "ninjatrader"), ("meta", "mt5"))
            if h.runs(service)
        ]

    def datastore(self) -> list[HostTarget]:
        return [HostTarget(h, "datastore") for h in self.hosts() if h is self.plan.datastore]

    def _first_per_host(self, wanted: Callable[[Service], bool]) -> list[Target]:
        return [
            Target(h, s)
            for h in self.hosts()
            for s in [next((s for s in h.services if wanted(s)), None)]
            if s is not None
        ]

    def postgres_clients(self) -> list[Target]:
        """Per host, the first service that reads PostgreSQL: its env file is the client's."""
        return self._first_per_host(lambda s: s.needs_postgres)

    def redis_clients(self) -> list[Target]:
        """Per host, the first service that reads Redis."""
        return self._first_per_host(lambda s: s.needs_redis)

    def datastore_strangers(self) -> list[HostTarget]:
        """Hosts that neither run the datastores nor a service reading them."""
        return [
            HostTarget(h, "datastore-stranger")
            for h in self.hosts()
            if h is not self.plan.datastore
            and not any(s.needs_postgres or s.needs_redis for s in h.services)
        ]

    def monitoring(self) -> list[HostTarget]:
        return [HostTarget(h, "monitoring") for h in self.hosts() if h.runs("monitor")]

    def node_exporter(self) -> list[HostTarget]:
        return [HostTarget(h, "node-exporter") for h in self.hosts()]

    def companions(self) -> list[CompanionTarget]:
        return [
            CompanionTarget(h, s, c) for h in self.hosts() for s in h.services for c in s.companions
        ]


current: Fleet | None = None
_connections: dict[str, Any] = {}


def connect(host_name: str) -> Any:
    """The testinfra host for an inventory host (one connection per host per session)."""
    assert current is not None, "no --fks-inventory given"
    if host_name not in _connections:
        data = current.data.get(host_name, {})
        _connections[host_name] = remote_host(host_name, data, current.ssh_config)
    return _connections[host_name]


def release(host: Any) -> Distro:
    """The release a live testinfra host runs, from its own ``/etc/os-release``."""
    return distro_of(parse_os_release(host.file("/etc/os-release").content_string))
