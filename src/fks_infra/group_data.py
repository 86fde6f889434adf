"""The text of ``group_data/all.py``, generated from the settings model.

``HostSettings`` (``fks_infra.settings``) holds every setting's default and its docstring; this
module writes them out as the Python file pyinfra loads for every host: each setting under its
documentation as ``#`` comment lines, after a fixed header (the module docstring, and pyinfra's
own connection data). ``fks-infra settings --format group-data`` prints it, ``make docs``
writes it, and a unit test fails while the committed file differs.

The output is what ``ruff format`` leaves unchanged: double quotes, lines of at most 100
characters, a too-long string in parentheses (split at ``/`` when it still does not fit).
"""

from __future__ import annotations

import ast
import inspect
import itertools
import json
import textwrap
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel

from fks_infra.settings import HostSettings

#: The line length of the project's ruff configuration.
WIDTH = 100
_INDENT = "    "

#: Everything of group_data/all.py that is not a setting.
HEADER = '''\
"""Settings every host starts from: the documented defaults of every fks-infra setting.

Override per role in group_data/<role>.py, per inventory in group_data/<inventory>.py
(pyinfra puts every host of inventory/prod.py in the group "prod"), or per host in the
inventory. pyinfra replaces a key whole (no deep merge), so keys are flat and prefixed.

Generated from fks_infra.settings.HostSettings (each default, the docstring under it as the
comment): edit the model there, then run `make docs` (or `fks-infra settings --format
group-data > group_data/all.py`). A unit test fails while this file differs.
"""

from fks_infra.transport import nodelay_transport

# pyinfra's SSH connection: TCP_NODELAY on (see fks_infra/transport.py; measured gain in
# bench/README.md). A host or group may replace the dict, e.g. to add paramiko options.
ssh_paramiko_connect_kwargs = {"transport_factory": nodelay_transport}
'''


def all_py(model: type[BaseModel] = HostSettings) -> str:
    """The text of group_data/all.py: the header, then every setting of ``model``."""
    defaults = model()
    docs = field_docs(model)
    blocks = [HEADER]
    for name, field in model.model_fields.items():
        if name not in docs:
            raise ValueError(f"{model.__name__}.{name} has no docstring to document it")
        comment = textwrap.wrap(
            docs[name],
            width=WIDTH - 2,
            break_long_words=False,
            break_on_hyphens=False,
        )
        value = getattr(defaults, name)
        # An empty container says nothing of its items: the annotation does (as in the model,
        # with lists for tuples, the form an inventory writes).
        target = f"{name}: {_annotation(field.annotation)}" if value in ((), {}) else name
        lines = [f"# {line}" for line in comment] + _assignment(target, value)
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def field_docs(model: type[BaseModel]) -> dict[str, str]:
    """The docstring under each field in the class body of ``model``, on one line.

    Read from the source here rather than by pydantic's ``use_attribute_docstrings``, which
    would do the same work each time the model is imported.
    """
    tree = ast.parse(textwrap.dedent(inspect.getsource(model)))
    body = tree.body[0].body if isinstance(tree.body[0], ast.ClassDef) else []
    docs: dict[str, str] = {}
    for node, after in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def _literal(value: Any) -> str:
    """``value`` as a Python literal in ruff's style (tuples written as lists)."""
    if value is None or isinstance(value, bool | int):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_literal(item) for item in value) + "]"
    if isinstance(value, dict):
        items = (f"{_literal(key)}: {_literal(item)}" for key, item in value.items())
        return "{" + ", ".join(items) + "}"
    raise TypeError(f"no literal for a default of type {type(value).__name__}: {value!r}")


def _assignment(target: str, value: Any) -> list[str]:
    line = f"{target} = {_literal(value)}"
    if len(line) <= WIDTH:
        return [line]
    if isinstance(value, str):
        return [f"{target} = (", *(_INDENT + part for part in _string_parts(value)), ")"]
    if isinstance(value, tuple | list | dict):
        opening, closing = ("{", "}") if isinstance(value, dict) else ("[", "]")
        items = (
            [f"{_literal(key)}: {_literal(item)}" for key, item in value.items()]
            if isinstance(value, dict)
            else [_literal(item) for item in value]
        )
        return [f"{target} = {opening}", *(f"{_INDENT}{item}," for item in items), closing]
    return [line]


def _string_parts(value: str) -> list[str]:
    """``value`` as implicitly concatenated literals that fit the width, split after ``/``."""
    room = WIDTH - len(_INDENT) - 2
    parts: list[str] = []
    while len(value) > room:
        cut = value.rfind("/", 0, room) + 1 or room
        parts.append(value[:cut])
        value = value[cut:]
    return [_literal(part) for part in [*parts, value]]


def _annotation(annotation: Any) -> str:
    """A field's type as an inventory writes it: lists for tuples, the type of a Literal."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is tuple:
        return f"list[{_annotation(args[0])}]"
    if origin is dict:
        return f"dict[{_annotation(args[0])}, {_annotation(args[1])}]"
    if origin is Literal:
        return type(args[0]).__name__
    if isinstance(annotation, type):
        return annotation.__name__
    raise TypeError(f"no annotation for {annotation!r}")
