"""One fks-infra run per host at a time.

The run holds ``flock`` on ``/run/fks-infra/run.lock`` on every host it deploys to, inside a
command on its own SSH channel that waits for input. When the run ends, or dies however it
dies, its connection closes, the command gets end-of-file and the kernel drops the lock: no
stale lock is ever left behind. A second run that finds the lock taken stops at once (it
never waits) before planning anything, naming the host and who holds it.

Nobody but root can hold it or fake its holder: the directory ``/run/fks-infra`` (shared
with the rollout lock, ``/run/fks-infra/rollout.lock``) is created root's, mode 0700, and
refused if it is a symlink, not a directory, not root's, or group/other-writable; the lock
file is refused if it is a symlink and kept 0600. The holder's note is written into the lock
file once the lock is held, with the holding shell's pid, and cleared before the lock goes;
a second run trusts the note only while that pid is alive and still has the lock file open,
and otherwise names the processes that do.

The lock command is elevated the way every other command of the run is (``_sudo`` and the
other global arguments of the host's data, through pyinfra's own ``make_unix_command``), so a
root run and a sudo run, or two operators, contend for the same root-owned file. A lock the
command could not even try (sudo refused, the directory refused, the file could not be
opened) is reported as that failure with the host's own words, never as "busy".

A reboot (``server.reboot`` in the GPU deploy) drops the connection and with it the lock:
``retake_after_reboot`` takes it again on the new connection before the run continues.
"""

from __future__ import annotations

import time
from typing import Any

from pyinfra.api.exceptions import PyinfraError
from pyinfra.context import host, state

from fks_infra.paths import LOCK_DIR
from fks_infra.pyinfra_internals import elevated_command, ssh_client

#: One run per host; the holder's pid and note are in it while held (``paths.LOCK_DIR``).
LOCK_FILE = f"{LOCK_DIR}/run.lock"
#: host name -> (the SSH client holding the lock, the channel it is held on, the note)
_held: dict[str, tuple[Any, Any, str]] = {}

#: Exit code of the lock script when the lock's directory or file is refused (its words on
#: stdout say which check refused); 71 when it could not be opened at all.
REFUSED = 72

#: Takes the lock in ``@DIR@`` or says who holds it, as root. The holder's note travels on
#: stdin (first line), so nothing of it is ever parsed by a shell; the rest of stdin is held
#: open with the lock. The note in the file is "<pid of this shell> <note>"; a reader believes
#: it only while that pid is alive with the lock file open as fd 9, and else lists the
#: processes that have the file open. Replies: ``locked``; ``busy <note>`` (an fks-infra run);
#: ``other pid N (command)...`` (a root process that is no run); anything else is a failure.
_SCRIPT = r"""d=@DIR@; f=@DIR@/run.lock; umask 077
if [ -L "$d" ] || { [ -e "$d" ] && [ ! -d "$d" ]; }; then
  echo "refused: $d is a symlink or not a directory"; exit @REFUSED@
fi
mkdir -m 0700 "$d" 2>/dev/null
set -- $(stat -c '%u %a' "$d") || exit 71
if [ "$1" != 0 ] || [ $(( 0$2 & 022 )) != 0 ]; then
  echo "refused: $d is owned by uid $1 with mode $2 (must be root's, not group/other-writable)"
  exit @REFUSED@
fi
if [ -L "$f" ]; then echo "refused: $f is a symlink"; exit @REFUSED@; fi
exec 9>>"$f" || exit 71
chmod 0600 "$f" || exit 71
read -r holder
if flock -n 9; then
  printf '%s %s\n' "$$" "$holder" > "$f"
  echo locked
  cat >/dev/null
  : > "$f"
  exit 0
fi
exec 9>&-
read -r pid note < "$f"
if [ -n "$pid" ] && [ "$(readlink "/proc/$pid/fd/9")" = "$f" ]; then
  echo "busy $note"; exit 0
fi
others=
for p in /proc/[0-9]*; do
  for l in "$p"/fd/*; do
    if [ "$(readlink "$l" 2>/dev/null)" = "$f" ]; then
      others="$others pid ${p#/proc/} ($(tr '\0' ' ' < "$p/cmdline" 2>/dev/null | cut -c1-60))"
      break
    fi
  done
done
echo "other${others:- a process that has ended}"
"""


def lock_script(directory: str = LOCK_DIR) -> str:
    """The lock script for the lock ``<directory>/run.lock`` (the tests use a temporary one)."""
    return _SCRIPT.replace("@DIR@", directory).replace("@REFUSED@", str(REFUSED))


LOCK_SCRIPT = lock_script()


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
    _take(state, host, holder)


def retake_after_reboot(state: Any, host: Any) -> None:
    """Take the current host's run lock again on the connection pyinfra made after a reboot
    (a ``python.call`` function: pyinfra passes ``state`` and ``host``), with the note it was
    first taken with. The reboot dropped it: another run may hold it now, and then this run
    stops on this host with ``HostBusyError`` before anything else runs there."""
    held = _held.get(host.name)
    if held is None:
        return  # never taken (@local and other connectors)
    _take(state, host, held[2])


def _take(state: Any, host: Any, holder: str) -> None:
    client = ssh_client(host)
    held = _held.get(host.name)
    if client is None or (held is not None and held[0] is client):
        return  # @local and other connectors, or already held on this connection
    channel = client.get_transport().open_session()
    channel.set_combine_stderr(True)
    channel.exec_command(elevated_command(state, host, LOCK_SCRIPT))
    note = holder.replace("\n", " ")
    channel.sendall(note.encode() + b"\n")
    reply = _read_reply(channel)
    if reply.startswith("locked\n"):
        # Kept open, with the lock, until this process exits or the connection drops.
        _held[host.name] = (client, channel, note)
        return
    channel.close()
    if reply.startswith("busy "):
        owner = reply.removeprefix("busy ").strip() or "an unknown run"
        raise HostBusyError(
            f"{host.name} is being deployed by another fks-infra run ({owner}); "
            "try again when it has finished"
        )
    if reply.startswith("other "):
        raise HostBusyError(
            f"{host.name}: the run lock {LOCK_FILE} is held by a process that is not an "
            f"fks-infra run:{reply.removeprefix('other').rstrip()}; nothing was changed"
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
    """``locked``, or the whole ``busy <note>`` or ``other <processes>`` line."""
    whole_line = data.startswith((b"busy ", b"other ")) and b"\n" in data
    return data.startswith(b"locked\n") or whole_line
