"""A foreign process on a service's port, on the lab: refused by the pre-flight before any
change, named by ``fks-infra status``, and never counted as the service's health.

The service is stopped and a file server that answers ``/health`` with 200 takes its port,
as a leftover or a stray process would. The deploy stops that host at the pre-flight naming
the process; ``fks-rollout`` restarting the service (which then cannot bind: it crash-loops)
sees the 200 come from a process outside the unit's control group, does not record the
deployment and names the process. The test puts the service back and checks that a deploy
changes nothing.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time

import pytest
from deploying import BIN, INVENTORY, REPO, Run, deploy

from fks_infra.addresses import url_host
from fks_infra.catalogue import CATALOGUE
from fks_infra.inventory import plan_for_path
from fks_infra.lab.testing import Lab
from fks_infra.paths import ROLLOUT

pytestmark = pytest.mark.lab

#: A plain service: one unit, no companions to bring back.
SERVICE = CATALOGUE["app"]
FOREIGN = "foreign-x"
#: What a refused run must leave as it was: fks-infra's files, the recorded deployments and
#: the live release of every service.
WATCHED = (
    "sha256sum /etc/fks/* /etc/systemd/system/fks-* /var/lib/fks-infra/deployed/* "
    "2>/dev/null; readlink -f /opt/fks/*/current"
)


def sh(lab: Lab, host: str, command: str, timeout: float = 120.0) -> str:
    done = lab.ssh(host, command, timeout=timeout)
    assert done.returncode == 0, f"{command!r} on {host}: {done.stdout}{done.stderr}"
    return done.stdout


def answers(lab: Lab, host: str, url: str, code: str) -> bool:
    """Whether ``url`` answers ``code`` on ``host`` within 20 s (asked every 0.5 s)."""
    ask = f"curl -q --noproxy '*' -s -o /dev/null -w '%{{http_code}}' {shlex.quote(url)}"
    for _ in range(40):
        if lab.ssh(host, ask).stdout.strip() == code:
            return True
        time.sleep(0.5)
    return False


def status_rows() -> list[dict[str, object]]:
    done = subprocess.run(
        [str(BIN / "fks-infra"), "status", INVENTORY, "--json"], cwd=REPO, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip
    rows: list[dict[str, object]] = json.loads(done.stdout)["services"]
    return rows


def test_a_foreign_listener_is_refused_named_and_never_healthy(lab: Lab, deployed: Run) -> None:
    (plan,) = plan_for_path(INVENTORY, cwd=str(REPO)).hosts_running(SERVICE.name)
    host, address, port = plan.name, plan.bind_address, SERVICE.port
    url = f"http://{url_host(address)}:{port}{SERVICE.health_path}"
    release = sh(lab, host, f"readlink {SERVICE.install_dir}/current").strip().rsplit("/", 1)[-1]
    files = f"/run/{FOREIGN}"
    sh(lab, host, f"systemctl stop {SERVICE.unit}")
    try:
        # http.server answers 404 for /health unless a file of that name is there.
        sh(
            lab, host,
            f"mkdir -p {files} && echo ok > {files}/health && systemd-run --quiet "
            f"--unit={FOREIGN} python3 -m http.server {port} --bind {address} "
            f"--directory {files}",
        )  # fmt: skip
        assert answers(lab, host, url, "200"), f"{FOREIGN} does not answer {url}"
        pid = sh(lab, host, f"systemctl show -P MainPID {FOREIGN}").strip()
        before = sh(lab, host, WATCHED)

        # The pre-flight stops the host before any change, naming host, port, service, process.
        run = deploy()
        assert run.returncode != 0
        assert re.search(
            rf"\[{host}\]\s+pre-flight check failed: (.*; )?port {re.escape(url_host(address))}:"
            rf"{port} of service {SERVICE.name} on {host} is held by pid {pid} \(\S*python3 -m "
            rf"http.server {port} --bind {re.escape(address)} --directory {files}\), not by "
            rf"{re.escape(SERVICE.unit)}",
            run.stderr,
        ), run.why()
        assert sh(lab, host, WATCHED) == before
        assert lab.ssh(host, f"systemctl is-active {SERVICE.unit}").stdout.strip() != "active"

        # status says who holds the port, and that the service is not healthy.
        (row,) = [r for r in status_rows() if (r["host"], r["service"]) == (host, SERVICE.name)]
        assert row["health"] == 200 and row["healthy"] is False
        assert str(row["foreign_listener"]).startswith(f"pid {pid} (")

        # The rollout restarts the release, which cannot bind and crash-loops; the foreign
        # 200 does not make it healthy, and the deployment is not recorded.
        rollout = lab.ssh(
            host,
            f"{ROLLOUT} --service {SERVICE.name} --unit {SERVICE.unit} "
            f"--home {SERVICE.install_dir} --release-id {release} --tarball /nonexistent "
            "--tar-sha256 0 --manifest-sha256 0 --deploy-id foreign-listener-test "
            f"--url {url} --install '[]' --user {SERVICE.user} --env-file {SERVICE.env_file} "
            "--pre-start '[]' --timeout 8 --keep 3",
            timeout=120,
        )
        assert rollout.returncode == 1, rollout.stdout + rollout.stderr
        assert f"release {release} failed its health check" in rollout.stderr
        assert f"foreign listener on port {port}: pid {pid} (" in rollout.stderr
        assert sh(lab, host, WATCHED) == before
    finally:
        lab.ssh(
            host,
            f"systemctl stop {FOREIGN}; systemctl reset-failed {FOREIGN} {SERVICE.unit}; "
            f"rm -rf {files}; systemctl start {SERVICE.unit}",
        )
    assert answers(lab, host, url, "200"), f"{SERVICE.unit} did not come back on {url}"
    again = deploy()
    assert again.returncode == 0, again.why()
    assert again.changed() == []
