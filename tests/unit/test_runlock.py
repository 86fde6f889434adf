"""The run lock: taken as every command of the run is elevated, its reply read as soon as it
arrives, whole, never waiting unbounded, and a failure to try it never reported as "busy".

A connected socket pair stands in for the SSH channel: paramiko's ``Channel`` has the same
``settimeout``/``recv`` contract (a timeout raises ``socket.timeout``, end of file gives b"").
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pyinfra.api import Config, Inventory, State
from pyinfra.context import ctx_host, ctx_state

from fks_infra.run import runlock
from fks_infra.run.runlock import HostBusyError, RunLockError, _read_reply


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    yield ours, theirs
    ours.close()
    theirs.close()


def send_later(sock: socket.socket, *pieces: bytes, gap: float = 0.05) -> threading.Thread:
    def run() -> None:
        for piece in pieces:
            time.sleep(gap)
            sock.sendall(piece)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_locked_is_read_as_soon_as_it_arrives(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    theirs.sendall(b"locked\n")
    started = time.monotonic()
    assert _read_reply(ours) == "locked\n"
    assert time.monotonic() - started < 0.02  # no poll interval paid
    assert ours.gettimeout() is None  # the channel stays open, blocking, for the rest of the run


def test_a_busy_reply_split_across_reads_is_read_whole(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    sender = send_later(theirs, b"bu", b"sy root@ops pid 4", b"2\n")
    assert _read_reply(ours, timeout=5) == "busy root@ops pid 42\n"
    sender.join()


def test_a_command_that_ends_without_a_reply_gives_what_it_printed(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    theirs.sendall(b"flock: not found\n")
    theirs.shutdown(socket.SHUT_WR)
    assert _read_reply(ours, timeout=5) == "flock: not found\n"


def test_no_reply_stops_at_the_timeout(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, _ = pair
    started = time.monotonic()
    assert _read_reply(ours, timeout=0.2) == ""
    assert 0.2 <= time.monotonic() - started < 1.0
    assert ours.gettimeout() is None


class FakeChannel:
    """An SSH channel whose lock command answers ``reply``; records what it was asked."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.command = ""
        self.stdin = b""
        self.combined = False
        self.closed = False

    def set_combine_stderr(self, combine: bool) -> None:
        self.combined = combine

    def exec_command(self, command: str) -> None:
        self.command = command

    def sendall(self, data: bytes) -> None:
        self.stdin += data

    def settimeout(self, timeout: float | None) -> None:
        pass

    def recv(self, size: int) -> bytes:
        reply, self.reply = self.reply, b""
        return reply

    def close(self) -> None:
        self.closed = True


class FakeClient:
    def __init__(self, channel: FakeChannel) -> None:
        self.channel = channel

    def get_transport(self) -> FakeClient:
        return self

    def open_session(self) -> FakeChannel:
        return self.channel


@contextmanager
def lock_on(reply: bytes, **data: object) -> Iterator[FakeChannel]:
    """A pyinfra host with ``data`` whose SSH client answers the lock command with ``reply``."""
    inventory = Inventory(([("core-1", data)], {}))
    state = State(inventory, Config())
    target = inventory.get_host("core-1")
    channel = FakeChannel(reply)
    target.connector.client = FakeClient(channel)
    runlock._held.clear()
    with ctx_state.use(state), ctx_host.use(target):
        yield channel
    runlock._held.clear()


def test_a_sudo_login_takes_the_lock_through_sudo() -> None:
    with lock_on(b"locked\n", ssh_user="deploy", _sudo=True) as channel:
        runlock.hold_run_lock("pid 7 on ops")
    assert channel.command.startswith("sudo -H -n sh -c ")
    assert runlock.LOCK_FILE in channel.command
    assert channel.stdin == b"pid 7 on ops\n"  # the holder's note never reaches a shell parser
    assert channel.combined and not channel.closed


def test_a_root_login_runs_the_lock_command_as_it_is() -> None:
    with lock_on(b"locked\n", ssh_user="root") as channel:
        runlock.hold_run_lock("pid 7 on ops")
    assert not channel.command.startswith("sudo")
    assert "flock -n 9" in channel.command


