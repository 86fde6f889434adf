"""Rollbacks that survive what hosts do (issue #16, part 4), on the session's deployed lab.

One service (``web``: two companion units, a secret of its own) is taken through each case;
every case ends with the plain inventory deployed again changing nothing, so the lab is left
as the session fixture made it. A case fails if the service does not end on the release that
was healthy before, answering, with the unit and env files it had.

The lab cannot power-cycle a host (systemd-nspawn's reboot ends the machine); what a power
loss leaves is made directly: the rollout is killed with SIGKILL while it waits for the new
release's verdict, then the unit is started again as a boot starts it, from ``current``.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from deploying import BIN, INVENTORY, REPO, Run, deploy

from fks_infra.catalogue import CATALOGUE
from fks_infra.inventory import plan_for_path
from fks_infra.lab.testing import Lab
from fks_infra.paths import HEALTHY_DIR, INSTALL_ROOT, ROLLOUT, UNIT_DIR

pytestmark = pytest.mark.lab

SERVICE = CATALOGUE["web"]
HOME = f"{INSTALL_ROOT}/{SERVICE.name}"
RECORD = f"{HEALTHY_DIR}/{SERVICE.name}.json"
#: The unit files and env file a rollback must put back: content, mode and owner.
FILES = " ".join([*(f"{UNIT_DIR}/{unit}" for unit in SERVICE.units), SERVICE.env_file])
WATCHED = f"sha256sum {FILES}; stat -c '%n %a %U:%G' {FILES}"


def source(behaviour: str) -> str:
    return "fks_release_sources=" + json.dumps({SERVICE.name: f"demo:{behaviour}"})


def host_of_service() -> str:
    (plan,) = plan_for_path(INVENTORY, cwd=str(REPO)).hosts_running(SERVICE.name)
    return plan.name


def health(lab: Lab, host: str) -> tuple[str, str]:
    """(HTTP code of /health, release id ``current`` names), asked on the host."""
    plan = plan_for_path(INVENTORY, cwd=str(REPO)).host(host)
    url = f"http://{plan.bind_address}:{SERVICE.port}{SERVICE.health_path}"
    done = lab.ssh(
        host,
        f"curl -s -m 10 -o /dev/null -w '%{{http_code}}' {url}; echo; readlink {HOME}/current",
    )
    code, release = [*done.stdout.splitlines(), "", ""][:2]
    return code, release.rsplit("/", 1)[-1]


def healthy_before(lab: Lab, host: str) -> tuple[tuple[str, str], str]:
    """The service's health and release, and its last-healthy record, before a case starts."""
    before = health(lab, host)
    assert before[0] == "200", before
    record = lab.ssh(host, f"cat {RECORD}")
    assert record.returncode == 0, f"{host}: no last-healthy record: {record.stderr}"
    assert json.loads(record.stdout)["release_id"] == before[1]
    return before, record.stdout


def converged() -> None:
    """The plain inventory again: nothing left to do."""
    again = deploy()
    print(f"plain deploy after: {again.seconds:.0f} s")
    assert again.returncode == 0, again.why()
    assert again.changed() == []


