"""End to end: the default lab (``$FKS_LAB_HOSTS`` when set) boots real systemd hosts of
each host's release that pyinfra can drive.

Each test checks one concern on the shared session lab; the last one takes the
lab down, checks nothing is left, and brings it back for any later lab tests.
"""

from __future__ import annotations

import json
from itertools import permutations
from pathlib import Path

import pytest

from fks_infra.lab import lifecycle, machine, names, network
from fks_infra.lab.health import READY_STATES
from fks_infra.lab.mounts import mounts_under
from fks_infra.lab.spec import DEFAULT_RELEASE, default_hosts, parse_hosts
from fks_infra.lab.testing import Lab

pytestmark = pytest.mark.lab

SPEC = parse_hosts(default_hosts(), DEFAULT_RELEASE)
HOSTS = [host.name for host in SPEC]
#: The Debian major version each lab release's ``/etc/os-release`` names.
DEBIAN_MAJORS = {"debian:bookworm": 12, "debian:trixie": 13}


def test_every_host_has_booted(lab: Lab) -> None:
    live = lifecycle.status_of(lab.state, lab.paths)
    assert set(live) == set(HOSTS)
    assert all(state in READY_STATES for state in live.values()), live


@pytest.mark.parametrize("host", HOSTS)
def test_host_has_its_own_identity(lab: Lab, host: str) -> None:
    done = lab.ssh(host, "hostname; cat /etc/machine-id; cat /etc/ssh/ssh_host_ed25519_key.pub")
    assert done.returncode == 0, done.stderr
    hostname, machine_id, host_key = done.stdout.splitlines()
    others = [
        lab.ssh(other, "cat /etc/machine-id; cat /etc/ssh/ssh_host_ed25519_key.pub").stdout
        for other in HOSTS
        if other != host
    ]
    assert hostname == host
    assert all(machine_id not in text and host_key not in text for text in others)


def test_pyinfra_exec_reaches_every_host(lab: Lab) -> None:
    # is-system-running exits non-zero when degraded; the state itself is checked below.
    done = lab.pyinfra("exec", "--", "systemctl is-system-running || true")
    assert done.returncode == 0, done.stderr
    for host in HOSTS:
        answers = [
            line.split("]", 1)[1].strip()
            for line in done.stderr.splitlines()
            if line.startswith(f"[{host}]") and "Success" not in line
        ]
        assert answers and answers[0] in READY_STATES, (host, answers)


@pytest.mark.parametrize("host", HOSTS)
def test_no_unit_has_failed_on_the_host(lab: Lab, host: str) -> None:
    """Every earlier lab test (deploys, faults, rollbacks) leaves no failed unit behind.

    It also guards the lab itself: SSH logins must not leave a host "degraded"
    (see ``LINGER_DIR`` in fks_infra/lab/guest.py).
    """
    for _ in range(2):  # a login, and the next one after the first has ended
        done = lab.ssh(host, "systemctl --failed --no-legend --plain; systemctl is-system-running")
    assert done.stdout.strip() == "running", done.stdout + _journals_of_failed_units(lab, host)


def _journals_of_failed_units(lab: Lab, host: str) -> str:
    """For the assertion message: what each failed unit logged (the host is gone after)."""
    return lab.ssh(
        host,
        "for unit in $(systemctl --failed --no-legend --plain | awk '{print $1}'); do "
        'echo "--- journal of $unit"; journalctl -b -u "$unit" --no-pager | tail -n 30; done',
    ).stdout


def test_pyinfra_fact_linux_distribution(lab: Lab) -> None:
    done = lab.pyinfra("fact", "server.LinuxDistribution")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    start = lines.index("{")
    end = len(lines) - lines[::-1].index("}")
    facts = json.loads("\n".join(lines[start:end]))
    assert set(facts) == set(HOSTS)
    wanted = {host.name: ("Debian", DEBIAN_MAJORS[str(host.release)]) for host in SPEC}
    assert {name: (fact["name"], fact["major"]) for name, fact in facts.items()} == wanted


@pytest.mark.parametrize("host", HOSTS)
def test_host_runs_its_release(lab: Lab, host: str) -> None:
    codename = lab.ssh(host, ". /etc/os-release && echo $VERSION_CODENAME").stdout.strip()
    assert f"debian:{codename}" == lab.state.host(host).release


@pytest.mark.parametrize(("source", "target"), list(permutations(HOSTS, 2)))
def test_hosts_reach_each_other(lab: Lab, source: str, target: str) -> None:
    probe = (
        "python3 -c 'import socket,sys; socket.create_connection((sys.argv[1], 22), 5).close()' "
        f"{target}"
    )
    done = lab.ssh(source, probe)
    assert done.returncode == 0, done.stderr


def test_a_service_port_answers_across_hosts(lab: Lab) -> None:
    """Something listening on ai's port of gpu-1 answers HTTP from core-1.

    On bare hosts a probe server stands in; once the stack is deployed, ai itself holds the
    port (and the firewall lets core-1, the nginx host, reach it). Any HTTP answer proves the
    path across the lab network.
    """
    free = lab.ssh("gpu-1", "ss -Hltn 'sport = :8007'").stdout.strip() == ""
    if free:
        started = lab.ssh(
            "gpu-1",
            "systemd-run --unit=fks-lab-probe --property=WorkingDirectory=/srv "
            "python3 -m http.server 8007 --bind 0.0.0.0",
        )
        assert started.returncode == 0, started.stderr
    try:
        url = f"http://{lab.addresses['gpu-1']}:8007/"
        done = lab.ssh(
            "core-1",
            "for i in $(seq 1 50); do "
            f"code=$(curl -sS -m 2 -o /dev/null -w '%{{http_code}}' {url}) && "
            '[ "$code" != 000 ] && exit 0; sleep 0.1; done; exit 1',
        )
        assert done.returncode == 0, done.stderr
    finally:
        if free:
            lab.ssh("gpu-1", "systemctl stop fks-lab-probe")


def test_guest_apt_update_reaches_the_mirror(lab: Lab) -> None:
    done = lab.ssh("core-1", "apt-get update -q", timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Err:" not in done.stdout


def test_guest_trusts_the_control_machine_cas(lab: Lab) -> None:
    done = lab.ssh(
        "bridge-1", "curl -fsS -o /dev/null -w '%{http_code}' https://pypi.org/simple/pip/"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "200"


def _leftovers(lab: Lab) -> list[str]:
    found = []
    if net := network.find_leftovers():
        found.append(net.describe())
    found += [f"mount {p}" for p in mounts_under(lab.paths.root)]
    found += [f"nspawn {pid}" for pid in machine.find_nspawn(lab.paths)]
    found += [f"guest {pid}" for pid in machine.find_guest_processes()]
    if Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() != (
        lab.state.network.ip_forward_before
    ):
        found.append("ip_forward not restored")
    return found


def test_down_leaves_nothing_behind(lab: Lab) -> None:
    assert lab.state.network.bridge == names.BRIDGE
    lifecycle.down(lab.paths)
    try:
        assert _leftovers(lab) == []
        assert not lab.paths.state_file.exists()
        assert not lab.paths.machines.exists()
    finally:
        again = lifecycle.up(default_hosts(), DEFAULT_RELEASE, lab.paths)
        assert again.state.hosts == tuple(
            host.model_copy(update={"pid": new.pid})
            for host, new in zip(lab.state.hosts, again.state.hosts, strict=True)
        )
        lab.state = again.state
