"""The contract with pyinfra's internals (``fks_infra/pyinfra_internals.py``).

Each test names the internal it relies on; when a pyinfra upgrade changes one, the failure
says which, so the upgrade is a decision (README, "Upgrading pyinfra"), not a surprise.
The speed-ups must give exactly pyinfra's own results, so operation identities (hashes
built from the order) and the order of a run are unchanged.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyinfra
import pytest
from pyinfra.api.util import get_operation_order_from_stack

from fks_infra import pyinfra_internals
from fks_infra.pyinfra_internals import (
    CHECKED_MINOR_VERSIONS,
    ORIGINAL_ALL_GLOBAL_ARGUMENTS,
    install_speedups,
    operation_order,
)

ARGUMENTS = importlib.import_module("pyinfra.api.arguments")
OPERATION = importlib.import_module("pyinfra.api.operation")
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def parameters(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


# -- the version ---------------------------------------------------------------------------


def test_the_running_pyinfra_is_a_checked_version() -> None:
    found = pyinfra_internals.pyinfra_minor_version()
    assert found in CHECKED_MINOR_VERSIONS, (
        f"pyinfra {found} is not among the checked versions {CHECKED_MINOR_VERSIONS}: "
        "read README 'Upgrading pyinfra' before widening the pin"
    )


def test_pyproject_pins_pyinfra_to_the_checked_minor_versions() -> None:
    (pin,) = re.findall(r'"pyinfra([<>=][^"]*)"', PYPROJECT.read_text(encoding="utf-8"))
    lowest, *_ = sorted(CHECKED_MINOR_VERSIONS)
    major, minor = map(int, max(CHECKED_MINOR_VERSIONS).split("."))
    assert pin == f">={lowest},<{major}.{minor + 1}", f"pyproject pins pyinfra{pin}"


def test_an_unchecked_version_is_refused_with_the_way_forward(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pyinfra_internals, "pyinfra_minor_version", lambda: "9.99")
    with pytest.raises(RuntimeError, match=re.escape("not 9.99: see README, 'Upgrading pyinfra'")):
        install_speedups()


# -- speed-up 1: the operation order -------------------------------------------------------


def both(state: Any) -> tuple[list[int], list[int]]:
    # One line: both see the same caller frames at the same line numbers.
    return get_operation_order_from_stack(state), operation_order(state)


def deploy_function(state: Any, depth: int) -> tuple[list[int], list[int]]:
    if depth:
        return deploy_function(state, depth - 1)
    return both(state)


@pytest.mark.parametrize("is_cli", [True, False])
@pytest.mark.parametrize("deploy_file", [__file__, "/elsewhere/deploy.py", None])
def test_same_order_as_pyinfra(monkeypatch: pytest.MonkeyPatch, is_cli: bool,
                               deploy_file: str | None) -> None:  # fmt: skip
    monkeypatch.setattr(pyinfra, "is_cli", is_cli)
    state = SimpleNamespace(current_deploy_filename=deploy_file, current_op_file_number=7)
    for depth in (0, 3):
        theirs, ours = deploy_function(state, depth)
        assert ours == theirs
        if deploy_file != "/elsewhere/deploy.py":  # else: no frame of the deploy file
            assert len(ours) > depth


def test_operation_order_is_looked_up_where_the_decorator_looks() -> None:
    source = inspect.getsource(OPERATION)
    assert "get_operation_order_from_stack(state)" in source, (
        "pyinfra.api.operation no longer calls get_operation_order_from_stack(state)"
    )
    install_speedups()
    assert OPERATION.get_operation_order_from_stack is operation_order


# -- speed-up 2: the global arguments read once --------------------------------------------


def test_global_arguments_installed_where_pop_global_arguments_looks() -> None:
    assert "all_global_arguments()" in inspect.getsource(ARGUMENTS.pop_global_arguments), (
        "pyinfra.api.arguments.pop_global_arguments no longer calls all_global_arguments()"
    )
    install_speedups()
    assert ARGUMENTS.all_global_arguments is not ORIGINAL_ALL_GLOBAL_ARGUMENTS
    assert getattr(ARGUMENTS.all_global_arguments, "fks_infra", False)
    installed = ARGUMENTS.all_global_arguments
    install_speedups()  # a second install keeps the first
    assert ARGUMENTS.all_global_arguments is installed


def test_the_same_global_arguments_as_pyinfra_computes() -> None:
    install_speedups()
    ours, theirs = ARGUMENTS.all_global_arguments(), ORIGINAL_ALL_GLOBAL_ARGUMENTS()
    assert ours == theirs
    assert {"_sudo", "_su_user", "_shell_executable", "_if", "_serial"} <= dict(ours).keys()


def test_each_call_gets_its_own_global_arguments_list() -> None:
    install_speedups()
    first = ARGUMENTS.all_global_arguments()
    first.clear()
    assert ARGUMENTS.all_global_arguments() == ORIGINAL_ALL_GLOBAL_ARGUMENTS()


# -- accessors -----------------------------------------------------------------------------


def test_the_context_proxies_still_hand_out_their_objects() -> None:
    from pyinfra.context import ctx_inventory, ctx_state, inventory, state

    sentinel_state, sentinel_inventory = object(), object()
    assert hasattr(state, "_get_module") and hasattr(inventory, "_get_module"), (
        "pyinfra.context proxies lost _get_module()"
    )
    with ctx_state.use(sentinel_state), ctx_inventory.use(sentinel_inventory):
        assert pyinfra_internals.current_state() is sentinel_state
        assert pyinfra_internals.current_inventory() is sentinel_inventory


def test_the_ssh_connector_keeps_its_paramiko_client() -> None:
    from pyinfra.connectors.ssh import SSHConnector

    assert "self.client = SSHClient()" in inspect.getsource(SSHConnector), (
        "pyinfra's SSHConnector no longer keeps its paramiko client as .client"
    )
    assert pyinfra_internals.ssh_client(SimpleNamespace(connector=object())) is None


def test_the_functions_that_elevate_a_command_keep_their_signatures() -> None:
    from pyinfra.api.arguments import CONNECTOR_ARGUMENT_KEYS, pop_global_arguments
    from pyinfra.connectors.util import extract_control_arguments, make_unix_command_for_host

    assert parameters(pop_global_arguments)[:3] == ["state", "host", "kwargs"]
    assert parameters(make_unix_command_for_host)[:3] == ["state", "host", "command"]
    assert parameters(extract_control_arguments) == ["arguments"]
    assert {"_sudo", "_sudo_user", "_su_user", "_doas"} <= set(CONNECTOR_ARGUMENT_KEYS)


def test_the_cli_inventory_loader_keeps_its_signature() -> None:
    from pyinfra_cli.exceptions import UnexpectedExternalError
    from pyinfra_cli.inventory import make_inventory

    assert {"override_data", "cwd"} <= set(parameters(make_inventory))
    error = UnexpectedExternalError(ValueError("x"), "group_data/all.py")
    assert (type(error.exception), error.filename) == (ValueError, "group_data/all.py")


def test_the_cli_command_line_parser_finds_the_inventory() -> None:
    found = pyinfra_internals.cli_inventory_argument(["-y", "inventory/lab.py", "deploy/all.py"])
    assert found == "inventory/lab.py"


def test_state_keeps_the_attributes_the_operation_order_reads() -> None:
    from pyinfra.api.state import State

    state = State()
    assert hasattr(state, "current_deploy_filename")
    assert hasattr(state, "current_op_file_number")
