"""Generate the demo stand-ins in the layout of real checkouts.

Thirteen Python services share one implementation (the ``fks_demo`` library);
each gets a thin generated ``fks_<name>`` package from one template, so a demo
release goes through exactly the same builder as a real checkout.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from fks_infra.releases.model import Behaviour
from fks_infra.releases.tree import copy_tree

# The repository's demo/ folder; fks-infra runs from a checkout of itself.
DEFAULT_DEMO_DIR = Path(__file__).resolve().parents[3] / "demo"

# Template file -> path inside the generated service tree ("{module}" is fks_<name>).
_TEMPLATES = {
    "pyproject.toml.in": "pyproject.toml",
    "__init__.py.in": "{module}/__init__.py",
    "main.py.in": "{module}/main.py",
    "_behaviour.py.in": "{module}/_behaviour.py",
    "tasks.py.in": "{module}/tasks.py",
}
_SERVICE_NAME = re.compile(r"[a-z][a-z0-9_]*")


def generate_demo_checkout(
    root: Path, name: str, behaviour: Behaviour | None = None, demo_dir: Path = DEFAULT_DEMO_DIR
) -> Path:
    """Write ``<root>/services/<name>`` and ``<root>/libs/fks_demo``; return the service dir.

    + name: service name; it must be a valid Python identifier part (fks_<name>)
    + behaviour: fault to bake into the generated package, or None for a healthy one
    """
    if not _SERVICE_NAME.fullmatch(name):
        raise ValueError(f"service name {name!r} must match {_SERVICE_NAME.pattern}")
    copy_tree(demo_dir / "python" / "fks_demo", root / "libs" / "fks_demo")
    service_dir = root / "services" / name
    values = {"name": name, "behaviour": repr(behaviour.value if behaviour else None)}
    for template_name, target in _TEMPLATES.items():
        template = Template((demo_dir / "python" / "service_template" / template_name).read_text())
        path = service_dir / target.format(module=f"fks_{name}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.substitute(values), encoding="utf-8")
    return service_dir
