"""The frame-reading operation order gives exactly pyinfra's own, so operation identities
(hashes built from it) and the order of a run are unchanged."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pyinfra
import pytest
from pyinfra.api.util import get_operation_order_from_stack

from fks_infra.deploys import stackorder


def both(state: Any) -> tuple[list[int], list[int]]:
    # One line: both see the same caller frames at the same line numbers.
    return get_operation_order_from_stack(state), stackorder.operation_order(state)


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


def test_installed_where_the_operation_decorator_looks() -> None:
    import importlib

    import fks_infra.deploys  # noqa: F401 (installs it)

    module = importlib.import_module("pyinfra.api.operation")
    assert module.get_operation_order_from_stack is stackorder.operation_order
