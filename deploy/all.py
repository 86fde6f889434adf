"""Deploy the FKS stack: every host gets what its roles need.

    pyinfra inventory/prod.py deploy/all.py

The whole inventory is validated first (the same checks as ``fks-infra check``): a bad
inventory stops the run before any operation.
"""

from fks_infra.deploys.context import host_plan

plan = host_plan()
