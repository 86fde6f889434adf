"""group_data/all.py, the documented public interface of the settings model, generated from it.

The committed file must be the generator's text; the checks on its content below guard the
generator (valid Python that pyinfra loads, the model's defaults, a comment on each setting).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import BaseModel, Field

from fks_infra.cli import main
from fks_infra.group_data import WIDTH, all_py
from fks_infra.settings import HostSettings
from fks_infra.transport import nodelay_transport

ALL = Path(__file__).resolve().parents[2] / "group_data" / "all.py"
REGENERATE = "run `make docs` (or `fks-infra settings --format group-data > group_data/all.py`)"


def test_all_py_is_the_text_generated_from_the_model() -> None:
    assert ALL.read_text(encoding="utf-8") == all_py(), (
        f"group_data/all.py differs from the settings model: {REGENERATE}"
    )


def test_the_settings_command_prints_the_generated_text() -> None:
    result = CliRunner().invoke(main, ["settings", "--format", "group-data"])
    assert result.exit_code == 0, result.output
    assert result.output == all_py()


class Wide(BaseModel):
    """Defaults too long for one line, and an empty container of nested types."""

    names: tuple[str, ...] = tuple(f"service-number-{index}" for index in range(8))
    """A list that does not fit on one line."""
    url: str = "https://mirror.example.org/" + "debian/" * 20 + "keyring.deb"
    """A string that does not fit on one line even in parentheses."""
    indices: dict[str, tuple[int, ...]] = Field(default_factory=dict)
    """An empty dict."""


def test_long_defaults_are_wrapped_and_read_back_equal() -> None:
    text = all_py(Wide)
    assert max(len(line) for line in text.splitlines()) <= WIDTH
    assert "indices: dict[str, list[int]] = {}" in text
    namespace: dict[str, object] = {}
    exec(compile(text, "all.py", "exec"), namespace)
    assert Wide.model_validate({key: namespace[key] for key in Wide.model_fields}) == Wide()


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


class Undocumented(BaseModel):
    documented: int = 1
    """Has its docstring."""
    bare: int = 2


def test_a_setting_without_a_docstring_is_refused() -> None:
    with pytest.raises(ValueError, match=r"Undocumented\.bare has no docstring"):
        all_py(Undocumented)