def test_a_lock_file_that_cannot_be_opened_is_not_reported_as_busy() -> None:
    denied = b"sh: 1: cannot create /run/fks-infra/run.lock: Permission denied\n"
    with lock_on(denied, ssh_user="deploy") as channel, pytest.raises(RunLockError) as error:
        runlock.hold_run_lock("pid 7 on ops")
    assert "core-1: could not take the run lock" in str(error.value)
    assert "Permission denied" in str(error.value)
    assert channel.closed


def test_a_held_lock_names_its_holder() -> None:
    with lock_on(b"busy pid 42 on ops-2\n", _sudo=True), pytest.raises(HostBusyError) as error:
        runlock.hold_run_lock("pid 7 on ops")
    assert "core-1 is being deployed by another fks-infra run (pid 42 on ops-2)" in str(error.value)


def test_a_holder_note_with_a_newline_stays_one_line() -> None:
    with lock_on(b"locked\n") as channel:
        runlock.hold_run_lock("pid 7\non ops")
    assert channel.stdin == b"pid 7 on ops\n"


# -- the lock script itself, run here as root against a temporary directory ----------------

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the lock script runs as root")


class Holder:
    """One run of the lock script (``sh -c``), its note sent; holds the lock until ``release``."""

    def __init__(self, directory: Path, note: str = "pid 7 on ops") -> None:
        self.process = subprocess.Popen(
            ["sh", "-c", runlock.lock_script(str(directory))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(note + "\n")
        self.process.stdin.flush()
        self.reply = self.process.stdout.readline()

    def release(self) -> str:
        """Close its input, as a run's ending connection does; what it printed after."""
        rest, _ = self.process.communicate(timeout=10)
        return rest


def try_lock(directory: Path, note: str = "pid 8 on ops-2") -> tuple[int, str]:
    """The script run to its end with ``note``: its exit code and everything it printed."""
    done = subprocess.run(
        ["sh", "-c", runlock.lock_script(str(directory))],
        input=note + "\n",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


@needs_root
def test_the_lock_directory_and_file_are_made_root_only(tmp_path: Path) -> None:
    directory = tmp_path / "fks-infra"
    holder = Holder(directory)
    try:
        assert holder.reply == "locked\n"
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700 and directory.stat().st_uid == 0
        lock = directory / "run.lock"
        assert stat.S_IMODE(lock.stat().st_mode) == 0o600 and lock.stat().st_uid == 0
        assert lock.read_text() == f"{holder.process.pid} pid 7 on ops\n"
        # A second run is refused at once, naming the first.
        started = time.monotonic()
        assert try_lock(directory) == (0, "busy pid 7 on ops\n")
        assert time.monotonic() - started < 5
    finally:
        holder.release()
    assert lock.read_text() == ""  # the note goes before the lock does
    assert try_lock(directory)[1] == "locked\n"


@needs_root
@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda d: d.symlink_to(d.parent / "elsewhere", target_is_directory=True), "a symlink"),
        (lambda d: d.write_text(""), "not a directory"),
        (lambda d: (d.mkdir(mode=0o700), os.chown(d, 65534, 65534)), "owned by uid 65534"),
        (lambda d: (d.mkdir(), d.chmod(0o777)), "with mode 777"),
        (lambda d: (d.mkdir(), d.chmod(0o720)), "with mode 720"),
    ],
)
def test_a_lock_directory_that_others_could_change_is_refused(
    tmp_path: Path, make: Callable[[Path], object], words: str
) -> None:
    (tmp_path / "elsewhere").mkdir()
    directory = tmp_path / "fks-infra"
    make(directory)
    code, out = try_lock(directory)
    assert code == runlock.REFUSED, out
    assert out.startswith(f"refused: {directory} ") and words in out
    assert not (tmp_path / "elsewhere" / "run.lock").exists()


@needs_root
def test_a_lock_file_that_is_a_symlink_is_refused_not_followed(tmp_path: Path) -> None:
    directory = tmp_path / "fks-infra"
    directory.mkdir(mode=0o700)
    target = tmp_path / "passwd"
    target.write_text("root:x:0:0\n")
    (directory / "run.lock").symlink_to(target)
    code, out = try_lock(directory)
    assert (code, out) == (runlock.REFUSED, f"refused: {directory}/run.lock is a symlink\n")
    assert target.read_text() == "root:x:0:0\n"


