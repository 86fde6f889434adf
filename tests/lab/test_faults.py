"""Faults and bad input on the lab: each case says what must happen, and checks that nothing
was lost or half-applied (services that were healthy are still healthy).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import time

import pytest
from deploying import BIN, INVENTORY, REPO, Run, deploy, deploy_broken

from fks_infra.lab.testing import Lab

pytestmark = pytest.mark.lab


def all_healthy(lab: Lab) -> bool:
    done = subprocess.run(
        [str(BIN / "fks-infra"), "status", INVENTORY, "--json"], cwd=REPO, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip
    return done.returncode == 0 and json.loads(done.stdout)["healthy"] is True


def test_an_unreachable_host_fails_alone_and_is_named(lab: Lab, deployed: Run) -> None:
    # The host end of bridge-1's veth goes down: the host is there but cannot be reached.
    subprocess.run(["ip", "link", "set", "fl-bridge-1", "down"], check=True)
    try:
        run = deploy()
    finally:
        subprocess.run(["ip", "link", "set", "fl-bridge-1", "up"], check=True)
    assert run.returncode != 0
    assert run.results["failed_hosts"] == ["bridge-1"]
    assert "[bridge-1] Could not connect" in run.stderr
    assert run.results["totals"]["error"] == 0  # core-1 and gpu-1 converged
    assert all_healthy(lab)


def test_a_second_run_on_a_busy_host_refuses_and_the_lock_dies_with_its_holder(
    lab: Lab, deployed: Run
) -> None:
    hold = (
        "mkdir -p -m 0700 /run/fks-infra; exec 9>>/run/fks-infra/run.lock; flock 9; "
        'echo "$$ pid 4242 on another-machine" > /run/fks-infra/run.lock; echo held; '
        "exec cat >/dev/null"
    )  # held, like fks-infra's own lock, until the connection ends
    holder = subprocess.Popen(
        [str(BIN / "fks-infra"), "lab", "ssh", "core-1", "--", "sudo -n sh -c", shlex.quote(hold)],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        busy = deploy()
        assert busy.returncode != 0
        assert (
            "core-1 is being deployed by another fks-infra run (pid 4242 on another-machine)"
            in busy.stderr
        )
    finally:
        holder.kill()  # the holder dies: its connection closes and the lock goes with it
        holder.wait(timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        again = deploy()
        if "being deployed by another" not in again.stderr:
            break
        time.sleep(1)
    assert again.returncode == 0, again.why()
    assert again.changed() == []


def test_an_interrupted_run_leaves_nothing_half_done_and_the_next_run_converges(
    lab: Lab, deployed: Run
) -> None:
    rotated = {"FKS_SECRET_AUTH_SECRET": "rotated-secret-9d2c"}
    started = subprocess.Popen(
        [str(BIN / "pyinfra"), "-y", INVENTORY, "deploy/all.py"], cwd=REPO,
        env={**os.environ, **rotated}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(4)  # into the run: files are being written and services rolled out
    started.send_signal(signal.SIGKILL)
    started.wait(timeout=30)
    for host in ("core-1", "gpu-1", "bridge-1"):
        exposed = lab.ssh(
            host,
            "find /etc/fks /opt/fks /var/lib/fks-infra -type f -perm /o+r "
            "-exec grep -l rotated-secret-9d2c {} + 2>/dev/null; "
            "find /opt/fks -path '*/bin/*' -type f -size 0",
        ).stdout.strip()
        assert exposed == "", f"{host}: {exposed}"
    resumed = deploy(env=rotated)
    assert resumed.returncode == 0, resumed.why()
    assert deploy(env=rotated).changed() == []
    restored = deploy()
    assert restored.returncode == 0, restored.why()
    assert all_healthy(lab)


def test_an_artifact_whose_checksum_does_not_match_is_refused(lab: Lab, deployed: Run) -> None:
    before = lab.ssh("core-1", "readlink /opt/fks/app/current").stdout
    done = lab.ssh(
        "core-1",
        "set -e; tar=$(ls /opt/fks/app/artifacts/*.tar | head -n 1); "
        "cp $tar /tmp/tampered.tar; echo x >> /tmp/tampered.tar; "
        "/usr/local/lib/fks-infra/fks-rollout --service app --unit fks-app.service "
        "--home /opt/fks/app --release-id tampered0000000 --tarball /tmp/tampered.tar "
        "--tar-sha256 $(sha256sum $tar | cut -d' ' -f1) --manifest-sha256 0 --deploy-id x "
        "--url http://127.0.0.1:1/ --install '[]' --user fks --env-file /etc/fks/app.env "
        "--pre-start '[]' --timeout 5 --keep 3",
    )
    assert done.returncode == 1
    assert "app: release tampered0000000 refused: artifact /tmp/tampered.tar has SHA-256" in (
        done.stderr
    )
    assert lab.ssh("core-1", "readlink /opt/fks/app/current").stdout == before
    assert lab.ssh("core-1", "test -e /opt/fks/app/releases/tampered0000000").returncode != 0
    assert all_healthy(lab)


def test_a_full_disk_stops_every_host_before_any_change(lab: Lab, deployed: Run) -> None:
    run = deploy("--data", "fks_preflight_min_free_mib=100000000")
    assert run.returncode != 0
    for host in ("core-1", "gpu-1", "bridge-1"):
        assert re.search(rf"\[{host}\]\s+pre-flight check failed: only \d+ MiB free", run.stderr)
    assert "No hosts remaining" in run.stderr  # every host stopped at the first operation
    assert deploy().changed() == []  # and so nothing had changed
    assert all_healthy(lab)


def test_apt_waits_for_the_dpkg_lock_instead_of_failing(lab: Lab, deployed: Run) -> None:
    # Another package manager holds dpkg's frontend lock (fcntl, as apt takes it) for 8 s.
    holder = (
        "import fcntl, time; lock = open('/var/lib/dpkg/lock-frontend', 'w'); "
        "fcntl.lockf(lock, fcntl.LOCK_EX); time.sleep(8)"
    )
    held = lab.ssh("core-1", f"systemd-run --collect python3 -c {shlex.quote(holder)}; sleep 1")
    assert held.returncode == 0, held.stderr
    started = time.monotonic()
    # A reinstall needs the lock (an install of what is installed would not take it).
    done = lab.ssh("core-1", "apt-get install --reinstall -y -q python3-venv", timeout=120)
    waited = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    assert waited >= 5, f"apt did not wait for the lock ({waited:.1f} s)"


#: What a refused run must leave as it was: every file fks-infra owns and every service's process.
WATCHED = (
    "sha256sum /etc/fks/* /etc/systemd/system/fks-* /etc/fks-infra/firewall.nft "
    "/etc/apt/sources.list.d/* /etc/apt/preferences.d/* 2>/dev/null; "
    "systemctl show -P MainPID $(systemctl list-units --plain --no-legend 'fks-*' | cut -d' ' -f1)"
)


def test_a_pinned_branch_its_release_lacks_is_refused_before_any_change(
    lab: Lab, deployed: Run
) -> None:
    before = {host.name: lab.ssh(host.name, WATCHED).stdout for host in lab.hosts}
    run = deploy("--data", 'fks_gpu_driver_branch="999"')  # no such branch in the archive
    assert run.returncode != 0
    # The first GPU node pyinfra plans stops the run (gpu-1 on Debian 12 or gpu-2 on 13).
    assert re.search(
        r"host gpu-\d: fks_gpu_driver_branch: fks_gpu_driver_branch '999': Debian 1[23] "
        r"\((bookworm|trixie)\)'s archive has the (535|550) branch only; nothing was changed",
        run.stderr,
    ), run.stderr[-3000:]
    for host in lab.hosts:
        assert lab.ssh(host.name, WATCHED).stdout == before[host.name], host.name
    assert all_healthy(lab)
    assert deploy().changed() == []


def test_an_unsupported_release_is_refused_before_any_change(lab: Lab, deployed: Run) -> None:
    before = {host.name: lab.ssh(host.name, WATCHED).stdout for host in lab.hosts}
    bullseye = 'PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"\nID=debian\nVERSION_ID="11"\n'
    swap = lab.ssh(
        "bridge-1",
        "mv /etc/os-release /etc/os-release.fks-test && "
        f"printf {shlex.quote(bullseye)} > /etc/os-release",
    )
    assert swap.returncode == 0, swap.stderr
    try:
        run = deploy()
    finally:
        lab.ssh("bridge-1", "mv -f /etc/os-release.fks-test /etc/os-release")
    assert run.returncode != 0
    assert "bridge-1: Debian GNU/Linux 11 (bullseye) is not supported (supported: Debian 12" in (
        run.stderr
    )
    assert "nothing was changed" in run.stderr
    for host in lab.hosts:
        assert lab.ssh(host.name, WATCHED).stdout == before[host.name], host.name
    assert deploy().changed() == []


def test_a_skewed_clock_stops_its_host_before_any_change(lab: Lab, deployed: Run) -> None:
    # Lab guests share this machine's kernel clock and may not set it (no CAP_SYS_TIME), so
    # bridge-1's `date` is made to read an hour ahead: what the pre-flight fact asks.
    ahead = '#!/bin/sh\nexec /bin/date -d @$(( $(/bin/date +%s) + 3600 )) "$@"\n'
    shim = "/usr/local/bin/date"
    put = lab.ssh("bridge-1", f"printf %s {shlex.quote(ahead)} > {shim} && chmod 755 {shim}")
    assert put.returncode == 0, put.stderr
    try:
        run = deploy()
    finally:
        lab.ssh("bridge-1", f"rm -f {shim}")
    assert run.returncode != 0
    assert run.results["failed_hosts"] == ["bridge-1"]
    assert re.search(
        r"\[bridge-1\]\s+pre-flight check failed: clock is 36\d\d s off this machine's", run.stderr
    ), run.stderr[-3000:]
    assert run.changed() == []  # the others were converged already: nothing to do there
    assert deploy().changed() == []
    assert all_healthy(lab)


def failed_everywhere(run: Run, hosts: list[str], message: str) -> None:
    """Every host stopped at the same check, each naming what its program said."""
    assert run.returncode != 0
    assert "No hosts remaining" in run.stderr
    for host in hosts:
        assert re.search(rf"\[{host}\]\s+.*{message}", run.stderr), (host, run.stderr[-3000:])


def test_a_broken_sshd_rendering_never_goes_live_and_logins_still_work(
    lab: Lab, deployed: Run
) -> None:
    live = "sha256sum /etc/ssh/sshd_config /etc/ssh/sshd_config.d/*"
    before = {host.name: lab.ssh(host.name, live).stdout for host in lab.hosts}
    run = deploy_broken("fks_infra.sshd.config", "render_sshd", "MaxAuthTries many\n")
    failed_everywhere(
        run, list(before), "00-fks-infra.conf line \\d+: MaxAuthTries integer value invalid"
    )
    for host in lab.hosts:  # byte-identical, still serving, and a fresh login gets in
        assert lab.ssh(host.name, live).stdout == before[host.name]
        assert lab.ssh(host.name, "systemctl is-active ssh").stdout.strip() == "active"
    assert deploy().changed() == []
    assert all_healthy(lab)


def test_a_broken_nftables_rendering_never_goes_live(lab: Lab, deployed: Run) -> None:
    live = "nft list ruleset; sha256sum /etc/fks-infra/firewall.nft"
    before = {host.name: lab.ssh(host.name, live).stdout for host in lab.hosts}
    run = deploy_broken(
        "fks_infra.firewall.deploy", "render_ruleset", "add rule inet fks nowhere\n"
    )
    failed_everywhere(run, list(before), r"firewall.nft:\d+:\d+-\d+: Error: syntax error")
    for host in lab.hosts:
        assert lab.ssh(host.name, live).stdout == before[host.name]
    assert deploy().changed() == []
    assert all_healthy(lab)


#: On the host: fks-rollout's own extract() unpacking a tarball with a setuid file, a 0777
#: directory, foreign owners, then one with a device; prints the modes and owners it left.
UNPACK = r"""
import importlib.machinery, io, os, sys, tarfile, tempfile
from pathlib import Path
rollout = importlib.machinery.SourceFileLoader(
    "rollout", "/usr/local/lib/fks-infra/fks-rollout").load_module()
