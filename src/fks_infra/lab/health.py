"""Is a lab host up? Asked the way a deploy will: over SSH with the lab key.

A host counts as ready when sshd accepts the lab key and systemd reports the
boot finished (``running``, or ``degraded`` when some unit failed, which the
caller shows rather than hides). Every wait here is bounded in time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import paramiko

from fks_infra.lab.errors import LabError
from fks_infra.lab.keys import known_hosts_file
from fks_infra.lab.rootfs import OPERATORS

READY_STATES = frozenset({"running", "degraded"})
POLL_INTERVAL_S = 0.5


def system_state(address: str, key: Path, timeout: float = 5.0) -> str:
    """``systemctl is-system-running`` on ``address``, asked as the lab's first operator (root
    may not log in once a deploy hardened sshd); OSError or SSHException if unreachable or if
    its host key is not the one recorded in the lab's known_hosts (``keys.known_hosts_file``)."""
    client = paramiko.SSHClient()
    # ``lab up`` records every host's keys before it boots: an unknown or changed key is refused.
    client.load_host_keys(str(known_hosts_file(key)))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(
            address,
            username=OPERATORS[0],
            key_filename=str(key),
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
            allow_agent=False,
            look_for_keys=False,
        )
        _, stdout, _ = client.exec_command("systemctl is-system-running", timeout=timeout)
        return stdout.read().decode(errors="replace").strip() or "unknown"
    finally:
        client.close()


def live_state(address: str, key: Path, timeout: float = 3.0) -> str:
    """A one-word state for tables: systemd's answer, or ``unreachable``."""
    try:
        return system_state(address, key, timeout)
    except (OSError, paramiko.SSHException):
        return "unreachable"


def wait_ready(
    name: str,
    address: str,
    key: Path,
    still_booting: Callable[[], bool],
    timeout: float = 120.0,
) -> str:
    """Poll ``name`` until it is ready; return its final systemd state.

    + still_booting: whether the host's nspawn process still runs; a host whose
      process died fails at once instead of after the whole timeout
    + timeout: seconds before giving up
    """
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if not still_booting():
            raise LabError(f"{name}: its systemd-nspawn process exited during boot")
        try:
            attempt_timeout = min(5.0, max(1.0, deadline - time.monotonic()))
            last = system_state(address, key, timeout=attempt_timeout)
        except (OSError, paramiko.SSHException) as exc:
            last = f"ssh: {exc or type(exc).__name__}"
        else:
            if last in READY_STATES:
                return last
        time.sleep(POLL_INTERVAL_S)
    raise LabError(f"{name} ({address}) was not ready within {timeout:.0f}s; last answer: {last}")