def test_a_reboot_between_switch_and_verdict_then_a_bad_release_ends_on_the_last_healthy(
    lab: Lab, deployed: Run
) -> None:
    host = host_of_service()
    before, _ = healthy_before(lab, host)
    started = time.monotonic()
    interrupted = subprocess.Popen(
        [str(BIN / "pyinfra"), "-y", "--data", source("health=fail"), "--data",
         "fks_health_timeout=600", INVENTORY, "deploy/all.py"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 600
        while health(lab, host)[1] == before[1]:  # until the switch
            assert time.monotonic() < deadline, "the rollout never switched current"
            assert interrupted.poll() is None, "the deploy ended before the switch"
            time.sleep(1)
        # The power goes: the rollout dies while it waits for the verdict.
        # The Python process itself (a shell that started it would leave it running).
        rollout = f"^/usr/bin/python3 {ROLLOUT} --service {SERVICE.name} "
        killed = lab.ssh(host, f"pids=$(pgrep -f '{rollout}') && kill -KILL $pids && echo $pids")
        assert killed.returncode == 0 and len(killed.stdout.split()) == 1, killed
        gone = lab.ssh(host, f"sleep 1; pgrep -f '{rollout}'")
        assert gone.returncode == 1, f"the rollout still runs: {gone.stdout}"
    finally:
        try:
            interrupted.wait(timeout=120)
        except subprocess.TimeoutExpired:
            interrupted.kill()
            interrupted.wait(timeout=30)
    never = health(lab, host)[1]
    assert never != before[1]
    # What the boot does: the enabled unit starts the release ``current`` points at.
    assert lab.ssh(host, f"systemctl restart {SERVICE.unit}").returncode == 0
    assert health(lab, host)[1] == never

    bad = deploy("--data", source("crash"))

    assert bad.returncode != 0
    assert f"rolled back to release {before[1]}: healthy again" in bad.stderr, bad.why()
    assert health(lab, host) == before
    print(f"reboot case: {time.monotonic() - started:.0f} s, crash deploy {bad.seconds:.0f} s")
    converged()


def test_a_bad_release_with_a_changed_unit_and_env_file_puts_both_back(
    lab: Lab, deployed: Run
) -> None:
    host = host_of_service()
    before, record = healthy_before(lab, host)
    files = lab.ssh(host, WATCHED).stdout
    canary = "rotated-secret-5be1"
    # A setting that changes the service's units and a secret only it has: new unit and
    # env files are written before the (bad) release goes live.
    changed_units = "fks_write_execute_services=" + json.dumps(["ai", "training", SERVICE.name])

    bad = deploy(
        "--data", source("health=fail"), "--data", changed_units, "--data",
        "fks_health_timeout=8", env={f"FKS_SECRET_{SERVICE.secrets[0]}": canary},
    )  # fmt: skip

    print(f"unit and env case: bad deploy {bad.seconds:.0f} s")
    assert bad.returncode != 0
    assert f"rolled back to release {before[1]}: healthy again" in bad.stderr, bad.why()
    assert f"restored {UNIT_DIR}/{SERVICE.unit}" in bad.stderr
    assert SERVICE.env_file in bad.stderr
    assert canary not in bad.stdout + bad.stderr
    assert health(lab, host) == before
    assert lab.ssh(host, WATCHED).stdout == files
    # systemd runs the unit as restored, not the one the bad deploy wrote.
    loaded = lab.ssh(host, f"systemctl show -P MemoryDenyWriteExecute {' '.join(SERVICE.units)}")
    assert loaded.stdout.split() == ["yes"] * len(SERVICE.units)
    assert lab.ssh(host, f"cat {RECORD}").stdout == record
    leaked = lab.ssh(
        host,
        f"grep -rl {canary} /etc/fks /etc/systemd/system {HEALTHY_DIR} 2>/dev/null",
    )
    assert leaked.stdout == "", leaked.stdout
    converged()


def test_an_install_root_behind_a_symlink_rolls_back(lab: Lab, deployed: Run) -> None:
    host = host_of_service()
    before, _ = healthy_before(lab, host)
    elsewhere = "/srv/fks-moved"  # the install root's real place, /opt/fks a symlink to it
    moved = lab.ssh(host, f"mv {INSTALL_ROOT} {elsewhere} && ln -s {elsewhere} {INSTALL_ROOT}")
    assert moved.returncode == 0, moved.stderr
    try:
        bad = deploy("--data", source("health=fail"), "--data", "fks_health_timeout=8")
        print(f"symlinked install root case: bad deploy {bad.seconds:.0f} s")
        assert bad.returncode != 0
        assert f"rolled back to release {before[1]}: healthy again" in bad.stderr, bad.why()
        assert health(lab, host) == before
        real = lab.ssh(host, f"readlink -f {HOME}/current").stdout.strip()
        assert real == f"{elsewhere}/{SERVICE.name}/releases/{before[1]}"
    finally:
        lab.ssh(
            host, f"test -L {INSTALL_ROOT} && rm {INSTALL_ROOT} && mv {elsewhere} {INSTALL_ROOT}"
        )
    converged()
