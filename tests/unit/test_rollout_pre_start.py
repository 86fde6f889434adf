"""fks-rollout's pre-start step, run for real on this machine with systemd-run stood in for.

The stand-in runs the task's argv directly (systemd-run itself needs a systemd host: the lab
covers that); what is checked is the rollout's control flow around it: tasks run once per
release in the new release's directory, and a failing task ends the rollout before
``current`` moves or any unit is restarted.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import json
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from fks_infra.package_data import host_file
from fks_infra.paths import ROLLOUT


def load_rollout() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("fks_rollout", str(host_file(ROLLOUT)))
    spec = importlib.util.spec_from_loader("fks_rollout", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.fixture
def rollout(monkeypatch: pytest.MonkeyPatch) -> Any:
    module = load_rollout()
    calls: list[tuple[str, ...]] = []
    real_run = subprocess.run

    def fake_run(command: list[str], **kwargs: Any) -> Any:
        if command[0] == "systemd-run":
            argv = command[command.index("--") + 1 :]
            workdir = next(c for c in command if c.startswith("--property=WorkingDirectory="))
            calls.append(tuple(argv))
            kwargs.pop("stdin", None)
            return real_run(argv, cwd=workdir.split("=", 2)[2], **kwargs)
        return real_run(command, **kwargs)

    monkeypatch.setattr(module.subprocess, "run", fake_run)
    restarted: list[tuple[str, ...]] = []
    monkeypatch.setattr(module, "systemctl", lambda *a: restarted.append(a) or "")
    module.calls, module.restarted = calls, restarted
    return module


def release(home: Path, name: str, task_exit: int) -> Path:
    """A prepared release directory whose ``migrate`` task exits with ``task_exit``."""
    path = home / "releases" / name
    (path / "venv/bin").mkdir(parents=True)
    task = path / "venv/bin/fks_web-migrate"
    task.write_text(f"#!/bin/sh\necho migrating in $(pwd)\nexit {task_exit}\n")
    task.chmod(0o755)
    (path / ".fks-complete").touch()  # unpacked and installed already
    return path


def arguments(home: Path, release_id: str) -> argparse.Namespace:
    return argparse.Namespace(
        service="web", unit="fks-web.service", home=str(home), release_id=release_id,
        tarball="/nonexistent", tar_sha256="", manifest_sha256="", deploy_id="d1",
        url="http://127.0.0.1:1/health", install="[]", timeout=1.0, keep=3, user="fks",
        env_file="/etc/fks/web.env", pre_start=json.dumps([["venv/bin/fks_web-migrate"]]),
    )  # fmt: skip


def test_a_failing_pre_start_keeps_the_previous_release_live(
    rollout: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = release(tmp_path, "old", 0)
    (tmp_path / "current").symlink_to("releases/old")
    new = release(tmp_path, "new", 3)

    assert rollout.rollout(arguments(tmp_path, "new")) == 1

    assert (tmp_path / "current").resolve() == old.resolve()
    assert rollout.restarted == [], "a unit was touched although the release never went live"
    assert not (new / ".fks-pre-started").exists()
    err = capsys.readouterr().err
    assert "release new failed before its start: pre-start task venv/bin/fks_web-migrate" in err
    assert "exited 3" in err and f"migrating in {new}" in err
    assert "release old keeps running" in err


def test_pre_start_runs_once_per_release_in_its_directory(rollout: Any, tmp_path: Path) -> None:
    new = release(tmp_path, "new", 0)
    args = arguments(tmp_path, "new")
    rollout.pre_start(args, new)
    rollout.pre_start(args, new)  # a later rollout of the same release (env changed)
    assert rollout.calls == [(str(new / "venv/bin/fks_web-migrate"),)]
    assert (new / ".fks-pre-started").exists()


def test_no_pre_start_tasks_runs_nothing(rollout: Any, tmp_path: Path) -> None:
    new = release(tmp_path, "new", 1)
    args = arguments(tmp_path, "new")
    args.pre_start = "[]"
    rollout.pre_start(args, new)
    assert rollout.calls == []


def test_the_systemd_run_line_runs_as_the_service(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    module = load_rollout()
    seen: list[list[str]] = []

    def record(command: list[str], **kwargs: Any) -> Any:
        seen.append(command)
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(module.subprocess, "run", record)
    path = tmp_path / "releases/new"
    path.mkdir(parents=True)
    module.pre_start(arguments(tmp_path, "new"), path)
    (command,) = seen
    assert command[:5] == ["systemd-run", "--quiet", "--wait", "--pipe", "--collect"]
    for expected in (
        "--property=User=fks",
        "--property=EnvironmentFile=/etc/fks/web.env",
        f"--property=WorkingDirectory={path}",
        "--property=StateDirectory=fks/web",
        "--setenv=FKS_RELEASE_ID=new",
    ):
        assert expected in command
    assert command[-2:] == ["--", f"{path}/venv/bin/fks_web-migrate"]
