"""fks-rollout's lock: root's alone, never followed through a symlink, waited for a bounded time.

The lock lives in a directory only its owner may enter (``/run/fks-infra`` on a host, a
temporary one here), so no other local user can open the lock file, let alone ``flock`` it;
the wait for a holder is bounded and its error names the holder.
"""

from __future__ import annotations

import fcntl
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_rollout_pre_start import load_rollout

from fks_infra.paths import LOCK_DIR, ROLLOUT_LOCK


@pytest.fixture
def rollout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    module = load_rollout()
    monkeypatch.setattr(module, "LOCK_DIR", tmp_path / "run-fks-infra")
    return module


def test_the_lock_directory_is_made_owner_only(rollout: Any) -> None:
    with rollout.rollout_lock(timeout=1):
        info = rollout.LOCK_DIR.lstat()
        assert stat.S_ISDIR(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o700
        lock = rollout.LOCK_DIR / rollout.LOCK_NAME
        assert stat.S_IMODE(lock.lstat().st_mode) == 0o600
        assert f"pid {os.getpid()}" in lock.read_text()


@pytest.fixture
def holder(rollout: Any) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the rollout lock until it is killed."""
    with rollout.rollout_lock(timeout=1):
        pass  # makes the directory and the file as fks-rollout does
    lock = rollout.LOCK_DIR / rollout.LOCK_NAME
    script = (
        "import fcntl, sys, time\n"
        f"handle = open({str(lock)!r}, 'a')\n"
        "fcntl.flock(handle, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, "--service", "other"], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline() == "held\n"
    yield process
    process.kill()
    process.wait(timeout=10)


def test_a_held_lock_is_waited_for_a_bounded_time_and_its_holder_named(
    rollout: Any, holder: subprocess.Popen[str]
) -> None:
    started = time.monotonic()
    with pytest.raises(rollout.RolloutError) as raised, rollout.rollout_lock(timeout=1.5):
        pass
    waited = time.monotonic() - started
    assert 1.5 <= waited < 5, waited
    message = str(raised.value)
    assert f"held by pid {holder.pid}" in message, message
    assert "--service other" in message, message
    assert "gave up after 1.5 s" in message, message


def test_the_lock_is_taken_once_its_holder_ends(
    rollout: Any, holder: subprocess.Popen[str]
) -> None:
    holder.kill()
    holder.wait(timeout=10)
    with rollout.rollout_lock(timeout=5):
        pass


def test_a_symlinked_lock_file_is_refused(rollout: Any, tmp_path: Path) -> None:
    rollout.LOCK_DIR.mkdir(mode=0o700)
    target = tmp_path / "elsewhere"
    target.write_text("")
    (rollout.LOCK_DIR / rollout.LOCK_NAME).symlink_to(target)
    with (
        pytest.raises(rollout.RolloutError, match=r"rollout\.lock: Too many levels"),
        rollout.rollout_lock(1),
    ):
        pass
    assert target.read_text() == "", "the lock followed the symlink"


def test_a_symlinked_lock_directory_is_refused(rollout: Any, tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    rollout.LOCK_DIR.symlink_to(real)
    with pytest.raises(rollout.RolloutError, match="symbolic link"), rollout.rollout_lock(1):
        pass
    assert list(real.iterdir()) == []


@pytest.mark.parametrize("mode", [0o770, 0o707, 0o1777])
def test_a_lock_directory_others_may_write_is_refused(rollout: Any, mode: int) -> None:
    rollout.LOCK_DIR.mkdir()
    rollout.LOCK_DIR.chmod(mode)
    with pytest.raises(rollout.RolloutError, match="writable by others"), rollout.rollout_lock(1):
        pass


def test_a_lock_directory_of_another_owner_is_refused(rollout: Any) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving a directory to another owner needs root")
    rollout.LOCK_DIR.mkdir(mode=0o700)
    os.chown(rollout.LOCK_DIR, 65534, 65534)
    with pytest.raises(rollout.RolloutError, match="owned by uid 65534"), rollout.rollout_lock(1):
        pass


def test_nobody_can_neither_open_nor_hold_the_lock(rollout: Any) -> None:
    """What made a `nobody` able to block every rollout: a lock file any user could open."""
    if os.geteuid() != 0:
        pytest.skip("running a command as nobody needs root")
    with rollout.rollout_lock(timeout=1):
        pass
    lock = rollout.LOCK_DIR / rollout.LOCK_NAME
    child = os.fork()
    if child == 0:  # as nobody: open the lock file and take a shared flock on it
        code = 0
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            with lock.open() as handle:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except PermissionError:
            code = 13
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 13, "nobody could open the lock file"
    with rollout.rollout_lock(timeout=1):
        pass


def test_the_lock_is_where_fks_infra_documents_it() -> None:
    module = load_rollout()
    assert str(module.LOCK_DIR / module.LOCK_NAME) == ROLLOUT_LOCK
    assert str(module.LOCK_DIR) == LOCK_DIR == "/run/fks-infra"
