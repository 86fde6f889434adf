"""Monitoring rendered from the plan of the whole inventory.

The host running the ``monitor`` service runs Prometheus, Alertmanager and the blackbox
exporter from the distribution, all on localhost. Prometheus scrapes every placed service's
``/metrics``, every host's node exporter, and (through the blackbox exporter) every
service's health path; the alert rules cover a service down, a health check failing, a
host down and a disk almost full. Grafana is not in Debian: its provisioning files (the
Prometheus datasource and one host x service health dashboard) are rendered for an operator
to point a Grafana at. No pyinfra import.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from fks_infra.addresses import socket_address
from fks_infra.nginx.config import placed_port
from fks_infra.plan import HostPlan, InventoryPlan
from fks_infra.ports import ALERTMANAGER, BLACKBOX_EXPORTER, NODE_EXPORTER, PROMETHEUS
from fks_infra.secrets import ALERTMANAGER_WEBHOOK_URL
from fks_infra.templating import render

#: The service whose host runs Prometheus and scrapes every other service and host.
MONITOR = "monitor"
PROMETHEUS_CONFIG = "/etc/prometheus/prometheus.yml"
#: Named relative to prometheus.yml in it, so a candidate copy is checked with its own rules.
RULES_FILE = "/etc/prometheus/rules/fks.rules.yml"
ALERTMANAGER_CONFIG = "/etc/prometheus/alertmanager.yml"
#: alertmanager.yml may hold the webhook URL (a credential): readable by root and by the
#: group Debian's prometheus-alertmanager.service runs as (User=prometheus) only.
ALERTMANAGER_CONFIG_MODE = "640"
ALERTMANAGER_CONFIG_GROUP = "prometheus"
BLACKBOX_CONFIG = "/etc/prometheus/blackbox.yml"
#: Grafana provisioning, for an operator's Grafana (``paths.provisioning`` in grafana.ini).
GRAFANA_DIR = "/etc/fks-infra/grafana"
GRAFANA_DATASOURCE_UID = "fks-prometheus"

#: Debian's unit of each daemon -> its /etc/default file (read as ``$ARGS``).
DEFAULTS_FILES: Mapping[str, str] = {
    "prometheus.service": "/etc/default/prometheus",
    "prometheus-alertmanager.service": "/etc/default/prometheus-alertmanager",
    "prometheus-blackbox-exporter.service": "/etc/default/prometheus-blackbox-exporter",
}
NODE_EXPORTER_UNIT = "prometheus-node-exporter.service"
NODE_EXPORTER_DEFAULTS = "/etc/default/prometheus-node-exporter"
#: The alerts the rules define, by name (the lab and the docs refer to them).
ALERTS = ("FksServiceDown", "FksHealthFailing", "FksHostDown", "FksDiskAlmostFull")


def monitor_host(inventory: InventoryPlan) -> HostPlan:
    """The host running ``monitor`` (a unique service: exactly one)."""
    return inventory.hosts_running(MONITOR)[0]


def runs_monitoring(plan: HostPlan) -> bool:
    return plan.runs(MONITOR)


@dataclass(frozen=True)
class ScrapeTarget:
    """One thing Prometheus scrapes or probes: ``target`` is host:port or a URL."""

    target: str
    host: str
    service: str


@dataclass(frozen=True)
class MonitoringContext:
    scrape_interval: int
    alert_for: str
    disk_free_percent: int
    prometheus: str
    alertmanager: str
    blackbox: str
    services: tuple[ScrapeTarget, ...]
    nodes: tuple[ScrapeTarget, ...]
    health: tuple[ScrapeTarget, ...]

    def template_vars(self) -> dict[str, object]:
        return asdict(self)


def _reach(plan: HostPlan, monitor: HostPlan) -> str:
    """Where the monitor host reaches ``plan``'s services: where they listen."""
    return monitor.bind_address if plan.name == monitor.name else plan.address


def monitoring_context(plan: HostPlan, inventory: InventoryPlan) -> MonitoringContext:
    """What the monitor host ``plan`` scrapes: every host and placed service of the inventory."""
    services, health = [], []
    for other in inventory.hosts:
        address = _reach(other, plan)
        for service in other.services:
            where = socket_address(address, placed_port(other, service.name))
            services.append(ScrapeTarget(where, other.name, service.name))
            health.append(
                ScrapeTarget(f"http://{where}{service.health_path}", other.name, service.name)
            )
    nodes = tuple(
        ScrapeTarget(socket_address(other.address, NODE_EXPORTER), other.name, "node")
        for other in inventory.hosts
    )
    settings = plan.settings
    return MonitoringContext(
        scrape_interval=settings.fks_prometheus_scrape_interval,
        alert_for=settings.fks_alert_for,
        disk_free_percent=settings.fks_alert_disk_free_percent,
        prometheus=socket_address("127.0.0.1", PROMETHEUS),
        alertmanager=socket_address("127.0.0.1", ALERTMANAGER),
        blackbox=socket_address("127.0.0.1", BLACKBOX_EXPORTER),
        services=tuple(services),
        nodes=nodes,
        health=tuple(health),
    )


def render_prometheus(plan: HostPlan, inventory: InventoryPlan) -> dict[str, str]:
    """{live path: text} of prometheus.yml and its rules, checked together by promtool."""
    variables = monitoring_context(plan, inventory).template_vars()
    return {
        PROMETHEUS_CONFIG: render("etc/prometheus/prometheus.yml.j2", variables),
        RULES_FILE: render("etc/prometheus/rules/fks.rules.yml.j2", variables),
    }


