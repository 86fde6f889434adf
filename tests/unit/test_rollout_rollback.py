"""fks-rollout's rollback, driven on this machine: what it goes back to and what it puts back.

The rollout runs for real on a temporary service directory, state directory and unit and env
files; systemd is stood in for (``systemctl`` records its calls) and so is the health check:
a release answers healthy when its directory holds ``good`` and ``current`` points at it, as
the real check would see the process ``current`` started. Cases: a host that rebooted between
the switch to a new release and its verdict, an install root behind a symlink, a ``current``
pointing outside the service's directory, unit and env files put back, the record's schema.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import stat
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from test_rollout_pre_start import load_rollout

UNIT = "fks-web.service"
COMPANION = "fks-web-worker.service"
SECRET = "FKS_SECRET_KEY=canary-7c1e-never-printed\n"


class PowerLoss(BaseException):
    """The host went down while the rollout waited for the verdict."""


@pytest.fixture
def rollout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    module = load_rollout()
    state = tmp_path / "var/lib/fks-infra"
    monkeypatch.setattr(module, "STATE_DIR", state / "deployed")
    monkeypatch.setattr(module, "HEALTHY_DIR", state / "healthy", raising=False)
    calls: list[tuple[str, ...]] = []

    def systemctl(*args: str) -> str:
        # What each restart saw: the unit file's content, so a test can tell which unit ran.
        seen = (tmp_path / f"etc/systemd/system/{UNIT}").read_text() if args[0] == "restart" else ""
        calls.append((*args, seen) if seen else args)
        return ""

    monkeypatch.setattr(module, "systemctl", systemctl)
    monkeypatch.setattr(module, "journal", lambda unit: "(journal)")
    module.calls = calls
    return module


def healthy_when_good(module: Any, home: Path) -> None:
    """Health as the real check sees it: the release ``current`` points at, if it is good."""

    def healthy(
        unit: str, url: str, timeout: float, release: str | None = None
    ) -> tuple[bool, str]:
        good = ((home / "current").resolve() / "good").exists()
        return good, "HTTP 200" if good else "HTTP 500"

    module.healthy = healthy


def release(home: Path, name: str, good: bool) -> Path:
    """A complete (unpacked and installed) release directory."""
    path = home / "releases" / name
    path.mkdir(parents=True)
    (path / ".fks-complete").touch()
    if good:
        (path / "good").touch()
    return path


def write_files(root: Path, version: str, unit_mode: int = 0o644) -> dict[str, Path]:
    """The unit files and env file pyinfra writes before a rollout, as of ``version``."""
    units = root / "etc/systemd/system"
    units.mkdir(parents=True, exist_ok=True)
    (root / "etc/fks").mkdir(parents=True, exist_ok=True)
    files = {
        UNIT: units / UNIT,
        COMPANION: units / COMPANION,
        "env": root / "etc/fks/web.env",
    }
    files[UNIT].write_text(f"[Service]\n# unit of {version}\n")
    files[COMPANION].write_text(f"[Service]\n# worker of {version}\n")
    files["env"].write_text(SECRET + f"FKS_VERSION={version}\n")
    files[UNIT].chmod(unit_mode)
    files[COMPANION].chmod(0o644)
    files["env"].chmod(0o600)
    return files


def arguments(root: Path, home: Path, release_id: str, deploy_id: str) -> argparse.Namespace:
    return argparse.Namespace(
        service="web", unit=UNIT, home=str(home), release_id=release_id,
        tarball="/nonexistent", tar_sha256="", manifest_sha256="", deploy_id=deploy_id,
        url="http://127.0.0.1:1/health", install="[]", timeout=1.0, keep=5, user="fks-web",
        env_file=str(root / "etc/fks/web.env"), pre_start="[]",
        unit_file=[str(root / f"etc/systemd/system/{u}") for u in (UNIT, COMPANION)],
    )  # fmt: skip


def deploy(module: Any, root: Path, home: Path, name: str, good: bool, deploy_id: str) -> int:
    """What a deploy does: write the files of ``name``, then run the rollout of its release."""
    write_files(root, name)
    if not (home / "releases" / name).exists():
        release(home, name, good)
    result: int = module.rollout(arguments(root, home, name, deploy_id))
    return result


def current(home: Path) -> str:
    return os.readlink(home / "current")


def test_a_reboot_between_switch_and_verdict_then_a_bad_release_goes_back_to_the_last_healthy(
    rollout: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "opt/fks/web"
    healthy_when_good(rollout, home)
    assert deploy(rollout, tmp_path, home, "good1", True, "d-good") == 0

    # The next rollout switched ``current`` and the host lost power before the verdict.
    def power_loss(
        unit: str, url: str, timeout: float, release: str | None = None
    ) -> tuple[bool, str]:
        raise PowerLoss

    checker, rollout.healthy = rollout.healthy, power_loss
    with pytest.raises(PowerLoss):
        deploy(rollout, tmp_path, home, "never", False, "d-never")
    assert current(home) == "releases/never"  # what the host booted with
    rollout.healthy = checker

    assert deploy(rollout, tmp_path, home, "bad", False, "d-bad") == 1

    assert current(home) == "releases/good1"
    err = capsys.readouterr().err
    assert "rolled back to release good1: healthy again" in err
    # The deployment of the last healthy release stays recorded: the next run tries again.
    assert (tmp_path / "var/lib/fks-infra/deployed/web").read_text() == "d-good\n"


def test_an_install_root_behind_a_symlink_rolls_back(
    rollout: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "data/opt-fks/web").mkdir(parents=True)
    (tmp_path / "opt").mkdir()
    (tmp_path / "opt/fks").symlink_to(tmp_path / "data/opt-fks")  # /opt/fks -> /data/opt-fks
    home = tmp_path / "opt/fks/web"
    healthy_when_good(rollout, home)
    assert deploy(rollout, tmp_path, home, "good1", True, "d-good") == 0

    assert deploy(rollout, tmp_path, home, "bad", False, "d-bad") == 1

    assert current(home) == "releases/good1"
    assert "rolled back to release good1: healthy again" in capsys.readouterr().err


def test_a_current_outside_the_service_directory_is_no_release_to_go_back_to(
    rollout: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "opt/fks/web"
    healthy_when_good(rollout, home)
    assert deploy(rollout, tmp_path, home, "good1", True, "d-good") == 0
    elsewhere = release(tmp_path / "elsewhere", "stray", True)
    (home / "current").unlink()
    (home / "current").symlink_to(elsewhere)

    assert deploy(rollout, tmp_path, home, "bad", False, "d-bad") == 1

    assert current(home) == "releases/good1"  # the record's release, not the stray one
    assert "rolled back to release good1: healthy again" in capsys.readouterr().err


def test_a_current_outside_and_no_record_stops_the_unit(
    rollout: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "opt/fks/web"
    healthy_when_good(rollout, home)
    elsewhere = release(tmp_path / "elsewhere", "stray", True)
    home.mkdir(parents=True)
    (home / "current").symlink_to(elsewhere)

    assert deploy(rollout, tmp_path, home, "bad", False, "d-bad") == 1

    assert ("stop", UNIT, COMPANION) in rollout.calls
    err = capsys.readouterr().err
    assert "no record of a healthy release" in err
    assert "no previous release to return to: the unit is stopped" in err


def test_the_unit_and_env_files_of_the_last_healthy_release_are_put_back(
    rollout: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "opt/fks/web"
    healthy_when_good(rollout, home)
    assert deploy(rollout, tmp_path, home, "good1", True, "d-good") == 0
    before = {p: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode)) for p in
              write_files(tmp_path, "good1").values()}  # fmt: skip

    # The next deploy rewrote the unit (now 0600), its companion and the env file.
    write_files(tmp_path, "bad", unit_mode=0o600)
    release(home, "bad", False)
    rollout.calls.clear()
    assert rollout.rollout(arguments(tmp_path, home, "bad", "d-bad")) == 1

    after = {p: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode)) for p in before}
    assert after == before
    # systemd reads the restored units before the old release restarts under them, and the
    # companion (failed at its start limit with the crash-looping release) starts again too.
    reload = rollout.calls.index(("daemon-reload",))
    reset = rollout.calls.index(("reset-failed", UNIT, COMPANION))
    restart = rollout.calls.index(("restart", UNIT, COMPANION, "[Service]\n# unit of good1\n"))
    assert reload < reset < restart
    out = capsys.readouterr()
    assert "restored " in out.err and "web.env" in out.err
    assert "canary-7c1e" not in out.out + out.err


def test_the_same_release_with_a_bad_unit_goes_back_to_the_recorded_unit(
    rollout: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "opt/fks/web"
    units: list[str] = []

    def healthy(
        unit: str, url: str, timeout: float, release: str | None = None
    ) -> tuple[bool, str]:
        text = (tmp_path / f"etc/systemd/system/{UNIT}").read_text()
        units.append(text)
        return ("unit of good1" in text, "HTTP 200")

    rollout.healthy = healthy
    assert deploy(rollout, tmp_path, home, "good1", True, "d-good") == 0
    write_files(tmp_path, "changed")  # a unit-affecting setting changed, the release did not
    assert rollout.rollout(arguments(tmp_path, home, "good1", "d-changed")) == 1

    assert "rolled back to release good1: healthy again" in capsys.readouterr().err
    assert "unit of good1" in (tmp_path / f"etc/systemd/system/{UNIT}").read_text()


def test_the_record_says_what_was_healthy_and_is_root_only(
    rollout: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "opt/fks/web"
    healthy_when_good(rollout, home)
    old_umask = os.umask(0)  # modes must not depend on the host's umask
    try:
        assert deploy(rollout, tmp_path, home, "good1", True, "d-good") == 0
    finally:
        os.umask(old_umask)

    healthy_dir = tmp_path / "var/lib/fks-infra/healthy"
    path = healthy_dir / "web.json"
    record = json.loads(path.read_text())
    assert set(record) == {
        "version", "service", "release_id", "deploy_id", "recorded_at", "unit", "files"
    }  # fmt: skip
    assert (record["version"], record["service"], record["release_id"], record["deploy_id"],
            record["unit"]) == (1, "web", "good1", "d-good", UNIT)  # fmt: skip
    when = datetime.fromisoformat(record["recorded_at"].replace("Z", "+00:00"))
    assert when.utcoffset() is not None and when.utcoffset().total_seconds() == 0
    expected = [
        (str(tmp_path / f"etc/systemd/system/{UNIT}"), "unit", "0644", UNIT),
        (str(tmp_path / f"etc/systemd/system/{COMPANION}"), "unit", "0644", COMPANION),
        (str(tmp_path / "etc/fks/web.env"), "env", "0600", "web.env"),
    ]
    assert [(f["path"], f["kind"], f["mode"], f["snapshot"]) for f in record["files"]] == expected
    for entry in record["files"]:
        copy = healthy_dir / "web/d-good" / entry["snapshot"]
        assert hashlib.sha256(copy.read_bytes()).hexdigest() == entry["sha256"]
        assert entry["sha256"] == hashlib.sha256(Path(entry["path"]).read_bytes()).hexdigest()
        assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for directory in (healthy_dir, healthy_dir / "web", healthy_dir / "web/d-good"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert "canary-7c1e" not in path.read_text() + "".join(capsys.readouterr())

    # A second healthy release replaces the record and leaves no copies of the first.
    healthy_when_good(rollout, home)
    assert deploy(rollout, tmp_path, home, "good2", True, "d-good2") == 0
    assert json.loads(path.read_text())["release_id"] == "good2"
    assert sorted(p.name for p in (healthy_dir / "web").iterdir()) == ["d-good2"]
    assert not list(healthy_dir.glob(".*")) and not list((healthy_dir / "web").glob(".*"))


def test_a_release_whose_pre_start_fails_leaves_the_running_release_s_files(
    rollout: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The deploy wrote the new release's unit (its FKS_RELEASE_ID) and env file; its
    migrate failed, so the old release keeps running and gets its own files back, without a
    restart: a reboot starts what runs, and the next deploy finds nothing to change."""
    home = tmp_path / "opt/fks/web"
    healthy_when_good(rollout, home)
    assert deploy(rollout, tmp_path, home, "good1", True, "d-good") == 0
    before = {p: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode)) for p in
              write_files(tmp_path, "good1").values()}  # fmt: skip

    def migrate_fails(args: argparse.Namespace, release: Path) -> None:
        raise rollout.RolloutError("pre-start task migrate exited 1")

    rollout.pre_start = migrate_fails
    write_files(tmp_path, "bad")
    release(home, "bad", True)
    rollout.calls.clear()
    assert rollout.rollout(arguments(tmp_path, home, "bad", "d-bad")) == 1

    assert {p: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode)) for p in before} == before
    assert current(home) == "releases/good1"
    assert rollout.calls == [("daemon-reload",)]  # no restart: good1 never stopped
    err = capsys.readouterr().err
    assert "release good1 keeps running" in err and "restored " in err
    assert "canary-7c1e" not in err