@needs_root
def test_nobody_cannot_hold_the_lock() -> None:
    """Before: any local user could open the lock file read-only and flock it forever."""
    base = Path(tempfile.mkdtemp(prefix="fks-runlock-", dir="/tmp"))
    try:
        base.chmod(0o755)  # only the lock's own directory stands in nobody's way
        directory = base / "fks-infra"
        assert try_lock(directory)[1] == "locked\n"
        # What nobody could do to the old lock (a 0644 file in a directory it can reach):
        (base / "old.lock").write_text("")
        assert as_nobody("flock", "-n", str(base / "old.lock"), "true").returncode == 0
        squatter = as_nobody("flock", "-n", str(directory / "run.lock"), "true")
        assert squatter.returncode != 0 and "Permission denied" in squatter.stderr
        assert try_lock(directory)[1] == "locked\n"
    finally:
        shutil.rmtree(base)


def as_nobody(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", "nobody", "--", *command],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@needs_root
def test_a_holder_that_is_no_fks_infra_run_is_named_not_the_ended_run(tmp_path: Path) -> None:
    directory = tmp_path / "fks-infra"
    lock = directory / "run.lock"
    ended = Holder(directory, "pid 7 on ops")
    assert ended.reply == "locked\n"
    ended.process.kill()  # killed before it could clear its note: the note stays, stale
    ended.process.wait(timeout=10)
    assert ended.process.stdin is not None
    ended.process.stdin.close()  # its connection ends: what it left running (cat) ends too
    wait_until(lambda: free(lock))
    assert "pid 7 on ops" in lock.read_text()
    other = subprocess.Popen(["flock", str(lock), "sleep", "30"])
    try:
        wait_until(lambda: not free(lock))
        code, out = try_lock(directory)
        assert code == 0 and out.startswith(f"other pid {other.pid} (flock "), out
        assert "pid 7 on ops" not in out and "sleep 30" in out
    finally:
        other.kill()
        other.wait(timeout=10)


def free(lock: Path) -> bool:
    """Whether nothing holds ``lock`` (asked without touching the note in it)."""
    return subprocess.run(["flock", "-n", str(lock), "true"], timeout=10).returncode == 0


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_holder_that_is_no_run_is_reported_as_such() -> None:
    reply = b"other pid 31 (flock /run/fks-infra/run.lock cat )\n"
    with lock_on(reply, _sudo=True), pytest.raises(HostBusyError) as error:
        runlock.hold_run_lock("pid 7 on ops")
    assert str(error.value) == (
        "core-1: the run lock /run/fks-infra/run.lock is held by a process that is not an "
        "fks-infra run: pid 31 (flock /run/fks-infra/run.lock cat ); nothing was changed"
    )


def test_after_a_reboot_the_lock_is_taken_again_on_the_new_connection() -> None:
    inventory = Inventory(([("core-1", {"_sudo": True})], {}))
    state = State(inventory, Config())
    target = inventory.get_host("core-1")
    before = FakeChannel(b"locked\n")
    target.connector.client = FakeClient(before)
    runlock._held.clear()
    with ctx_state.use(state), ctx_host.use(target):
        runlock.hold_run_lock("pid 7 on ops")
    after = FakeChannel(b"locked\n")
    target.connector.client = FakeClient(after)  # pyinfra reconnected after the reboot
    runlock.retake_after_reboot(state, target)  # as python.call calls it
    assert after.command == before.command and after.stdin == b"pid 7 on ops\n"
    # Another run took it while the host was down: this run stops on this host.
    target.connector.client = FakeClient(FakeChannel(b"busy pid 9 on ops-3\n"))
    with pytest.raises(HostBusyError, match=r"core-1 is .* another fks-infra run \(pid 9"):
        runlock.retake_after_reboot(state, target)
    runlock._held.clear()


def test_the_same_connection_is_not_locked_twice() -> None:
    with lock_on(b"locked\n") as channel:
        runlock.hold_run_lock("pid 7 on ops")
        channel.command = ""
        runlock.hold_run_lock("pid 7 on ops")
        assert channel.command == ""
