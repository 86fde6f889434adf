"""End to end on the lab: one identity per service, and the migration from the shared user.

Before, every service ran as one user ``fks``: a compromised ``web`` could ``SIGSTOP``
``execution`` (the kernel checks signals by user id) and read its state directory. Each
service now runs as ``fks-<name>`` (``catalogue.Service.user``). These tests act as one
service's user against another's process and files with ``setpriv`` (util-linux), then turn
a deployed host back into the old layout and migrate it with one run.

The first deploy runs once per session (``deployed``, in tests/lab/conftest.py); the
migration test leaves the lab converged to the plain lab inventory again.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from xml.etree import ElementTree

import pytest
from deploying import INVENTORY, REPO, Run, deploy, fks_infra

from fks_infra.catalogue import Service
from fks_infra.inventory import plan_for_path
from fks_infra.lab.testing import Lab

pytestmark = pytest.mark.lab

#: The user every service ran as before (the former ``fks_service_user`` default).
OLD_USER = "fks"
#: Written into a state directory under the old layout; must survive the migration.
KEPT = "kept-across-the-migration"


def host_and_pair() -> tuple[str, Service, Service]:
    """A host running at least two services, and two of them: ``web`` and ``execution``
    (the issue's case) where the host runs both."""
    inventory = plan_for_path(INVENTORY, cwd=str(REPO))
    host = next(h for h in inventory.hosts if len(h.services) >= 2)
    by_name = {s.name: s for s in host.services}
    if "web" in by_name and "execution" in by_name:
        return host.name, by_name["web"], by_name["execution"]
    return host.name, host.services[0], host.services[1]


def placed(host: str) -> tuple[Service, ...]:
    return plan_for_path(INVENTORY, cwd=str(REPO)).host(host).services


def sh(lab: Lab, host: str, command: str) -> str:
    done = lab.ssh(host, command)
    assert done.returncode == 0, f"{command!r} on {host}: {done.stderr}"
    return done.stdout.strip()


def as_user(user: str, command: str) -> str:
    """``command`` run as ``user`` with its own group only, as that service's process is."""
    return f"setpriv --reuid={user} --regid={user} --clear-groups sh -c {shlex.quote(command)}"


def main_uid(lab: Lab, host: str, unit: str) -> int:
    """The user id of a unit's main process, from ``/proc``."""
    pid = sh(lab, host, f"systemctl show -P MainPID {unit}")
    assert pid != "0", f"{unit} has no main process on {host}"
    return int(sh(lab, host, f"stat -c %u /proc/{pid}"))


def test_each_service_runs_as_its_own_user(lab: Lab, deployed: Run) -> None:
    for plan in plan_for_path(INVENTORY, cwd=str(REPO)).hosts:
        uids = {unit: main_uid(lab, plan.name, unit) for s in plan.services for unit in s.units}
        expected = {
            unit: int(sh(lab, plan.name, f"id -u {s.user}"))
            for s in plan.services
            for unit in s.units
        }
        assert uids == expected
        # Companions share their service's uid; services share none.
        by_service = {s.name: uids[s.unit] for s in plan.services}
        assert len(set(by_service.values())) == len(by_service), by_service


def test_one_service_cannot_stop_another_or_read_its_state(lab: Lab, deployed: Run) -> None:
    host, attacker, victim = host_and_pair()
    pid = sh(lab, host, f"systemctl show -P MainPID {victim.unit}")
    state = f"/var/lib/fks/{victim.name}"
    try:
        stop = lab.ssh(host, as_user(attacker.user, f"kill -STOP {pid}"))
        assert stop.returncode != 0, f"{attacker.user} stopped {victim.unit}"
        assert "Operation not permitted" in stop.stderr, stop.stderr
        read = lab.ssh(host, as_user(attacker.user, f"ls {state}"))
        assert read.returncode != 0, f"{attacker.user} listed {state}: {read.stdout}"
        assert "Permission denied" in read.stderr, read.stderr
    finally:
        lab.ssh(host, f"kill -CONT {pid}")
    # The same probes as the victim's own user succeed: what stopped the attacker is its uid.
    assert lab.ssh(host, as_user(victim.user, f"kill -0 {pid} && ls {state}")).returncode == 0
    assert sh(lab, host, f"ps -o stat= -p {pid}")[0] != "T"


def test_verify_checks_the_identities(deployed: Run, tmp_path: Path) -> None:
    report = str(tmp_path / "verify.xml")
    done = fks_infra(
        "verify", INVENTORY, "--junitxml", report,
        "--", "-k", "runs_as_its_own_user or state_directory_is_its_own",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:]
    cases = list(ElementTree.parse(report).getroot().iter("testcase"))
    placed_count = sum(len(h.services) for h in plan_for_path(INVENTORY, cwd=str(REPO)).hosts)
    assert len(cases) == 2 * placed_count
    assert all(case.find("failure") is None and case.find("skipped") is None for case in cases)


def old_layout(services: tuple[Service, ...]) -> str:
    """Shell that turns a host deployed by this code into one deployed with the shared user:
    units with ``User=fks``, services restarted as ``fks`` (systemd chowns their state to it),
    the per-service users gone, and deployment records the current plan does not match."""
    units = [f"/etc/systemd/system/{unit}" for s in services for unit in s.units]
    names = " ".join(s.name for s in services)
    users = " ".join(s.user for s in services)
    return "; ".join(
        [
            "set -e",
            f"getent group {OLD_USER} >/dev/null || groupadd --system {OLD_USER}",
            f"getent passwd {OLD_USER} >/dev/null || useradd --system --gid {OLD_USER} "
            f"--shell /usr/sbin/nologin --home-dir /nonexistent --no-create-home {OLD_USER}",
            f"sed -i 's/^User=.*/User={OLD_USER}/; s/^Group=.*/Group={OLD_USER}/' "
            + " ".join(units),
            "systemctl daemon-reload",
            "systemctl restart " + " ".join(unit for s in services for unit in s.units),
            f"for u in {users}; do userdel $u; if getent group $u >/dev/null; then "
            "groupdel $u; fi; done",
            f"for s in {names}; do echo old > /var/lib/fks-infra/deployed/$s; done",
        ]
    )


def test_a_host_deployed_with_the_shared_user_migrates_in_one_run(lab: Lab, deployed: Run) -> None:
    host, service, _ = host_and_pair()
    services = placed(host)
    sh(lab, host, old_layout(services))
    old_uid = int(sh(lab, host, f"id -u {OLD_USER}"))
    assert {main_uid(lab, host, s.unit) for s in services} == {old_uid}
    kept = f"/var/lib/fks/{service.name}/{KEPT}"
    sh(lab, host, as_user(OLD_USER, f"echo {KEPT} > {kept}"))

    migration = deploy()
    assert migration.returncode == 0, migration.why()

    assert sh(lab, host, f"cat {kept}") == KEPT
    assert sh(lab, host, f"stat -c %U {kept}") == service.user
    for s in services:
        state = f"/var/lib/fks/{s.name}"
        assert sh(lab, host, f"stat -c '%U %a' {state}").split() == [s.user, "700"]
        assert sh(lab, host, f"find {state} ! -user {s.user} -print -quit") == ""
        assert main_uid(lab, host, s.unit) == int(sh(lab, host, f"id -u {s.user}"))
    again = deploy()
    assert again.returncode == 0, again.why()
    assert again.changed() == []
    sh(lab, host, f"rm {kept}")
