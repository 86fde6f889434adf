"""End to end on the lab: datastores and monitoring converge, stay converged, and work.

The first deploy runs once per session (``deployed``, in tests/lab/conftest.py); each test
checks one concern and leaves the lab converged to the plain lab inventory again.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.parse
from pathlib import Path
from xml.etree import ElementTree

import pytest
from deploying import INVENTORY, REPO, Run, deploy, release_of

from fks_infra.datastores.config import PostgresCluster
from fks_infra.inventory import plan_for_path
from fks_infra.lab.testing import Lab
from fks_infra.monitoring.config import PROMETHEUS_CONFIG, RULES_FILE, monitor_host

pytestmark = pytest.mark.lab

#: The first is the datastore host's PostgreSQL cluster, of its own release (``postgres_unit``).
SUPPORT_UNITS = (
    "postgresql.service",
    "redis-server.service",
    "prometheus.service",
    "prometheus-alertmanager.service",
    "prometheus-blackbox-exporter.service",
    "prometheus-node-exporter.service",
)


def datastore_name() -> str:
    return plan_for_path(INVENTORY, cwd=str(REPO)).datastore.name


def monitor_name() -> str:
    return monitor_host(plan_for_path(INVENTORY, cwd=str(REPO))).name


def prometheus(lab: Lab, path: str) -> dict[str, object]:
    """GET a Prometheus API path on the monitor host, asked on the host itself."""
    done = lab.ssh(monitor_name(), f"curl -s -m 10 'http://127.0.0.1:9090{path}'")
    assert done.returncode == 0, done.stderr
    answer: dict[str, object] = json.loads(done.stdout)
    return answer


def postgres_unit(lab: Lab, host: str) -> str:
    """The ``main`` cluster's unit of the PostgreSQL of ``host``'s own release."""
    return PostgresCluster(release_of(lab, host).postgres).unit


def test_deploy_converges_with_datastores_and_monitoring(lab: Lab, deployed: Run) -> None:
    assert deployed.results["failed_hosts"] == []
    store, monitor = datastore_name(), monitor_name()
    units = (postgres_unit(lab, store), *SUPPORT_UNITS[1:])
    wanted = {
        store: units[:2],
        monitor: units[2:5],
        **{h.name: (units[5],) for h in lab.hosts},
    }
    if store == monitor:
        wanted[store] = units
    for host, units in wanted.items():
        done = lab.ssh(host, f"systemctl is-active {' '.join(units)}")
        assert done.stdout.split() == ["active"] * len(units), (host, done.stdout)


def test_second_run_changes_nothing(deployed: Run) -> None:
    again = deploy()
    assert again.returncode == 0, again.why()
    assert again.changed() == []


def test_verify_passes_with_the_support_checks(
    verified: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, report = verified
    assert done.returncode == 0, done.stdout[-4000:]
    support = []
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        assert case.find("failure") is None and case.find("error") is None, case.get("name")
        if case.get("classname", "").endswith("test_support"):
            support.append(case)
    skipped = [c.get("name") for c in support if c.find("skipped") is not None]
    names = {str(c.get("name")).split("[")[0] for c in support if c.find("skipped") is None}
    # Every kind of support check ran at least once (skips: hosts without psql only).
    assert {
        "test_datastores_active_and_bound_to_localhost_and_the_private_address",
        "test_redis_answers_with_the_fks_password_only",
        "test_postgres_admits_the_host_with_scram",
        "test_postgres_logs_in_with_the_fks_credentials",
        "test_postgres_refuses_a_wrong_password",
        "test_datastores_closed_to_hosts_that_do_not_use_them",
        "test_prometheus_scrapes_every_planned_target_and_each_is_up",
        "test_every_health_probe_succeeds",
        "test_node_exporter_on_the_private_address",
    } <= names, (names, skipped)


def firing(lab: Lab, alert: str, service: str) -> list[dict[str, object]]:
    alerts = prometheus(lab, "/api/v1/alerts")["data"]
    assert isinstance(alerts, dict)
    return [
        a
        for a in alerts["alerts"]
        if a["labels"].get("alertname") == alert
        and a["labels"].get("service") == service
        and a["state"] == "firing"
    ]


def test_a_stopped_service_fires_its_alert_within_bounded_time(lab: Lab, deployed: Run) -> None:
    inventory = plan_for_path(INVENTORY, cwd=str(REPO))
    (host,) = inventory.hosts_running("portfolio")
    settings = monitor_host(inventory).settings
    # The lab's fks_alert_for (lab.inventory.LAB_SETTINGS), in seconds.
    assert re.fullmatch(r"[0-9]+s", settings.fks_alert_for), settings.fks_alert_for
    # for:, plus a scrape and an evaluation interval each side, plus slack.
    bound = int(settings.fks_alert_for[:-1]) + 4 * settings.fks_prometheus_scrape_interval + 30
    assert firing(lab, "FksServiceDown", "portfolio") == []
    lab.ssh(host.name, "systemctl stop fks-portfolio.service")
    started = time.monotonic()
    try:
        found: list[dict[str, object]] = []
        while time.monotonic() - started < bound and not found:
            time.sleep(5)
            found = firing(lab, "FksServiceDown", "portfolio")
        assert found, f"FksServiceDown for portfolio not firing after {bound} s"
        assert found[0]["labels"]["host"] == host.name  # type: ignore[index]
        # The health probe of the same service fails too.
        query = urllib.parse.quote('probe_success{job="fks_health",service="portfolio"}')
        result = prometheus(lab, f"/api/v1/query?query={query}")["data"]
        assert isinstance(result, dict)
        assert [r["value"][1] for r in result["result"]] == ["0"]
    finally:
        lab.ssh(host.name, "systemctl start fks-portfolio.service")
    # Started again by hand, the same deployment: nothing for a deploy to do.
    assert deploy().changed() == []


def digests(lab: Lab, host: str) -> str:
    return lab.ssh(host, f"sha256sum {PROMETHEUS_CONFIG} {RULES_FILE}").stdout


def test_a_broken_alert_rule_value_is_refused_by_promtool(lab: Lab, deployed: Run) -> None:
    monitor = monitor_name()
    before = digests(lab, monitor)
    assert before
    started = lab.ssh(monitor, "systemctl show -P ActiveEnterTimestamp prometheus.service").stdout

    # "1x" passes the setting's pattern; promtool, which reads it, is the judge.
    bad = deploy("--data", 'fks_alert_for="1x"')

    assert bad.returncode != 0
    assert bad.results["failed_hosts"] == [monitor]
    # promtool's own words: 2.42 (Debian 12) and 2.53 (Debian 13) say it differently.
    refused = ('not a valid duration string: "1x"', 'unknown unit "x" in duration "1x"')
    assert any(words in bad.stdout + bad.stderr for words in refused)
    assert digests(lab, monitor) == before
    assert lab.ssh(monitor, "systemctl show -P ActiveEnterTimestamp prometheus.service").stdout == (
        started
    )
    rules = prometheus(lab, "/api/v1/rules")["data"]
    assert isinstance(rules, dict) and rules["groups"], "Prometheus lost its rules"
    assert deploy().changed() == []


# --- companions and pre-start ------------------------------------------------------------


def live_release(lab: Lab, host: str, service: str) -> str:
    return lab.ssh(host, f"readlink /opt/fks/{service}/current").stdout.strip().rsplit("/", 1)[-1]


def test_web_pre_start_ran_once_for_the_live_release(lab: Lab, deployed: Run) -> None:
    (web,) = plan_for_path(INVENTORY, cwd=str(REPO)).hosts_running("web")
    release = live_release(lab, web.name, "web")
    assert release
    done = lab.ssh(
        web.name,
        "test -e /opt/fks/web/current/.fks-pre-started && cat /var/lib/fks/web/static/release.txt",
    )
    assert done.stdout.strip() == release, done.stderr
    store = datastore_name()
    rows = lab.ssh(
        store,
        "runuser -u postgres -- psql -XAtq -d fks -c "
        "\"SELECT release FROM fks_demo_migrations WHERE service = 'web'\"",
    ).stdout.split()
    assert release in rows


def test_companions_follow_their_service(lab: Lab, deployed: Run) -> None:
    (web,) = plan_for_path(INVENTORY, cwd=str(REPO)).hosts_running("web")
    units = "fks-web-worker.service fks-web-beat.service"
    before = lab.ssh(web.name, f"systemctl show -P MainPID {units}").stdout.split()
    lab.ssh(web.name, "systemctl restart fks-web.service")
    deadline = time.monotonic() + 30
    after = before
    while time.monotonic() < deadline and (after == before or "0" in after):
        time.sleep(1)
        after = lab.ssh(web.name, f"systemctl show -P MainPID {units}").stdout.split()
    assert all(new not in ("0", old) for new, old in zip(after, before, strict=True)), after
    # The restarted worker really talks to Redis: beat's first tick (sent at its start) arrives.
    log = ""
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline and "worker: ran job tick" not in log:
        time.sleep(3)
        log = lab.ssh(
            web.name,
            f"journalctl _PID={after[0]} -o cat --no-pager",
        ).stdout
    assert "worker: ran job tick" in log, log[-2000:]


def test_a_failing_migrate_fails_the_rollout_and_keeps_the_previous_release(
    lab: Lab, deployed: Run
) -> None:
    (web,) = plan_for_path(INVENTORY, cwd=str(REPO)).hosts_running("web")
    before = live_release(lab, web.name, "web")
    main_pid = lab.ssh(web.name, "systemctl show -P MainPID fks-web.service").stdout.strip()

    bad = deploy("--data", 'fks_release_sources={"web": "demo:migrate=fail"}')

    assert bad.returncode != 0
    assert bad.results["failed_hosts"] == [web.name]
    output = bad.stdout + bad.stderr
    assert "failed before its start: pre-start task" in output, output[-3000:]
    assert "division by zero" in output
    assert f"release {before} keeps running" in output
    assert live_release(lab, web.name, "web") == before
    assert lab.ssh(web.name, "systemctl show -P MainPID fks-web.service").stdout.strip() == (
        main_pid
    ), "web was restarted although its new release never went live"
    assert deploy().changed() == []
