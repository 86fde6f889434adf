"""Monitoring: the node exporter on every host; Prometheus, Alertmanager and the blackbox
exporter on the host running ``monitor``; Grafana provisioning files for an operator.

Every config goes live through ``checked_files``, checked by the program that reads it
(``promtool check config`` and ``check rules``, ``amtool check-config``, the blackbox
exporter's ``--config.check``); a refused candidate fails the run and the running daemon
keeps its config. The daemons listen on localhost (the node exporter on the private
address, opened to the monitor host by the firewall).
"""

from __future__ import annotations

from pyinfra.api.deploy import deploy

from fks_infra.monitoring.config import (
    ALERTMANAGER_CONFIG,
    ALERTMANAGER_CONFIG_GROUP,
    ALERTMANAGER_CONFIG_MODE,
    BLACKBOX_CONFIG,
    DEFAULTS_FILES,
    NODE_EXPORTER_DEFAULTS,
    NODE_EXPORTER_UNIT,
    PROMETHEUS_CONFIG,
    RULES_FILE,
    render_alertmanager,
    render_blackbox,
    render_defaults,
    render_grafana,
    render_node_exporter_defaults,
    render_prometheus,
)
from fks_infra.operations.apt import packages
from fks_infra.operations.checked import checked_files
from fks_infra.operations.files import daemon_files, private_file
from fks_infra.plan import HostPlan, InventoryPlan


@deploy("Node exporter")
def install_node_exporter(plan: HostPlan) -> None:
    """prometheus-node-exporter from the distribution, on the private address."""
    # Without recommends: the textfile collectors' timers (smartmon, ipmitool, nvme) would
    # fail on hosts without that hardware and are not scraped anyway.
    packages(name="Install the node exporter", names=["prometheus-node-exporter"], recommends=False)
    daemon_files(
        name=f"Render {NODE_EXPORTER_DEFAULTS} (restart {NODE_EXPORTER_UNIT} when it changed)",
        unit=NODE_EXPORTER_UNIT,
        files=[(NODE_EXPORTER_DEFAULTS, render_node_exporter_defaults(plan).encode(), "644")],
    )


@deploy("Monitoring")
def install_monitoring(plan: HostPlan, inventory: InventoryPlan) -> None:
    """Prometheus, Alertmanager, blackbox exporter; configs from the whole inventory's plan."""
    packages(
        name="Install Prometheus, Alertmanager and the blackbox exporter",
        names=["prometheus", "prometheus-alertmanager", "prometheus-blackbox-exporter"],
        recommends=False,
    )
    checked_files(
        name=f"Render {PROMETHEUS_CONFIG} and {RULES_FILE}",
        label="prometheus",
        files=render_prometheus(plan, inventory),
        check=(
            "promtool check config --lint=none {candidate}" + PROMETHEUS_CONFIG + " && "
            "promtool check rules --lint=none {candidate}" + RULES_FILE
        ),
        # SIGHUP: Prometheus loads the new config and keeps its data and its running state.
        activate="systemctl reload-or-restart prometheus.service",
    )
    checked_files(
        name=f"Render {ALERTMANAGER_CONFIG}",
        label="alertmanager",
        files={ALERTMANAGER_CONFIG: render_alertmanager(plan, inventory)},
        check="amtool check-config {candidate}" + ALERTMANAGER_CONFIG,
        activate="systemctl reload-or-restart prometheus-alertmanager.service",
        # The webhook URL in it is a credential: never world-readable.
        mode=ALERTMANAGER_CONFIG_MODE,
        group=ALERTMANAGER_CONFIG_GROUP,
    )
    checked_files(
        name=f"Render {BLACKBOX_CONFIG}",
        label="blackbox",
        files={BLACKBOX_CONFIG: render_blackbox()},
        check="prometheus-blackbox-exporter --config.check --config.file={candidate}"
        + BLACKBOX_CONFIG,
        activate="systemctl reload-or-restart prometheus-blackbox-exporter.service",
    )
    defaults = render_defaults(plan)
    for unit, path in DEFAULTS_FILES.items():
        daemon_files(
            name=f"Render {path} (restart {unit} when it changed)",
            unit=unit,
            files=[(path, defaults[path].encode(), "644")],
        )
    for path, text in render_grafana(plan, inventory).items():
        private_file(name=f"Render {path}", content=text.encode(), dest=path, mode="644")
