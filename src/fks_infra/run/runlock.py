"""One fks-infra run per host at a time.

The run holds ``flock`` on ``/run/lock/fks-infra.lock`` on every host it deploys to, inside a
command on its own SSH channel that waits for input. When the run ends, or dies however it
dies, its connection closes, the command gets end-of-file and the kernel drops the lock: no
stale lock is ever left behind. A second run that finds the lock taken stops before planning
anything, naming the host and who holds it.

The lock command is elevated the way every other command of the run is (``_sudo`` and the
other global arguments of the host's data, through pyinfra's own ``make_unix_command``), so a
root run and a sudo run, or two operators, contend for the same root-owned file. A lock the
command could not even try (sudo refused, the file could not be opened) is reported as that
failure with the host's own words, never as "busy".
"""

from __future__ import annotations

import time
from typing import Any

from pyinfra.api.exceptions import PyinfraError
from pyinfra.context import host, state

from fks_infra.pyinfra_internals import elevated_command, ssh_client

LOCK_FILE = "/run/lock/fks-infra.lock"
_held: dict[int, Any] = {}

#: Takes the lock or says who holds it. The holder's note travels on stdin (first line), so
#: nothing of it is ever parsed by a shell; the rest of stdin is held open with the lock.
LOCK_SCRIPT = (
    f"exec 9>>{LOCK_FILE} || exit 71; "
    "read -r holder; "
    f'if flock -n 9; then printf "%s\\n" "$holder" > {LOCK_FILE}; echo locked; '
    f"exec cat >/dev/null; else echo busy; cat {LOCK_FILE}; fi"
)


class HostBusyError(PyinfraError):
    """Another fks-infra run holds this host."""


class RunLockError(PyinfraError):
    """The run lock could not be tried at all on this host (not: another run holds it)."""


def lock_command() -> str:
    """``LOCK_SCRIPT`` as the current host's commands run: through sudo where its data says
    ``_sudo`` (and likewise ``_sudo_user``, ``_su_user``, ``_doas``...)."""
    return elevated_command(state, host, LOCK_SCRIPT)


def hold_run_lock(holder: str) -> None:
    """Take the run lock of the current host for the rest of this run (SSH hosts only).

    + holder: what the lock records of this run (control machine and process), for the
      message a second run prints

    Raises ``HostBusyError`` when another run holds the lock, ``RunLockError`` when the lock
    command failed (its output, stderr included, is in the message).
    """
    client = ssh_client(host)
    if client is None or id(client) in _held:
        return  # @local and other connectors, or already held by this run
    channel = client.get_transport().open_session()
    channel.set_combine_stderr(True)
    channel.exec_command(lock_command())
    channel.sendall(holder.replace("\n", " ").encode() + b"\n")
    reply = _read_reply(channel)
    if reply.startswith("locked\n"):
        _held[id(client)] = channel  # kept open, with the lock, until this process exits
        return
    channel.close()
    if reply.startswith("busy"):
        owner = reply.removeprefix("busy").strip() or "an unknown run"
        raise HostBusyError(
            f"{host.name} is being deployed by another fks-infra run ({owner}); "
            "try again when it has finished"
        )
    raise RunLockError(
        f"{host.name}: could not take the run lock {LOCK_FILE}: "
        + (reply.strip() or "the lock command ended without a word")
    )


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