def test_a_rollback_runs_the_pre_start_tasks_of_the_release_it_goes_back_to(
    rollout: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The failed release's collectstatic replaced the static files: the release going back
    runs its own pre-start tasks again, under its own id, before it restarts."""
    home = tmp_path / "opt/fks/web"
    healthy_when_good(rollout, home)
    ran: list[tuple[str, str, bool]] = []

    def tasks(
        args: argparse.Namespace, release: Path, release_id: str | None = None, again: bool = False
    ) -> None:
        ran.append((release.name, release_id or args.release_id, again))
        (release / ".fks-pre-started").touch()

    rollout.pre_start = tasks
    with_tasks = arguments(tmp_path, home, "good1", "d-good")
    with_tasks.pre_start = json.dumps([["venv/bin/fks_web-collectstatic"]])
    write_files(tmp_path, "good1")
    release(home, "good1", True)
    assert rollout.rollout(with_tasks) == 0
    write_files(tmp_path, "bad")
    release(home, "bad", False)
    with_tasks.release_id, with_tasks.deploy_id = "bad", "d-bad"

    assert rollout.rollout(with_tasks) == 1

    assert ran == [("good1", "good1", False), ("bad", "bad", False), ("good1", "good1", True)]
    assert current(home) == "releases/good1"
    assert "pre-start tasks of release good1 ran again" in capsys.readouterr().err
