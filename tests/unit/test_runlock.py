"""The run lock: taken as every command of the run is elevated, its reply read as soon as it
arrives, whole, never waiting unbounded, and a failure to try it never reported as "busy".

A connected socket pair stands in for the SSH channel: paramiko's ``Channel`` has the same
``settimeout``/``recv`` contract (a timeout raises ``socket.timeout``, end of file gives b"").
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

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
    sender = send_later(theirs, b"bu", b"sy\nroot@ops pid 4", b"2\n")
    assert _read_reply(ours, timeout=5) == "busy\nroot@ops pid 42\n"
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
    denied = b"sh: 1: cannot create /run/lock/fks-infra.lock: Permission denied\n"
    with lock_on(denied, ssh_user="deploy") as channel, pytest.raises(RunLockError) as error:
        runlock.hold_run_lock("pid 7 on ops")
    assert "core-1: could not take the run lock" in str(error.value)
    assert "Permission denied" in str(error.value)
    assert channel.closed


def test_a_held_lock_names_its_holder() -> None:
    with lock_on(b"busy\npid 42 on ops-2\n", _sudo=True), pytest.raises(HostBusyError) as error:
        runlock.hold_run_lock("pid 7 on ops")
    assert "core-1 is being deployed by another fks-infra run (pid 42 on ops-2)" in str(error.value)


def test_a_holder_note_with_a_newline_stays_one_line() -> None:
    with lock_on(b"locked\n") as channel:
        runlock.hold_run_lock("pid 7\non ops")
    assert channel.stdin == b"pid 7 on ops\n"
