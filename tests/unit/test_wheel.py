"""fks-infra installed from a wheel, away from any checkout, still works.

Templates, files for hosts, the demo sources and the live checks are package data found
through ``importlib.resources``; nothing may reach back into the repository. The wheel is
built from this checkout and installed into a folder of its own, which comes first on the
path; the project it runs in is a plain folder with an inventory and ``group_data/``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INVENTORY = """
core = [("core-1", {"ssh_hostname": "192.0.2.10"})]
gpu = [("gpu-1", {"ssh_hostname": "192.0.2.20"})]
bridge = [("bridge-1", {"ssh_hostname": "192.0.2.30", "fks_ninjatrader_host": "192.0.2.200",
                         "fks_ninjatrader_port": 36973,
                         "fks_mt5_bridge_url": "http://192.0.2.200:18080/"})]
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder the wheel was installed into (``pip install --target``)."""
    root = tmp_path_factory.mktemp("wheel")
    build = root / "build"
    shutil.copytree(
        REPO,
        build,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", ".lab", "build", "*.egg-info", "__pycache__"
        ),
    )
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(root / "dist"), "."],
        cwd=build, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = (root / "dist").glob("fks_infra-*.whl")
    target = root / "site"
    subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(target), str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return target


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    shutil.copytree(REPO / "group_data", root / "group_data")
    (root / "inventory").mkdir()
    (root / "inventory/site.py").write_text(INVENTORY)
    return root


def fks_infra(installed: Path, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fks_infra", *args],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(installed), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_wheel_is_what_runs(installed: Path, project: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import fks_infra; print(fks_infra.__file__)"],
        cwd=project, env={**os.environ, "PYTHONPATH": str(installed)},
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert Path(done.stdout.strip()).is_relative_to(installed)


def test_check_and_plan_run_from_the_wheel(installed: Path, project: Path) -> None:
    init = fks_infra(installed, project, "secrets", "init", "inventory/site.py")
    assert init.returncode == 0, init.stderr
    check = fks_infra(installed, project, "check", "inventory/site.py")
    assert check.returncode == 0, check.stderr
    assert "ok (3 hosts, 19 service placements" in check.stdout
    plan = fks_infra(installed, project, "plan", "inventory/site.py")
    assert plan.returncode == 0, plan.stderr
    assert "bridge-1  bridge          ninja                8006" in plan.stdout


def test_verify_collects_its_checks_from_the_wheel(installed: Path, project: Path) -> None:
    fks_infra(installed, project, "secrets", "init", "inventory/site.py")
    # --collect-only: the checks are collected from the plan; no host is contacted.
    done = fks_infra(installed, project, "verify", "inventory/site.py", "--", "--collect-only")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "fks_infra/checks/test_services.py::test_active[core-1/api/active]" in done.stdout
