"""The lab logs in as production does: an operator with sudo, never root over SSH.

Each test leaves the lab converged to the plain lab inventory (operator ``deploy``, sudo).
"""

from __future__ import annotations

import pytest
from deploying import Run, deploy

from fks_infra.lab.inventory import LOGIN_ENV
from fks_infra.lab.rootfs import OPERATORS
from fks_infra.lab.testing import Lab

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
    """Root's run leaves its lock file (0644, root's) behind: the next sudo run takes it."""
    # Let root in again (a setting keeps prohibit-password for inventories that need it).
    run_as(OPERATORS[0], "--data", "fks_ssh_permit_root_login=prohibit-password")
    as_root = run_as("root")
    assert "being deployed by another" not in as_root.stderr
    owner = lab.ssh(HOST, "stat -c '%U %a' /run/lock/fks-infra.lock").stdout.strip()
    assert owner == "root 644"
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
