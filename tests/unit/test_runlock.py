"""Reading the run lock's reply: as soon as it arrives, whole, and never waiting unbounded.

A connected socket pair stands in for the SSH channel: paramiko's ``Channel`` has the same
``settimeout``/``recv`` contract (a timeout raises ``socket.timeout``, end of file gives b"").
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from fks_infra.deploys.runlock import _read_reply


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
