"""The plan of the inventory pyinfra is running against, validated once per run.

Every deploy starts with ``host_plan()``: the whole inventory (not only ``--limit``ed hosts)
is validated before pyinfra plans a single operation, and a problem stops the run with the
same messages ``fks-infra check`` prints.
"""

from __future__ import annotations

import os
import socket
import sys

from pyinfra.api.exceptions import PyinfraError
from pyinfra.context import host

from fks_infra.errors import ProblemsError
from fks_infra.inventory import plan_for_inventory
from fks_infra.plan import HostPlan, InventoryPlan
from fks_infra.pyinfra_internals import cli_inventory_argument, current_inventory
from fks_infra.run.runlock import hold_run_lock


class InvalidInventoryError(PyinfraError):
    """Raised from a deploy file; pyinfra prints it as an error line, not a traceback."""


_plans: dict[int, InventoryPlan] = {}


def inventory_plan() -> InventoryPlan:
    """The validated plan of the current pyinfra inventory (computed once per run).

    Raises ``InvalidInventoryError`` with every problem of the inventory.
    """
    current = current_inventory()
    key = id(current)
    if key not in _plans:
        path = cli_inventory_argument(sys.argv[1:]) or "the inventory"
        try:
            _plans[key] = plan_for_inventory(current, path)
        except ProblemsError as error:
            raise InvalidInventoryError(f"invalid in {path}: {error.report()}") from None
    return _plans[key]


def host_plan() -> HostPlan:
    """The plan of the host pyinfra is currently preparing operations for.

    Validates the whole inventory first, then takes this host's run lock, so two runs never
    deploy to one host at once.
    """
    plan = inventory_plan().host(host.name)
    hold_run_lock(f"pid {os.getpid()} on {socket.gethostname()}")
    return plan
