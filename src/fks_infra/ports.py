"""The well-known ports of the stack's other parts: one name for each, used everywhere.

The FKS services' own ports come from the catalogue (``catalogue.py``, from the seed port
table); these are the ports of what runs beside them. No FKS service may take one
(``RESERVED_PORTS``, checked by the catalogue). Figures are the upstream defaults: nginx and
HTTP(S) (RFC 9110), PostgreSQL (``port``, postgresql.conf), Redis (``port``, redis.conf),
Prometheus and its exporters (the Prometheus default port allocations wiki page), Grafana
(``http_port``), Tailscale's WireGuard (``tailscaled --port``).
"""

from __future__ import annotations

from collections.abc import Mapping

SSH = 22
HTTP = 80
HTTPS = 443
GRAFANA = 3000
POSTGRES = 5432
REDIS = 6379
PROMETHEUS = 9090
ALERTMANAGER = 9093
NODE_EXPORTER = 9100
BLACKBOX_EXPORTER = 9115
#: UDP: the default of ``fks_tailscale_port``.
TAILSCALE = 41641

#: Ports the stack uses for its other parts; no FKS service may take one of them.
RESERVED_PORTS: Mapping[int, str] = {
    HTTP: "nginx (http)",
    HTTPS: "nginx (https)",
    GRAFANA: "grafana",
    POSTGRES: "postgresql",
    REDIS: "redis",
    PROMETHEUS: "prometheus",
    ALERTMANAGER: "alertmanager",
    NODE_EXPORTER: "node exporter",
    BLACKBOX_EXPORTER: "blackbox exporter",
    TAILSCALE: "tailscale (udp)",
}
