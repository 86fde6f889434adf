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

from fks_infra.distro import Distro, UnsupportedSystemError, distro_of
from fks_infra.errors import ProblemsError
from fks_infra.gpu.driver import driver_problems, needs_driver
from fks_infra.host.facts import OsRelease
from fks_infra.inventory import plan_for_inventory
from fks_infra.plan import HostPlan, InventoryPlan
from fks_infra.pyinfra_internals import cli_inventory_argument, current_inventory
from fks_infra.run.runlock import hold_run_lock
from fks_infra.tailscale.node import apt_source_problems


class InvalidInventoryError(PyinfraError):
    """Raised from a deploy file; pyinfra prints it as an error line, not a traceback."""


class UnsupportedHostError(PyinfraError):
    """A host's operating system, or a setting pinned against it, is not supported: raised
    while pyinfra plans, so no host has been changed."""


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


def host_distro(plan: HostPlan) -> Distro:
    """The supported release the current host runs, from its ``/etc/os-release``; and every
    setting of ``plan`` that pins something of another release refused.

    Read while pyinfra plans, before any operation of any host ran. Raises
    ``UnsupportedHostError`` naming the host, what it runs and what is supported, or the
    settings that do not fit its release.
    """
    os_release: dict[str, str] = host.get_fact(OsRelease)
    try:
        distro = distro_of(os_release)
    except UnsupportedSystemError as error:
        raise UnsupportedHostError(f"{host.name}: {error}; nothing was changed") from None
    problems = [
        *apt_source_problems(plan.settings, distro),
        *(driver_problems(plan.settings, distro) if needs_driver(plan.services) else []),
    ]
    if problems:
        report = "; ".join(
            str(problem.located(source=plan.sources.get(problem.key, ""), host=host.name))
            for problem in problems
        )
        raise UnsupportedHostError(f"{report}; nothing was changed")
    return distro
