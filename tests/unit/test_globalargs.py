"""pyinfra's global-argument list read once is the list pyinfra computes each time."""

from __future__ import annotations

import importlib

import fks_infra.deploys  # noqa: F401  (installs it)
from fks_infra.deploys import globalargs

ARGUMENTS = importlib.import_module("pyinfra.api.arguments")


def test_installed_where_pop_global_arguments_looks() -> None:
    assert ARGUMENTS.all_global_arguments is not globalargs.ORIGINAL
    assert getattr(ARGUMENTS.all_global_arguments, "fks_infra", False)
    globalargs.install()  # a second install keeps the first
    assert getattr(ARGUMENTS.all_global_arguments, "fks_infra", False)


def test_the_same_list_as_pyinfra_computes() -> None:
    ours, theirs = ARGUMENTS.all_global_arguments(), globalargs.ORIGINAL()
    assert ours == theirs
    assert {"_sudo", "_su_user", "_shell_executable", "_if", "_serial"} <= dict(ours).keys()


def test_each_call_gets_its_own_list() -> None:
    first = ARGUMENTS.all_global_arguments()
    first.clear()
    assert ARGUMENTS.all_global_arguments() == globalargs.ORIGINAL()
