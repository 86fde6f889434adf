"""Deploy the FKS stack: every host gets what its roles need.

    pyinfra inventory/prod.py deploy/all.py [--limit HOST] [--serial]

The whole inventory is validated first (the same checks as ``fks-infra check``): a bad
inventory stops the run before any operation. ``--serial`` (or ``--parallel N``) rolls
hosts out in batches, so one bad release cannot take every host of a role down at once.
"""

from fks_infra.catalogue import Role
from fks_infra.deploys.base import prepare_host
from fks_infra.deploys.context import host_plan, inventory_plan
from fks_infra.deploys.datastores import install_postgres, install_redis
from fks_infra.deploys.edge import configure_firewall, configure_nginx, configure_time, harden_sshd
from fks_infra.deploys.gpu import install_gpu_driver
from fks_infra.deploys.monitoring import install_monitoring, install_node_exporter
from fks_infra.deploys.services import install_services
from fks_infra.deploys.tailscale import join_tailnet
from fks_infra.monitoring import runs_monitoring
from fks_infra.nginx import serves_edge

plan = host_plan()
inventory = inventory_plan()

prepare_host(plan)
# After prepare_host: the auth key goes through its staging directory.
join_tailnet(plan)
harden_sshd(plan)
configure_time(plan)
# Before the services: ai and training start on a host whose driver is in place.
install_gpu_driver(plan)
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
