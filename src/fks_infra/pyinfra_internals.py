"""Every use fks-infra makes of pyinfra's internals, in one place, for the versions checked.

pyinfra's public interface (operations, facts, ``@deploy``, ``host``, ``host.data``, the
global arguments) covers almost everything fks-infra needs. What it does not cover is here,
and nowhere else in ``src/``:

- **Two speed-ups**, installed by ``install_speedups()`` (called once, visibly, by
  ``run.stages.deploy_roles`` before any operation is created). Both return exactly what
  pyinfra's own functions return; ``tests/unit/test_pyinfra_internals.py`` compares them.
  Both are plain speed-ups pyinfra itself could take (see each function), so they can be
  offered upstream as they are.
- **Accessors** of objects pyinfra does not hand out publicly: the state and inventory
  behind the context proxies, a host's paramiko client, a command elevated the way the
  host's operations are, the CLI's inventory loader and its command line.

pyinfra is pinned in ``pyproject.toml`` to the minor versions in ``CHECKED_MINOR_VERSIONS``,
and ``tests/unit/test_pyinfra_internals.py`` (the contract test) fails, naming the internal,
when one of them changes. Upgrading pyinfra is a decision: widen the pin, run the contract
test and the whole suite, then add the version here (README, "Upgrading pyinfra").
"""

from __future__ import annotations

import importlib
import os
import sys
from types import FrameType
from typing import Any

import pyinfra

#: pyinfra minor versions whose internals below were read and tested.
CHECKED_MINOR_VERSIONS: tuple[str, ...] = ("3.10",)


def pyinfra_minor_version() -> str:
    """The running pyinfra's ``MAJOR.MINOR`` (from its distribution metadata)."""
    from importlib.metadata import version

    return ".".join(version("pyinfra").split(".")[:2])


def check_version() -> None:
    """Raise ``RuntimeError`` when the running pyinfra is not a checked minor version."""
    found = pyinfra_minor_version()
    if found not in CHECKED_MINOR_VERSIONS:
        raise RuntimeError(
            f"fks-infra was checked against pyinfra {', '.join(CHECKED_MINOR_VERSIONS)}, "
            f"not {found}: see README, 'Upgrading pyinfra'"
        )


# -- speed-up 1: the operation order from the frames ------------------------------------


def operation_order(state: Any) -> list[int]:
    """What ``pyinfra.api.util.get_operation_order_from_stack(state)`` returns, for its
    caller's stack, without reading any source file.

    In CLI mode pyinfra orders operations by the line numbers of the calls that created
    them. It gets them from ``inspect.stack()``, which also opens and reads the source line
    of every frame, for every operation of every host: the largest single cost of a no-op
    deploy (``bench/README.md``). The same file names and line numbers are on the frames
    themselves (``f_code.co_filename``, ``f_lineno``). Upstream could take this as is.
    """
    from pyinfra.api.util import PYINFRA_INSTALL_DIR

    frames: list[FrameType] = []
    frame: FrameType | None = sys._getframe(1)  # the caller's, as inspect.stack()[1:]
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    frames.reverse()  # outermost first

    start = 0
    if state.current_deploy_filename:
        # From the deploy file's outermost frame on; none (pyinfra: only its own frame,
        # which it filters out) when the deploy file is not on the stack.
        start = next(
            (
                index
                for index, outer in enumerate(frames)
                if outer.f_code.co_filename == state.current_deploy_filename
            ),
            len(frames),
        )

    line_numbers = [state.current_op_file_number] if pyinfra.is_cli else []
    line_numbers += [
        inner.f_lineno
        for inner in frames[start:]
        if not inner.f_code.co_filename.startswith(PYINFRA_INSTALL_DIR)
    ]
    return line_numbers


# -- speed-up 2: the global arguments read once ------------------------------------------


def _original_all_global_arguments() -> Any:
    return importlib.import_module("pyinfra.api.arguments").all_global_arguments


ORIGINAL_ALL_GLOBAL_ARGUMENTS = _original_all_global_arguments()


def _global_arguments_read_once() -> Any:
    """``all_global_arguments`` computed once: the list of pyinfra's global arguments.

    ``pop_global_arguments`` runs for every operation on every host and for every fact.
    Each time it asks ``all_global_arguments()``, which is ``typing.get_type_hints`` of
    ``AllArguments``: its ~30 string annotations are evaluated again on every call. The class
    does not change during a run. Upstream could cache it (``functools.cache``, returning a
    copy).
    """
    hints: list[tuple[str, type]] = ORIGINAL_ALL_GLOBAL_ARGUMENTS()

    def all_global_arguments() -> list[tuple[str, type]]:
        return list(hints)

    all_global_arguments.fks_infra = True  # type: ignore[attr-defined]
    return all_global_arguments


