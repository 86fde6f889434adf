"""Provision bridge hosts only (meta: MetaTrader 5, ninja: NinjaTrader 8).

    pyinfra inventory/prod.py deploy/bridge.py

Hosts outside the bridge role are left alone. The whole inventory is still validated first.
"""

from fks_infra.catalogue import Role
from fks_infra.run.stages import deploy_roles

deploy_roles(Role.BRIDGE)
