"""One fks-infra run per host at a time.

The run holds ``flock`` on ``/run/lock/fks-infra.lock`` on every host it deploys to, inside a
command on its own SSH channel that waits for input. When the run ends, or dies however it
dies, its connection closes, the command gets end-of-file and the kernel drops the lock: no
stale lock is ever left behind. A second run that finds the lock taken stops before planning
anything, naming the host and who holds it.
"""

from __future__ import annotations

import shlex
import time
from typing import Any

from pyinfra.api.exceptions import PyinfraError
from pyinfra.context import host

LOCK_FILE = "/run/lock/fks-infra.lock"
_held: dict[int, Any] = {}


class HostBusyError(PyinfraError):
    """Another fks-infra run holds this host."""


def hold_run_lock(holder: str) -> None:
    """Take the run lock of the current host for the rest of this run (SSH hosts only).

    + holder: what the lock records of this run (control machine and process), for the
      message a second run prints
    """
    client = getattr(host.connector, "client", None)
    if client is None or id(client) in _held:
        return  # @local and other connectors, or already held by this run
    channel = client.get_transport().open_session()
    note = shlex.quote(holder)
    channel.exec_command(
        f"exec 9>>{LOCK_FILE}; if flock -n 9; then echo {note} > {LOCK_FILE}; echo locked; "
        f"exec cat >/dev/null; else echo busy; cat {LOCK_FILE}; fi"
    )
    reply = _read_reply(channel)
    if not reply.startswith("locked"):
        channel.close()
        owner = reply.removeprefix("busy").strip() or "an unknown run"
        raise HostBusyError(
            f"{host.name} is being deployed by another fks-infra run ({owner}); "
            "try again when it has finished"
        )
    _held[id(client)] = channel  # kept open, with the lock, until this process exits


def _read_reply(channel: Any, timeout: float = 15.0) -> str:
    """The lock command's first answer, read as soon as it arrives; bounded in time.

    Blocking reads with a deadline, not polling: each host's lock is taken in turn while the
    run prepares, so a poll interval would be paid once per host.
    """
    deadline = time.monotonic() + timeout
    data = b""
    try:
        while not _complete(data):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            channel.settimeout(remaining)
            chunk = channel.recv(4096)
            if not chunk:  # the command ended
                break
            data += chunk
    except TimeoutError:
        pass
    finally:
        channel.settimeout(None)
    return data.decode(errors="replace")


def _complete(data: bytes) -> bool:
    """``locked``, or ``busy`` followed by the holder's line."""
    return data.startswith(b"locked\n") or (data.startswith(b"busy") and b"\n" in data[5:])