def install_speedups() -> None:
    """Put both speed-ups where pyinfra looks them up (idempotent).

    Raises ``RuntimeError`` when pyinfra is not a checked version (``check_version``).
    """
    check_version()
    # The modules themselves: ``pyinfra.api.operation`` as an attribute is the decorator.
    operation_module: Any = importlib.import_module("pyinfra.api.operation")
    operation_module.get_operation_order_from_stack = operation_order
    arguments: Any = importlib.import_module("pyinfra.api.arguments")
    if not getattr(arguments.all_global_arguments, "fks_infra", False):
        arguments.all_global_arguments = _global_arguments_read_once()


# -- accessors -----------------------------------------------------------------------------


def current_state() -> Any:
    """The ``State`` of the running deploy (behind ``pyinfra.context.state``)."""
    from pyinfra.context import state

    return state._get_module()  # type: ignore[attr-defined]


def current_inventory() -> Any:
    """The ``Inventory`` of the running deploy (behind ``pyinfra.context.inventory``)."""
    from pyinfra.context import inventory

    return inventory._get_module()  # type: ignore[attr-defined]


def finished_operations(state: Any, host: Any) -> int | None:
    """How many operations pyinfra has finished on ``host`` in this run, failed ones
    included; None where no run is going on (a state without results, as in unit tests)."""
    results = getattr(state, "get_results_for_host", None)
    if results is None:
        return None
    found = results(host)
    return int(found.ops + found.error_ops)


def ssh_client(host: Any) -> Any:
    """The host's connected ``paramiko.SSHClient``; None for ``@local`` and other connectors
    (and before the connection is made)."""
    return getattr(host.connector, "client", None)


def elevated_command(state: Any, host: Any, command: str) -> str:
    """``command`` as the host's operations run commands: through ``sudo``/``su``/``doas``
    as the host's data says (``_sudo``, ``_sudo_user``...), in the host's shell.

    Uses pyinfra's own ``make_unix_command_for_host``, with the host's global arguments.
    """
    from pyinfra.api.arguments import CONNECTOR_ARGUMENT_KEYS, pop_global_arguments
    from pyinfra.api.command import StringCommand
    from pyinfra.connectors.util import extract_control_arguments, make_unix_command_for_host

    arguments, _ = pop_global_arguments(state, host, {})
    connector_arguments: Any = {
        key: value for key, value in arguments.items() if key in CONNECTOR_ARGUMENT_KEYS
    }
    extract_control_arguments(connector_arguments)  # exit codes, timeout, pty: not for a shell
    elevated = make_unix_command_for_host(
        state, host, StringCommand(command), **connector_arguments
    )
    return str(elevated.get_raw_value())


class InventoryFileError(Exception):
    """An inventory or group data file raised while pyinfra's CLI loader ran it.

    + exception: what it raised
    + filename: the file that raised it
    """

    def __init__(self, exception: BaseException, filename: str) -> None:
        super().__init__(f"{type(exception).__name__}: {exception}")
        self.exception = exception
        self.filename = filename


def make_cli_inventory(path: str, override_data: dict[str, Any] | None, cwd: str | None) -> Any:
    """An ``Inventory`` loaded by pyinfra's CLI loader (``group_data/`` and all), in a state
    of its own.

    Raises ``SyntaxError`` for a file that does not parse, ``InventoryFileError`` for one
    that raised.
    """
    from pyinfra.api.state import State
    from pyinfra.context import ctx_state
    from pyinfra_cli.exceptions import UnexpectedExternalError
    from pyinfra_cli.inventory import make_inventory

    try:
        with ctx_state.use(State()):
            return make_inventory(path, override_data=override_data, cwd=cwd or os.getcwd())
    except UnexpectedExternalError as error:
        raise InventoryFileError(error.exception, error.filename) from None


def cli_inventory_argument(argv: list[str]) -> str | None:
    """The inventory argument of a ``pyinfra`` command line, parsed by pyinfra's own click
    command (deploy files run in greenlets where click's current context is not visible)."""
    import click
    from pyinfra_cli.cli import cli

    try:
        context = cli.make_context("pyinfra", argv, resilient_parsing=True)
    except click.ClickException:
        return None
    value = context.params.get("inventory")
    return str(value) if value else None
