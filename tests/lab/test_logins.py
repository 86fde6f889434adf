"""The lab logs in as production does: an operator with sudo, never root over SSH.

Each test leaves the lab converged to the plain lab inventory (operator ``deploy``, sudo).
"""

from __future__ import annotations

import subprocess
import time

import pytest
from deploying import Run, deploy

from fks_infra.lab.inventory import LOGIN_ENV
from fks_infra.lab.rootfs import OPERATORS
from fks_infra.lab.testing import Lab
from fks_infra.run.runlock import LOCK_DIR, LOCK_FILE

pytestmark = pytest.mark.lab

#: The smallest host of the default lab: each run here is limited to it.
HOST = "bridge-1"


def run_as(user: str, *args: str) -> Run:
    """deploy/all.py on ``HOST`` only, logged in as ``user``."""
    done = deploy("--limit", HOST, *args, env={LOGIN_ENV: user})
    assert done.returncode == 0, done.why()
    return done


def test_root_cannot_log_in_over_ssh_once_deployed(lab: Lab, deployed: Run) -> None:
    for host in lab.hosts:
        refused = lab.ssh(host.name, "true", user="root")
        assert refused.returncode == 255 and "Permission denied" in refused.stderr, refused
        assert lab.ssh(host.name, "test -w /etc/fks").returncode == 0  # the operator, via sudo
        effective = lab.ssh(host.name, "sshd -T | grep -i '^permitrootlogin'").stdout.strip()
        assert effective == "permitrootlogin no"


def test_a_sudo_run_after_a_root_run_on_the_same_host(lab: Lab, deployed: Run) -> None:
    """Root's run leaves its lock file (0600, root's) behind: the next sudo run takes it."""
    # Let root in again (a setting keeps prohibit-password for inventories that need it).
    run_as(OPERATORS[0], "--data", "fks_ssh_permit_root_login=prohibit-password")
    as_root = run_as("root")
    assert "being deployed by another" not in as_root.stderr
    owner = lab.ssh(HOST, f"stat -c '%U %a' {LOCK_DIR} {LOCK_FILE}").stdout.split("\n")
    assert owner[:2] == ["root 700", "root 600"]
    back = run_as(OPERATORS[0])  # refuses root logins again
    assert "being deployed by another" not in back.stderr
    assert lab.ssh(HOST, "true", user="root").returncode == 255
    assert run_as(OPERATORS[0]).changed() == []


def test_two_operators_in_turn_each_change_nothing_on_their_second_run(
    lab: Lab, deployed: Run
) -> None:
    first, second = OPERATORS[:2]
    run_as(second)
    assert run_as(first).changed() == []
    assert run_as(second).changed() == []
    # Each operator's uploads stay in a directory of their own; the staging one is root's.
    modes = lab.ssh(
        HOST,
        "stat -c '%n %U %a' /var/lib/fks-infra/staging "
        + " ".join(f"/var/lib/fks-infra/uploads/{user}" for user in (first, second)),
    ).stdout.splitlines()
    assert modes == [
        "/var/lib/fks-infra/staging root 700",
        f"/var/lib/fks-infra/uploads/{first} {first} 700",
        f"/var/lib/fks-infra/uploads/{second} {second} 700",
    ]


def test_the_run_lock_is_root_only_and_names_a_holder_that_is_no_run(
    lab: Lab, deployed: Run
) -> None:
    """Before: nobody could flock the lock file read-only and block every run forever."""
    squat = lab.ssh(HOST, f"runuser -u nobody -- flock -n {LOCK_FILE} true 2>&1; echo rc=$?")
    assert "Permission denied" in squat.stdout and "rc=0" not in squat.stdout, squat
    # A root process that is no fks-infra run holds it, until its connection ends.
    holder = subprocess.Popen(
        lab.ssh_argv(HOST, f"sudo -n flock {LOCK_FILE} cat"),
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while lab.ssh(HOST, f"flock -n {LOCK_FILE} true").returncode == 0:
            assert time.monotonic() < deadline, "the holder never took the lock"
            time.sleep(0.5)
        busy = deploy("--limit", HOST)
        assert busy.returncode != 0
        assert (
            f"{HOST}: the run lock {LOCK_FILE} is held by a process that is not an fks-infra "
            "run: pid "
        ) in busy.stderr, busy.why()
        assert f"(flock {LOCK_FILE} cat" in busy.stderr
    finally:
        holder.kill()  # its connection closes: cat ends and the lock goes with it
        holder.wait(timeout=30)
    deadline = time.monotonic() + 30
    while lab.ssh(HOST, f"flock -n {LOCK_FILE} true").returncode != 0:
        assert time.monotonic() < deadline, "the lock outlived its holder's connection"
        time.sleep(0.5)
    assert run_as(OPERATORS[0]).changed() == []
