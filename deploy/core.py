"""Provision core hosts only (CPU core, infrastructure and orchestrator services).

    pyinfra inventory/prod.py deploy/core.py [--limit core-2]

Hosts outside the core role are left alone. The whole inventory is still validated first.
"""

from fks_infra.catalogue import Role
from fks_infra.run.stages import deploy_roles

deploy_roles(Role.CORE)
