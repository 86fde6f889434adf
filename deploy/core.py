"""Provision core hosts only (CPU core, infrastructure and orchestrator services).

    pyinfra inventory/prod.py deploy/core.py [--limit core-2]

Hosts outside the core role are left alone. The whole inventory is still validated first.
"""

from fks_infra.catalogue import Role
from fks_infra.deploys.base import prepare_host
from fks_infra.deploys.context import host_plan, inventory_plan
from fks_infra.deploys.datastores import install_postgres, install_redis
from fks_infra.deploys.edge import configure_firewall, configure_nginx, configure_time, harden_sshd
from fks_infra.deploys.monitoring import install_monitoring, install_node_exporter
from fks_infra.deploys.services import install_services
from fks_infra.deploys.tailscale import join_tailnet
from fks_infra.monitoring import runs_monitoring
from fks_infra.nginx import serves_edge

plan = host_plan()
inventory = inventory_plan()

if Role.CORE in plan.roles:
    prepare_host(plan)
    # After prepare_host: the auth key goes through its staging directory.
    join_tailnet(plan)
    harden_sshd(plan)
    configure_time(plan)
    # Before the services: they read PostgreSQL and Redis from their first start.
    if Role.DATASTORE in plan.roles:
        install_postgres(plan, inventory)
        install_redis(plan)
    install_services(plan, inventory)
    install_node_exporter(plan)
    # After the services everywhere: its first scrapes and probes find them up.
    if runs_monitoring(plan):
        install_monitoring(plan, inventory)
    if serves_edge(plan):
        configure_nginx(plan, inventory)
    # Last: by now every service and nginx the rules open ports for is in place.
    configure_firewall(plan, inventory)
