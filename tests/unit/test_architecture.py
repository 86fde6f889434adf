"""docs/ARCHITECTURE.md stays true: its module table is the package's, and pure stays pure."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "src" / "fks_infra"
ARCHITECTURE = REPO / "docs" / "ARCHITECTURE.md"

#: Modules that are the pyinfra side by their name, in any component package.
PYINFRA_SIDE_NAMES = {"deploy.py", "operations.py", "facts.py"}
#: Packages and modules that are the pyinfra (or control-machine tooling) side as a whole.
PYINFRA_SIDE = {"operations", "run", "checks", "pyinfra_internals.py", "cli.py", "__main__.py"}


def top_level() -> set[str]:
    """Names of the modules and folders right under src/fks_infra."""
    return {
        path.name
        for path in PACKAGE.iterdir()
        if path.name not in {"__init__.py", "__main__.py", "py.typed", "__pycache__"}
        and (path.is_dir() or path.suffix == ".py")
    }


def documented() -> set[str]:
    rows = re.findall(r"^\| `([a-z_]+(?:\.py|/))` \|", ARCHITECTURE.read_text(), re.MULTILINE)
    return {row.rstrip("/") for row in rows}


def test_the_module_table_lists_every_module_and_folder() -> None:
    missing, stale = top_level() - documented(), documented() - top_level()
    assert not missing, f"docs/ARCHITECTURE.md does not list {sorted(missing)}"
    assert not stale, f"docs/ARCHITECTURE.md lists {sorted(stale)}, which do not exist"


def pure_modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] in PYINFRA_SIDE | {"demo", "lab"} or path.name in PYINFRA_SIDE_NAMES:
            continue
        names.append(".".join(("fks_infra", *relative.with_suffix("").parts)))
    return [name.removesuffix(".__init__") for name in names]


def test_pure_modules_import_no_pyinfra() -> None:
    modules = pure_modules()
    assert "fks_infra.plan" in modules and "fks_infra.tailscale.policy" in modules
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pyinfra', 'pyinfra_cli')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]", f"pure modules pulled in pyinfra: {done.stdout}"
