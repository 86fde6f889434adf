"""group_data/all.py is the documented public interface of the settings model."""

from __future__ import annotations

import ast
from pathlib import Path

from fks_infra.settings import HostSettings
from fks_infra.transport import nodelay_transport

ALL = Path(__file__).resolve().parents[2] / "group_data" / "all.py"


def assignments() -> dict[str, ast.stmt]:
    tree = ast.parse(ALL.read_text(encoding="utf-8"))
    found: dict[str, ast.stmt] = {}
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found[node.target.id] = node
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            found[node.targets[0].id] = node
    return found


#: pyinfra's own host data that every host gets from all.py (not fks-infra settings).
PYINFRA_KEYS = {"ssh_paramiko_connect_kwargs"}


def test_all_py_sets_every_setting_and_nothing_else() -> None:
    assert sorted(set(assignments()) - PYINFRA_KEYS) == sorted(HostSettings.model_fields)


def test_connections_run_without_nagle() -> None:
    namespace: dict[str, object] = {}
    exec(compile(ALL.read_text(encoding="utf-8"), str(ALL), "exec"), namespace)
    assert namespace["ssh_paramiko_connect_kwargs"] == {"transport_factory": nodelay_transport}


def test_all_py_values_are_the_model_defaults() -> None:
    namespace: dict[str, object] = {}
    exec(compile(ALL.read_text(encoding="utf-8"), str(ALL), "exec"), namespace)
    documented = HostSettings.model_validate(
        {key: namespace[key] for key in HostSettings.model_fields}
    )
    assert documented == HostSettings()


def test_each_setting_has_a_comment_line_above_it() -> None:
    lines = ALL.read_text(encoding="utf-8").splitlines()
    for key, node in assignments().items():
        above = lines[node.lineno - 2]
        assert above.startswith("# ") and len(above) > 10, f"{key} needs a comment line"
