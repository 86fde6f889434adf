"""The edge between pyinfra inventories and the pure plan.

Inventories are loaded with pyinfra's own loader, so ``fks-infra check`` sees exactly the
data (and the ``group_data/`` precedence) that ``pyinfra INVENTORY deploy/all.py`` sees.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from fks_infra.errors import Problem, ProblemsError
from fks_infra.plan import HostSpec, InventoryPlan, plan_inventory
from fks_infra.secrets import SecretStore
from fks_infra.settings import HostSettings


def load_inventory(
    path: str, cwd: str | None = None, override_data: dict[str, Any] | None = None
) -> Any:
    """Load an inventory file (and ``group_data/``) the way the pyinfra CLI does.

    Raises ``ProblemsError`` naming the file for a missing file, a syntax error or an
    exception raised inside an inventory or group data file; never a traceback.
    """
    from fks_infra.pyinfra_internals import InventoryFileError, make_cli_inventory

    if not Path(path).is_file():
        raise ProblemsError([Problem("no such inventory file", path)])
    try:
        return make_cli_inventory(path, override_data, cwd)
    except SyntaxError as error:
        where = f"{error.filename}:{error.lineno}" if error.filename else path
        raise ProblemsError([Problem(f"Python syntax error: {error.msg}", where)]) from None
    except InventoryFileError as error:
        cause = error.exception
        raise ProblemsError([Problem(f"{type(cause).__name__}: {cause}", error.filename)]) from None


def host_specs(inventory: Any, inventory_path: str, cwd: str | None = None) -> list[HostSpec]:
    """Turn a pyinfra ``Inventory`` into plain ``HostSpec``s, with each key's origin."""
    base = Path(cwd or os.getcwd())
    group_data_dir = base / "group_data"
    override_data = inventory.get_override_data()
    specs = []
    for host in inventory:
        layers: list[tuple[str, dict[str, Any]]] = [
            ("command line --data", override_data),
            (inventory_path, inventory.get_host_data(host.name)),
        ]
        # pyinfra lets a later group's data win over an earlier one's.
        for group in reversed(host.groups):
            file = group_data_dir / f"{group}.py"
            label = _relative(file, base) if file.exists() else f"{inventory_path} (group {group})"
            layers.append((label, inventory.get_group_data(group)))
        layers.append((_relative(group_data_dir / "all.py", base), inventory.get_data()))
        source_of: dict[str, str] = {}
        for label, data in layers:
            for key in data:
                source_of.setdefault(key, label)
        specs.append(
            HostSpec(
                name=host.name,
                # pyinfra can list a group twice (connector hosts such as @local)
                groups=tuple(dict.fromkeys(host.groups)),
                data=host.data.dict(),
                source_of=source_of,
                source=inventory_path,
            )
        )
    return specs


def plan_for_inventory(
    inventory: Any, inventory_path: str, cwd: str | None = None
) -> InventoryPlan:
    """Validate a loaded inventory and place its services (raises ``ProblemsError``)."""
    base = Path(cwd or os.getcwd())
    store = SecretStore(base)
    return plan_inventory(
        host_specs(inventory, inventory_path, cwd),
        secrets=lambda name, settings: store.lookup(name, settings.fks_secrets_file),
    )


def secrets_wanted(path: str, cwd: str | None = None) -> dict[str, list[str]]:
    """Which secrets each secrets file of an inventory must hold: {file: [names]}."""
    wanted: dict[str, list[str]] = {}

    def record(name: str, settings: HostSettings) -> tuple[SecretStr | None, list[Problem]]:
        names = wanted.setdefault(settings.fks_secrets_file, [])
        if name not in names:
            names.append(name)
        return SecretStr(""), []

    specs = host_specs(load_inventory(path, cwd), path, cwd)
    plan_inventory(specs, secrets=record)
    return wanted


def plan_without_secrets(path: str, cwd: str | None = None) -> InventoryPlan:
    """Load, validate and place an inventory, every secret standing in as an empty value.

    For outputs that never carry a secret (the tailnet policy): they can be generated on a
    machine without the secrets file.
    """

    def blank(name: str, settings: HostSettings) -> tuple[SecretStr | None, list[Problem]]:
        return SecretStr(""), []

    return plan_inventory(host_specs(load_inventory(path, cwd), path, cwd), secrets=blank)


def plan_for_path(
    path: str, cwd: str | None = None, override_data: dict[str, Any] | None = None
) -> InventoryPlan:
    """Load, validate and place an inventory file without contacting any host.

    + override_data: like pyinfra's ``--data KEY=VALUE``: wins over every other layer
    """
    return plan_for_inventory(load_inventory(path, cwd, override_data), path, cwd)


def parse_data_option(items: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` items as pyinfra's ``--data`` reads them: JSON values, else strings."""
    import json

    data: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ProblemsError([Problem(f"--data {item!r} is not KEY=VALUE")])
        try:
            data[key] = json.loads(value)
        except ValueError:
            data[key] = value
    return data


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)
