"""Provision bridge hosts only (meta: MetaTrader 5, ninja: NinjaTrader 8).

    pyinfra inventory/prod.py deploy/bridge.py

Hosts outside the bridge role are left alone. The whole inventory is still validated first.
"""

from fks_infra.catalogue import Role
from fks_infra.deploys.base import prepare_host
from fks_infra.deploys.context import host_plan, inventory_plan
from fks_infra.deploys.edge import configure_firewall, configure_time, harden_sshd
from fks_infra.deploys.monitoring import install_node_exporter
from fks_infra.deploys.services import install_services
from fks_infra.deploys.tailscale import join_tailnet

plan = host_plan()
inventory = inventory_plan()

if Role.BRIDGE in plan.roles:
    prepare_host(plan)
    # After prepare_host: the auth key goes through its staging directory.
    join_tailnet(plan)
    harden_sshd(plan)
    configure_time(plan)
    install_services(plan, inventory)
    install_node_exporter(plan)
    # Last: by now every service and nginx the rules open ports for is in place.
    configure_firewall(plan, inventory)
