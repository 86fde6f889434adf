"""Live verification of an inventory's hosts, generated from its plan.

    fks-infra verify INVENTORY            (or: pytest tests/infra --fks-inventory INVENTORY)

Checks exist only where the plan says a service runs (or must be absent), so the deploy
and the verification can never disagree about placement. Test ids read
``<host>/<service>/<check>``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from fks_infra.checks import fleet
from fks_infra.connections import write_ssh_config
from fks_infra.inventory import load_inventory, parse_data_option, plan_for_inventory

_tempdir = tempfile.TemporaryDirectory(prefix="fks-verify-")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fks-infra")
    group.addoption("--fks-inventory", help="inventory file whose hosts to verify")
    group.addoption("--fks-limit", default="", help="comma-separated host names to verify")
    group.addoption("--fks-data", action="append", default=[], help="KEY=VALUE as pyinfra's --data")


def pytest_configure(config: pytest.Config) -> None:
    inventory_path = config.getoption("--fks-inventory", default=None)
    if not inventory_path:
        return
    inventory = load_inventory(
        inventory_path, override_data=parse_data_option(config.getoption("--fks-data"))
    )
    plan = plan_for_inventory(inventory, inventory_path)
    limit = frozenset(filter(None, config.getoption("--fks-limit").split(",")))
    unknown = limit - {h.name for h in plan.hosts}
    if unknown:
        raise pytest.UsageError(f"--limit names hosts not in {inventory_path}: {sorted(unknown)}")
    hosts = [(h.name, h.data.dict()) for h in inventory]
    ssh_config = write_ssh_config(Path(_tempdir.name) / "ssh_config", hosts)
    fleet.current = fleet.Fleet(plan, ssh_config, limit, dict(hosts))


def pytest_unconfigure(config: pytest.Config) -> None:
    _tempdir.cleanup()


#: Fixtures whose targets come from the Fleet method of the same name.
TARGETS = (
    "placed",
    "absent",
    "edge",
    "routes",
    "firewall",
    "sshd",
    "chrony",
    "gpu_host",
    "gpu_service",
    "windows_endpoint",
    "datastore",
    "postgres_clients",
    "redis_clients",
    "datastore_strangers",
    "monitoring",
    "node_exporter",
    "companions",
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for fixture in TARGETS:
        if fixture not in metafunc.fixturenames:
            continue
        if fleet.current is None:
            skip = pytest.mark.skip(reason="no --fks-inventory (run: fks-infra verify INVENTORY)")
            metafunc.parametrize(fixture, [pytest.param(None, marks=skip)])
            continue
        targets = getattr(fleet.current, fixture)()
        check = metafunc.function.__name__.removeprefix("test_")
        metafunc.parametrize(fixture, targets, ids=[f"{t}/{check}" for t in targets])
