"""Deploy the FKS stack: every host gets what its roles need.

    pyinfra inventory/prod.py deploy/all.py [--limit HOST] [--serial]

The whole inventory is validated first (the same checks as ``fks-infra check``): a bad
inventory stops the run before any operation. ``--serial`` (or ``--parallel N``) rolls
hosts out in batches, so one bad release cannot take every host of a role down at once.
The stages and their order: ``fks_infra/run/stages.py``.
"""

from fks_infra.run.stages import deploy_roles

deploy_roles()
