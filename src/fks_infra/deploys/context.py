"""The plan of the inventory pyinfra is running against, validated once per run.

Every deploy file starts with ``host_plan()``: the whole inventory (not only ``--limit``ed
hosts) is validated before pyinfra plans a single operation, and a problem stops the run
with the same messages ``fks-infra check`` prints.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any

import click
from pyinfra.api.exceptions import PyinfraError
from pyinfra.context import host, inventory

from fks_infra.deploys.runlock import hold_run_lock
from fks_infra.errors import ProblemsError
from fks_infra.inventory import plan_for_inventory
from fks_infra.plan import HostPlan, InventoryPlan


class InvalidInventoryError(PyinfraError):
    """Raised from a deploy file; pyinfra prints it as an error line, not a traceback."""


_plans: dict[int, InventoryPlan] = {}


def inventory_plan() -> InventoryPlan:
    """The validated plan of the current pyinfra inventory (computed once per run)."""
    # pyinfra's ``inventory`` is a context proxy; plan against the real object behind it.
    current: Any = inventory._get_module()  # type: ignore[attr-defined]
    key = id(current)
    if key not in _plans:
        try:
            path = _inventory_argument()
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


def _inventory_argument() -> str:
    """The inventory path as given on pyinfra's command line (for messages).

    Deploy files run in gevent greenlets where click's current context is not visible, so
    the command line is parsed again with pyinfra's own click command.
    """
    from pyinfra_cli.cli import cli

    try:
        context = cli.make_context("pyinfra", sys.argv[1:], resilient_parsing=True)
    except click.ClickException:
        return "the inventory"
    return str(context.params.get("inventory") or "the inventory")
