"""nginx, the stack's HTTPS entry point, rendered from the placement of the whole inventory.

Every edge host (``serves_edge``) gets the same site: one upstream per catalogue service
(``fks_<name>``) listing every inventory host that runs it, ``/`` to web, ``/api/`` to api
behind a per-client rate limit, ``/health/<name>`` to that service's health path. The files
are relative to each other (``include fks/site.conf``), so the same bytes can be tested as a
candidate in another directory (``nginx -t -c <candidate>/etc/nginx/nginx.conf``) before they
go live. No pyinfra import.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from fks_infra.addresses import socket_address
from fks_infra.catalogue import Role, Service
from fks_infra.distro import Distro
from fks_infra.nginx.tls import TlsFiles
from fks_infra.plan import HostPlan, InventoryPlan
from fks_infra.templating import render

#: Live path on the host -> template (relative to ``templates/``), in the order nginx reads them.
NGINX_FILES: Mapping[str, str] = {
    "/etc/nginx/nginx.conf": "etc/nginx/nginx.conf.j2",
    "/etc/nginx/fks/upstreams.conf": "etc/nginx/fks/upstreams.conf.j2",
    "/etc/nginx/fks/site.conf": "etc/nginx/fks/site.conf.j2",
}
MAIN_CONFIG = "/etc/nginx/nginx.conf"

#: The service behind ``/`` and the one behind ``/api/``.
WEB, API = "web", "api"


def serves_edge(plan: HostPlan) -> bool:
    """Whether the host runs nginx: ``fks_nginx_enabled``, else whether it is a core host."""
    enabled = plan.settings.fks_nginx_enabled
    return Role.CORE in plan.roles if enabled is None else enabled


def edge_hosts(inventory: InventoryPlan) -> tuple[HostPlan, ...]:
    return tuple(plan for plan in inventory.hosts if serves_edge(plan))


def placed_port(plan: HostPlan, name: str) -> int:
    """The port of a service on one host (after that host's port overrides)."""
    return next(service.port for service in plan.services if service.name == name)


@dataclass(frozen=True)
class Upstream:
    name: str
    servers: tuple[str, ...]


@dataclass(frozen=True)
class HealthRoute:
    path: str
    upstream: str
    health_path: str


@dataclass(frozen=True)
class NginxContext:
    """Every value the nginx templates read."""

    server_name: str
    certificate: str
    key: str
    upstreams: tuple[Upstream, ...]
    web_upstream: str
    api_upstream: str
    health_routes: tuple[HealthRoute, ...]
    client_max_body_size: str
    proxy_timeout: int
    api_rate: int
    api_burst: int
    #: ``http2 on;`` rather than ``listen ... http2`` (the host's nginx, ``Distro``)
    http2_directive: bool

    def template_vars(self) -> dict[str, object]:
        return asdict(self)


def nginx_context(
    plan: HostPlan, inventory: InventoryPlan, tls: TlsFiles, distro: Distro
) -> NginxContext:
    """The context of one edge host's nginx: the site is the same on every edge host."""
    services: tuple[Service, ...] = tuple(inventory.catalogue)
    upstreams = tuple(
        Upstream(
            service.upstream,
            tuple(
                socket_address(other.address, placed_port(other, service.name))
                for other in inventory.hosts_running(service.name)
            ),
        )
        for service in services
    )
    empty = [upstream.name for upstream in upstreams if not upstream.servers]
    if empty:
        # The plan places every service somewhere; an empty upstream means a broken plan.
        raise ValueError(f"upstreams without a server: {', '.join(empty)}")
    settings = plan.settings
    return NginxContext(
        server_name=settings.fks_nginx_server_name,
        certificate=tls.certificate,
        key=tls.key,
        upstreams=upstreams,
        web_upstream=inventory.catalogue[WEB].upstream,
        api_upstream=inventory.catalogue[API].upstream,
        health_routes=tuple(
            HealthRoute(f"/health/{s.name}", s.upstream, s.health_path) for s in services
        ),
        client_max_body_size=settings.fks_nginx_client_max_body_size,
        proxy_timeout=settings.fks_nginx_proxy_timeout,
        api_rate=settings.fks_nginx_api_rate,
        api_burst=settings.fks_nginx_api_burst,
        http2_directive=distro.nginx_http2_directive,
    )


def render_nginx(
    plan: HostPlan, inventory: InventoryPlan, tls: TlsFiles, distro: Distro
) -> dict[str, str]:
    """Every nginx file of an edge host running ``distro``: {live path: text}."""
    variables = nginx_context(plan, inventory, tls, distro).template_vars()
    return {path: render(template, variables) for path, template in NGINX_FILES.items()}
