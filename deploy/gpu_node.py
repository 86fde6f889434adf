"""Provision GPU nodes only: one new node end to end with --limit.

    pyinfra inventory/prod.py deploy/gpu_node.py --limit gpu-2

Hosts outside the gpu role are left alone. The whole inventory is still validated first.
"""

from fks_infra.catalogue import Role
from fks_infra.run.stages import deploy_roles

deploy_roles(Role.GPU)
