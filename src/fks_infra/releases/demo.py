"""Generate the demo stand-ins in the layout of real checkouts.

Thirteen Python services share one implementation (the ``fks_demo`` library);
each gets a thin generated ``fks_<name>`` package from one template, so a demo
release goes through exactly the same builder as a real checkout.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from fks_infra.package_data import package_path
from fks_infra.releases.model import Behaviour
from fks_infra.releases.tree import copy_tree

#: The demo stand-ins' sources, shipped in the package (``fks_infra/demo``).
DEFAULT_DEMO_DIR = package_path("demo")

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
    files = demo_service_files(name, behaviour, demo_dir)
    copy_tree(demo_lib(demo_dir), root / "libs" / "fks_demo")
    service_dir = root / "services" / name
    for relative, text in files.items():
        path = service_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return service_dir


def demo_lib(demo_dir: Path = DEFAULT_DEMO_DIR) -> Path:
    """The shared implementation, copied as-is to ``libs/fks_demo`` of every demo checkout."""
    return demo_dir / "python" / "fks_demo"


def demo_service_files(
    name: str, behaviour: Behaviour | None = None, demo_dir: Path = DEFAULT_DEMO_DIR
) -> dict[str, str]:
    """The files ``generate_demo_checkout`` writes under ``services/<name>``: path -> text.

    Also read without writing them: a deploy needs only their digest to know the release
    id, and writes a checkout only when that release is not built yet.
    """
    if not _SERVICE_NAME.fullmatch(name):
        raise ValueError(f"service name {name!r} must match {_SERVICE_NAME.pattern}")
    values = {"name": name, "behaviour": repr(behaviour.value if behaviour else None)}
    templates = demo_dir / "python" / "service_template"
    files = {}
    for template_name, target in _TEMPLATES.items():
        template = Template((templates / template_name).read_text())
        files[target.format(module=f"fks_{name}")] = template.substitute(values)
    return files
