"""Deploy the FKS stack: every host gets what its roles need.

    pyinfra inventory/prod.py deploy/all.py [--limit HOST] [--serial]

The whole inventory is validated first (the same checks as ``fks-infra check``): a bad
inventory stops the run before any operation. ``--serial`` (or ``--parallel N``) rolls
hosts out in batches, so one bad release cannot take every host of a role down at once.
"""

from fks_infra.deploys.base import prepare_host
from fks_infra.deploys.context import host_plan, inventory_plan
from fks_infra.deploys.services import install_services
from fks_infra.deploys.tailscale import join_tailnet

plan = host_plan()

prepare_host(plan)
# After prepare_host: the auth key goes through its staging directory.
join_tailnet(plan)
install_services(plan, inventory_plan())