os.umask(0o022)  # as fks-rollout's main() sets it, whatever the login's umask (CIS: 027)
work = Path(tempfile.mkdtemp())
def tarball(name, *members):
    with tarfile.open(work / name, "w") as archive:
        for member_name, kind, mode in members:
            info = tarfile.TarInfo(member_name)
            info.type, info.mode, info.uid, info.gid = kind, mode, 4242, 4242
            data = b"x" if kind == tarfile.REGTYPE else b""
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return work / name
good = tarball("good.tar", ("d", tarfile.DIRTYPE, 0o777), ("d/tool", tarfile.REGTYPE, 0o6777))
rollout.extract(good, work / "good")
for path in ("d", "d/tool"):
    info = os.stat(work / "good" / path)
    print(path, oct(info.st_mode & 0o7777), info.st_uid, info.st_gid)
print("filter" if rollout.DATA_FILTER else "fallback", sys.version.split()[0])
bad = tarball("bad.tar", ("ok", tarfile.REGTYPE, 0o644), ("mem", tarfile.CHRTYPE, 0o666))
try:
    rollout.extract(bad, work / "bad")
except rollout.RolloutError as error:
    print("refused:", error)
"""


def test_each_release_python_unpacks_as_the_data_filter_does(lab: Lab, deployed: Run) -> None:
    seen = set()
    for host in lab.hosts:
        done = lab.ssh(host.name, f"python3 -c {shlex.quote(UNPACK)}")
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert lines[:2] == ["d 0o755 0 0", "d/tool 0o755 0 0"], (host.name, lines)
        assert lines[3].startswith("refused: artifact") and "mem" in lines[3], lines
        seen.add(lines[2].split()[0])
    print("unpack paths seen:", sorted(seen))


def as_nobody(command: str) -> str:
    return f"setpriv --reuid=65534 --regid=65534 --clear-groups {command}"


def rollout_refusing(timeout: float) -> str:
    """fks-rollout of a tarball whose checksum is wrong: it takes the lock, then refuses."""
    return (
        "/usr/local/lib/fks-infra/fks-rollout --service app --unit fks-app.service "
        "--home /opt/fks/app --release-id locktest0000000 --tarball /etc/hostname "
        "--tar-sha256 0 --manifest-sha256 0 --deploy-id x --url http://127.0.0.1:1/ "
        "--install '[]' --user fks --env-file /etc/fks/app.env --pre-start '[]' --timeout 5 "
        f"--keep 3 --lock-timeout {timeout:g}"
    )


def test_nobody_can_hold_up_a_rollout_and_roots_holder_is_named(lab: Lab, deployed: Run) -> None:
    host = "core-1"
    layout = lab.ssh(host, "stat -c '%U %G %a' /run/fks-infra /run/fks-infra/rollout.lock")
    assert layout.stdout == "root root 700\nroot root 600\n", layout.stdout + layout.stderr
    denied = lab.ssh(host, as_nobody("flock -n -s /run/fks-infra/rollout.lock true"))
    assert denied.returncode != 0 and "Permission denied" in denied.stderr, denied
    # What blocked every rollout before: nobody's shared flock on the old, world-openable file.
    old = "/run/lock/fks-rollout.lock"
    held = lab.ssh(
        host,
        f"touch {old} && chmod 644 {old} && systemd-run --collect --unit=fks-test-nobody "
        f"{as_nobody(f'flock -s {old} sleep 120')} && sleep 1",
    )
    assert held.returncode == 0, held.stderr
    try:
        started = time.monotonic()
        done = lab.ssh(host, rollout_refusing(30))
        took = time.monotonic() - started
        print(f"rollout beside nobody's flock on the old lock file: {took:.1f} s")
        assert took < 20
        assert done.returncode == 1 and "release locktest0000000 refused" in done.stderr, done
    finally:
        lab.ssh(host, f"systemctl stop fks-test-nobody.service; rm -f {old}")
    # root holding the real lock: the wait is bounded and names the holder.
    hold = "flock /run/fks-infra/rollout.lock sleep 120"
    assert lab.ssh(host, f"systemd-run --collect --unit=fks-test-holder {hold}").returncode == 0
    try:
        started = time.monotonic()
        done = lab.ssh(host, rollout_refusing(2))
        waited = time.monotonic() - started
        assert done.returncode == 1 and 2 <= waited < 15, (waited, done)
        print(f"rollout gave up on root's held lock after {waited:.1f} s (ssh included)")
        assert re.search(
            r"rollout lock /run/fks-infra/rollout.lock is held by pid \d+ \(\S*flock "
            r"/run/fks-infra/rollout.lock sleep 120\); gave up after 2 s",
            done.stderr,
        ), done.stderr
    finally:
        lab.ssh(host, "systemctl stop fks-test-holder.service")
