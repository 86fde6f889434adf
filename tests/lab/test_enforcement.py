"""The lab's guests enforce what units ask for, as a real host does.

Each limit is shown twice with ``systemd-run`` on a lab host: the same command succeeds
without the property and fails with it, so a guest that ignores the property fails the test
(see fks_infra/lab/cgroups.py for what the guests are given). Each limit is shown on the
first host of every release in the lab, since each release brings its own systemd.
"""

from __future__ import annotations

import pytest

from fks_infra.lab.spec import DEFAULT_RELEASE, default_hosts, parse_hosts, releases_of
from fks_infra.lab.testing import Lab

pytestmark = pytest.mark.lab

SPEC = parse_hosts(default_hosts(), DEFAULT_RELEASE)
#: The first host of each release (core-1 alone in a one-release lab).
HOSTS = [next(h.name for h in SPEC if h.release == release) for release in releases_of(SPEC)]


def peer_of(host: str) -> str:
    """Another lab host, the target of the connection tests."""
    return next(h.name for h in SPEC if h.name != host)


def transient(lab: Lab, host: str, properties: str, command: str) -> tuple[int, str]:
    """Run ``command`` on ``host`` in a transient service with ``properties``; (exit code,
    output)."""
    done = lab.ssh(
        host, f"systemd-run --quiet --wait --pipe --collect {properties} -- {command} 2>&1"
    )
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("host", HOSTS)
def test_ip_address_deny_stops_a_connection(lab: Lab, host: str) -> None:
    # The filter drops the packets: the connection never opens (bounded by ``timeout``).
    peer_ssh = f"timeout 5 bash -c '</dev/tcp/{lab.addresses[peer_of(host)]}/22'"
    assert transient(lab, host, "", peer_ssh) == (0, "")
    code, output = transient(lab, host, "-p IPAddressDeny=any", peer_ssh)
    assert code == 124, output


@pytest.mark.parametrize("host", HOSTS)
def test_memory_max_stops_an_allocation(lab: Lab, host: str) -> None:
    allocate = "python3 -c 'data = b\"x\" * (200 << 20); print(len(data))'"
    assert transient(lab, host, "", allocate) == (0, f"{200 << 20}\n")
    code, output = transient(lab, host, "-p MemoryMax=20M", allocate)
    assert code != 0, output


FORKS = (
    "python3 -c '"
    "import os, time\n"
    "started = 0\n"
    "try:\n"
    "    for _ in range(50):\n"
    "        if os.fork() == 0:\n"
    "            time.sleep(2)\n"
    "            os._exit(0)\n"
    "        started += 1\n"
    "except OSError:\n"
    "    pass\n"
    "print(started)'"
)


@pytest.mark.parametrize("host", HOSTS)
def test_tasks_max_stops_a_fork_bomb(lab: Lab, host: str) -> None:
    assert transient(lab, host, "-p TasksMax=100", FORKS) == (0, "50\n")
    code, output = transient(lab, host, "-p TasksMax=10", FORKS)
    assert code == 0 and 0 < int(output.strip()) < 10, output  # python itself is one task