def render_alertmanager(plan: HostPlan, inventory: InventoryPlan) -> str:
    """The text of alertmanager.yml. It holds the webhook URL, a credential (secret
    ``ALERTMANAGER_WEBHOOK_URL``, where ``fks_alertmanager_webhook_enabled``): the file is
    root:prometheus 0640 (``ALERTMANAGER_CONFIG_MODE``, ``_GROUP``), never diffed. The URL is
    written as a JSON string, which is a YAML double-quoted scalar."""
    webhook = plan.secrets.get(ALERTMANAGER_WEBHOOK_URL)
    variables = {
        **monitoring_context(plan, inventory).template_vars(),
        "webhook_url": json.dumps(webhook.get_secret_value()) if webhook else None,
    }
    return render("etc/prometheus/alertmanager.yml.j2", variables)


def render_blackbox() -> str:
    return render("etc/prometheus/blackbox.yml.j2", {})


def render_defaults(plan: HostPlan) -> dict[str, str]:
    """{path: text} of the /etc/default files of the monitor host's daemons: localhost only."""
    retention = plan.settings.fks_prometheus_retention
    arguments = {
        "prometheus.service": (
            f"--web.listen-address=127.0.0.1:{PROMETHEUS} --storage.tsdb.retention.time={retention}"
        ),
        # No cluster: one Alertmanager, and no gossip port (9094) open anywhere.
        "prometheus-alertmanager.service": (
            f"--web.listen-address=127.0.0.1:{ALERTMANAGER} --cluster.listen-address="
        ),
        "prometheus-blackbox-exporter.service": (
            f"--config.file={BLACKBOX_CONFIG} --web.listen-address=127.0.0.1:{BLACKBOX_EXPORTER}"
        ),
    }
    return {
        path: render("etc/default/prometheus-daemon.j2", {"unit": unit, "args": arguments[unit]})
        for unit, path in DEFAULTS_FILES.items()
    }


def render_node_exporter_defaults(plan: HostPlan) -> str:
    """/etc/default/prometheus-node-exporter: the private address only."""
    listen = socket_address(plan.address, NODE_EXPORTER)
    return render(
        "etc/default/prometheus-daemon.j2",
        {"unit": NODE_EXPORTER_UNIT, "args": f"--web.listen-address={listen}"},
    )


def _yaml_json(value: object) -> str:
    """A YAML file written as JSON (a subset of YAML): exact, and readable by any JSON tool."""
    return "# managed by fks-infra; do not edit\n" + json.dumps(value, indent=2) + "\n"


def render_grafana(plan: HostPlan, inventory: InventoryPlan) -> dict[str, str]:
    """{path: text} of the Grafana provisioning files (an operator's Grafana reads them)."""
    datasource = {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "FKS Prometheus",
                "uid": GRAFANA_DATASOURCE_UID,
                "type": "prometheus",
                "access": "proxy",
                "url": f"http://127.0.0.1:{PROMETHEUS}",
                "isDefault": True,
                "editable": False,
            }
        ],
    }
    provider = {
        "apiVersion": 1,
        "providers": [
            {
                "name": "fks",
                "folder": "FKS",
                "type": "file",
                "disableDeletion": True,
                "options": {"path": f"{GRAFANA_DIR}/dashboards"},
            }
        ],
    }
    return {
        f"{GRAFANA_DIR}/provisioning/datasources/fks.yaml": _yaml_json(datasource),
        f"{GRAFANA_DIR}/provisioning/dashboards/fks.yaml": _yaml_json(provider),
        f"{GRAFANA_DIR}/dashboards/fks-health.json": json.dumps(
            health_dashboard(inventory), indent=2
        )
        + "\n",
    }


def health_dashboard(inventory: InventoryPlan) -> dict[str, object]:
    """One dashboard: a host x service table of health probes, and hosts up."""
    source = {"type": "prometheus", "uid": GRAFANA_DATASOURCE_UID}
    mapping = [
        {
            "type": "value",
            "options": {
                "0": {"text": "FAILING", "color": "red"},
                "1": {"text": "ok", "color": "green"},
            },
        }
    ]
    return {
        "uid": "fks-health",
        "title": "FKS health",
        "tags": ["fks"],
        "schemaVersion": 39,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "panels": [
            {
                "id": 1,
                "type": "table",
                "title": "Health (/health answers 200): host x service",
                "datasource": source,
                "gridPos": {"x": 0, "y": 0, "w": 24, "h": 2 + 2 * len(inventory.hosts)},
                "targets": [
                    {
                        "refId": "A",
                        "datasource": source,
                        "expr": 'probe_success{job="fks_health"}',
                        "instant": True,
                        "format": "table",
                    }
                ],
                "transformations": [
                    {
                        "id": "groupingToMatrix",
                        "options": {
                            "rowField": "host",
                            "columnField": "service",
                            "valueField": "Value",
                        },
                    }
                ],
                "fieldConfig": {
                    "defaults": {
                        "mappings": mapping,
                        "custom": {"cellOptions": {"type": "color-background"}},
                    },
                    "overrides": [],
                },
            },
            {
                "id": 2,
                "type": "stat",
                "title": "Hosts up (node exporter)",
                "datasource": source,
                "gridPos": {"x": 0, "y": 2 + 2 * len(inventory.hosts), "w": 24, "h": 4},
                "targets": [
                    {
                        "refId": "A",
                        "datasource": source,
                        "expr": 'up{job="node"}',
                        "legendFormat": "{{host}}",
                    }
                ],
                "fieldConfig": {"defaults": {"mappings": mapping}, "overrides": []},
            },
        ],
    }
