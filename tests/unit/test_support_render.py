"""PostgreSQL, Redis and monitoring configs, rendered from realistic plans and judged by the
real programs: a throwaway PostgreSQL cluster (through the same check script the deploy
runs), ``redis-server``, ``promtool``, ``amtool`` and the blackbox exporter.

Each program is also shown to refuse a deliberately broken file, so a passing check means
something. Without a program its tests skip, except under ``CI=true`` where that is a
failure. The PostgreSQL and Redis checks start their server on a private socket in a
temporary directory (no TCP port) and stop it again.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import checkers
import pytest
from checkers import redis_server, tool
from pydantic import SecretStr

from fks_infra.catalogue import CATALOGUE
from fks_infra.datastores.config import (
    REDIS_CONF,
    PostgresCluster,
    datastore_env,
    datastore_units,
    render_postgres,
    render_redis,
    scram_verifier,
    setup_sql,
    verifier_matches,
)
from fks_infra.datastores.deploy import CHECK_POSTGRES, CHECK_REDIS
from fks_infra.errors import Problem, ProblemsError
from fks_infra.monitoring.config import (
    ALERTMANAGER_CONFIG,
    ALERTS,
    BLACKBOX_CONFIG,
    PROMETHEUS_CONFIG,
    RULES_FILE,
    monitoring_context,
    render_alertmanager,
    render_blackbox,
    render_defaults,
    render_grafana,
    render_node_exporter_defaults,
    render_prometheus,
)
from fks_infra.package_data import host_file, package_path
from fks_infra.plan import HostSpec, InventoryPlan, plan_inventory
from fks_infra.services.envfile import render_env
from fks_infra.services.units import UnitOptions, render_unit
from fks_infra.settings import HostSettings

#: A password with everything that needs quoting somewhere: URLs, redis.conf, env files, SQL.
AWKWARD = "p'a\"s s$w`o\\r:d@/#?%"

#: The cluster of the PostgreSQL this machine has (Debian 12's, from scripts/install-deps).
CLUSTER = PostgresCluster("15")


def secrets(name: str, settings: HostSettings) -> tuple[SecretStr | None, list[Problem]]:
    return SecretStr(AWKWARD if name.endswith("_PASSWORD") else f"value-of-{name}"), []


#: A bridge host must name its Windows side (fks_infra.bridges); any valid values do here.
BRIDGE_ENDPOINTS = {
    "fks_ninjatrader_host": "192.0.2.200",
    "fks_ninjatrader_port": 36973,
    "fks_mt5_bridge_url": "http://192.0.2.200:18080/",
}


def spec(name: str, groups: Sequence[str], address: str, **data: Any) -> HostSpec:
    data = {"ssh_hostname": address, **(BRIDGE_ENDPOINTS if "bridge" in groups else {}), **data}
    return HostSpec(name, tuple(groups), data, {key: "inventory/test.py" for key in data})


def three(**core_data: Any) -> InventoryPlan:
    return plan_inventory(
        [
            spec("core-1", ["core"], "10.0.0.10", **core_data),
            spec("gpu-1", ["gpu"], "10.0.0.20"),
            spec("bridge-1", ["bridge"], "fd00::30"),
        ],
        secrets=secrets,
    )


UNIQUE_CORE = [s.name for s in CATALOGUE if s.unique and s.role.value == "core"]


def dedicated() -> InventoryPlan:
    """The datastores on a host of their own, which runs no FKS service."""
    return plan_inventory(
        [
            spec("core-1", ["core"], "10.0.1.1"),
            spec("core-2", ["core"], "10.0.1.2", fks_services_skip=UNIQUE_CORE),
            spec("db-1", ["datastore"], "10.0.1.9"),
            spec("gpu-1", ["gpu"], "10.0.2.1"),
            spec("bridge-1", ["bridge"], "10.0.3.1"),
        ],
        secrets=secrets,
    )


# --- tools -------------------------------------------------------------------------------


def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """A checker run; PostgreSQL and Redis start real servers, so they get 90 s."""
    return checkers.run(argv, timeout=90, **kwargs)


PG_BIN = CLUSTER.bin_dir


def needs_postgres() -> None:
    tool("postgres", PG_BIN)
    tool("runuser")
    if os.geteuid() != 0:
        pytest.skip("the PostgreSQL check runs the server as user postgres: needs root")


def write(tmp_path: Path, files: dict[str, str]) -> dict[str, Path]:
    """Write rendered files under tmp_path, mirroring their live paths."""
    written = {}
    for live, text in files.items():
        path = tmp_path / live.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written[live] = path
    return written


# --- datastores: placement, env, units ---------------------------------------------------


def test_the_one_core_host_runs_the_datastores_and_services_reach_it_where_it_is() -> None:
    inventory = three()
    assert inventory.datastore.name == "core-1"
    web = datastore_env(CATALOGUE["web"], inventory.host("core-1"), inventory)
    assert web["POSTGRES_HOST"] == web["REDIS_HOST"] == "127.0.0.1"
    quoted = "p%27a%22s%20s%24w%60o%5Cr%3Ad%40%2F%23%3F%25"
    assert web["DATABASE_URL"] == f"postgresql://fks:{quoted}@127.0.0.1:5432/fks"
    assert web["REDIS_URL"] == f"redis://:{quoted}@127.0.0.1:6379/1"
    assert web["CELERY_BROKER_URL"] == f"redis://:{quoted}@127.0.0.1:6379/0"
    assert web["POSTGRES_PASSWORD"] == web["REDIS_PASSWORD"] == AWKWARD
    ai = datastore_env(CATALOGUE["ai"], inventory.host("gpu-1"), inventory)
    assert ai["REDIS_URL"].endswith("@10.0.0.10:6379/1")
    assert "DATABASE_URL" not in ai  # ai declares Redis only
    training = datastore_env(CATALOGUE["training"], inventory.host("gpu-1"), inventory)
    assert set(training) == {
        "POSTGRES_HOST",
        "POSTGRES_PORT",
        "POSTGRES_DB",
        "POSTGRES_USER",
        "POSTGRES_PASSWORD",
        "DATABASE_URL",
    }
    assert datastore_env(CATALOGUE["meta"], inventory.host("bridge-1"), inventory) == {}


def test_env_file_carries_the_password_byte_exact() -> None:
    inventory = three()
    text = render_env(datastore_env(CATALOGUE["web"], inventory.host("core-1"), inventory))
    assert 'POSTGRES_PASSWORD="p\'a\\"s s\\$w\\`o\\\\r:d@/#?%"\n' in text


def test_services_start_after_the_datastores_they_read_on_the_same_host_only() -> None:
    inventory = three()
    core, gpu = inventory.host("core-1"), inventory.host("gpu-1")
    assert datastore_units(core, inventory, CATALOGUE["web"]) == (
        "postgresql.service",
        "redis-server.service",
    )
    assert datastore_units(core, inventory, CATALOGUE["api"]) == ("redis-server.service",)
    assert datastore_units(core, inventory, CATALOGUE["execution"]) == ()
    assert datastore_units(gpu, inventory, CATALOGUE["training"]) == ()
    unit = render_unit(
        CATALOGUE["web"],
        ["/opt/fks/web/current/venv/bin/uvicorn", "fks_web.main:app"],
        UnitOptions(after=datastore_units(core, inventory, CATALOGUE["web"])),
        release_id="0123456789abcdef",
    )
    assert "\nAfter=postgresql.service redis-server.service\n" in unit


def test_a_datastore_host_may_run_no_service() -> None:
    inventory = dedicated()
    assert inventory.datastore.name == "db-1"
    assert inventory.datastore.services == ()
    assert "POSTGRES_PASSWORD" in inventory.datastore.secrets


def problems(*specs: HostSpec) -> list[str]:
    with pytest.raises(ProblemsError) as error:
        plan_inventory(specs, secrets=secrets)
    return [str(problem) for problem in error.value.problems]


def test_two_datastore_hosts_are_refused() -> None:
    assert problems(
        spec("core-1", ["core", "datastore"], "10.0.0.1"),
        spec("gpu-1", ["gpu", "datastore"], "10.0.0.2"),
        spec("bridge-1", ["bridge"], "10.0.0.3"),
    ) == [
        "the datastore group has 2 hosts (core-1, gpu-1); PostgreSQL and Redis run on exactly one"
    ]


def test_several_core_hosts_and_no_datastore_host_is_refused_with_the_fix() -> None:
    found = problems(
        spec("core-1", ["core"], "10.0.0.1"),
        spec("core-2", ["core"], "10.0.0.2", fks_services_skip=UNIQUE_CORE),
        spec("gpu-1", ["gpu"], "10.0.0.3"),
        spec("bridge-1", ["bridge"], "10.0.0.4"),
    )
    assert found == [
        "no host runs PostgreSQL and Redis: no host is in the datastore group and there are "
        "core hosts core-1, core-2; put exactly one host in group datastore"
    ]


def test_a_missing_datastore_password_names_who_needs_it() -> None:
    def without(name: str, settings: HostSettings) -> tuple[SecretStr | None, list[Problem]]:
        return (None if name == "REDIS_PASSWORD" else SecretStr("x")), []

    with pytest.raises(ProblemsError) as error:
        plan_inventory([spec("db-1", ["datastore", "core"], "10.0.0.1")], secrets=without)
    assert any(
        "missing secret REDIS_PASSWORD (needed by web, api, data, data_ingestion, redis "
        "(datastore))" in str(problem)
        for problem in error.value.problems
    )


# --- PostgreSQL --------------------------------------------------------------------------


def hba_lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.startswith("host")]


def test_pg_hba_admits_the_fks_role_from_the_hosts_that_read_postgres_only() -> None:
    inventory = three()
    hba = render_postgres(inventory.host("core-1"), inventory, CLUSTER)[CLUSTER.hba]
    assert hba_lines(hba) == [
        "host fks fks 127.0.0.1/32 scram-sha-256",
        "host fks fks ::1/128 scram-sha-256",
        "host fks fks 10.0.0.10/32 scram-sha-256",
        "host fks fks 10.0.0.20/32 scram-sha-256",  # training on gpu-1
    ]
    assert "trust" not in hba and "md5" not in hba
    settings = render_postgres(inventory.host("core-1"), inventory, CLUSTER)[CLUSTER.conf]
    assert "listen_addresses = '127.0.0.1,10.0.0.10'" in settings


def test_timescaledb_is_preloaded_when_asked_for() -> None:
    inventory = three(fks_postgres_extensions=["vector", "timescaledb"])
    settings = render_postgres(inventory.host("core-1"), inventory, CLUSTER)[CLUSTER.conf]
    assert "shared_preload_libraries = 'timescaledb'" in settings


@pytest.mark.parametrize("layout", [three, dedicated])
def test_postgres_accepts_the_rendered_settings_and_hba(layout: Any, tmp_path: Path) -> None:
    needs_postgres()
    inventory = layout()
    files = write(tmp_path, render_postgres(inventory.datastore, inventory, CLUSTER))
    result = run([host_file(CHECK_POSTGRES), str(files[CLUSTER.conf]), str(files[CLUSTER.hba])])
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("which", "broken", "message"),
    [
        (CLUSTER.hba, "host fks fks 10.0.0.999/32 scram-sha-256\n", "could not load pg_hba.conf"),
        (CLUSTER.hba, "host fks fks 10.0.0.0/8 scram-sha-255\n", "invalid authentication method"),
        (CLUSTER.conf, "password_encryption = 'rot13'\n", "invalid value"),
    ],
)
def test_postgres_refuses_a_broken_file(
    which: str, broken: str, message: str, tmp_path: Path
) -> None:
    needs_postgres()
    inventory = three()
    rendered = render_postgres(inventory.datastore, inventory, CLUSTER)
    rendered[which] += broken
    files = write(tmp_path, rendered)
    result = run([host_file(CHECK_POSTGRES), str(files[CLUSTER.conf]), str(files[CLUSTER.hba])])
    assert result.returncode != 0
    assert message in result.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def cluster() -> Iterator[tuple[Path, int]]:
    """A throwaway PostgreSQL with the rendered hba, on a free localhost port."""
    needs_postgres()
    # Not under pytest's tmp_path: its parents are root-only, and the server runs as postgres.
    work = Path(tempfile.mkdtemp(prefix="fks-pgtest-"))
    inventory = three()
    rendered = render_postgres(inventory.datastore, inventory, CLUSTER)
    (work / "pg_hba.conf").write_text(rendered[CLUSTER.hba])
    shutil.chown(work, "postgres", "postgres")
    shutil.chown(work / "pg_hba.conf", "postgres", "postgres")
    work.chmod(0o700)
    as_pg = ["runuser", "-u", "postgres", "--"]
    init = run([*as_pg, f"{PG_BIN}/initdb", "-D", str(work / "data"), "--no-sync", "-A", "reject"])
    assert init.returncode == 0, init.stderr
    port = free_port()
    options = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={work} "
        f"-c hba_file={work}/pg_hba.conf -c password_encryption=scram-sha-256"
    )
    start = run(
        [*as_pg, f"{PG_BIN}/pg_ctl", "-D", str(work / "data"), "-w", "-l", str(work / "log"),
         "-o", options, "start"]
    )  # fmt: skip
    assert start.returncode == 0, (work / "log").read_text()
    try:
        yield work, port
    finally:
        run([*as_pg, f"{PG_BIN}/pg_ctl", "-D", str(work / "data"), "-m", "immediate", "stop"])
        shutil.rmtree(work, ignore_errors=True)


def psql_as_fks(port: int, password: str) -> subprocess.CompletedProcess[str]:
    return run(
        ["psql", "-XAtq", "-h", "127.0.0.1", "-p", str(port), "-U", "fks", "-d", "fks",
         "-c", "SELECT current_user, current_database()"],
        env={**os.environ, "PGPASSWORD": password, "PGCONNECT_TIMEOUT": "5"},
    )  # fmt: skip


def test_setup_sql_makes_a_role_that_logs_in_with_the_password_only(
    cluster: tuple[Path, int],
) -> None:
    work, port = cluster
    tool("psql")
    script = setup_sql("fks", "fks", scram_verifier(AWKWARD), ())
    as_pg = ["runuser", "-u", "postgres", "--", "psql", "-XAtq", "-h", str(work), "-p", str(port)]
    for _ in range(2):  # safe to run again
        done = run([*as_pg, "-v", "ON_ERROR_STOP=1", "-f", "-"], input=script)
        assert done.returncode == 0, done.stderr
    assert psql_as_fks(port, AWKWARD).stdout.strip() == "fks|fks"
    wrong = psql_as_fks(port, "wrong")
    assert wrong.returncode != 0
    assert "password authentication failed" in wrong.stderr
    stored = run([*as_pg, "-c", "SELECT rolpassword FROM pg_authid WHERE rolname = 'fks'"])
    assert verifier_matches(stored.stdout.strip(), AWKWARD)
    assert not verifier_matches(stored.stdout.strip(), "wrong")


def test_verifier_matches_only_its_password() -> None:
    verifier = scram_verifier("secret", b"0123456789abcdef")
    assert verifier.startswith("SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$")
    assert verifier_matches(verifier, "secret")
    assert not verifier_matches(verifier, "Secret")
    for other in (None, "", "md5abc", "SCRAM-SHA-256$x:y$z", "SCRAM-SHA-256$4096:!!$a:b"):
        assert not verifier_matches(other, "secret")


def test_setup_sql_quotes_names_and_never_holds_the_password() -> None:
    script = setup_sql("fks", "fks", scram_verifier(AWKWARD), ("vector",))
    assert AWKWARD not in script
    assert 'CREATE EXTENSION IF NOT EXISTS "vector";' in script
    assert '\\connect "fks"' in script


# --- Redis -------------------------------------------------------------------------------


def test_redis_binds_localhost_and_the_private_address_with_persistence() -> None:
    inventory = three()
    text = render_redis(inventory.datastore)
    lines = text.splitlines()
    assert "bind 127.0.0.1 10.0.0.10" in lines
    assert "appendonly yes" in lines
    assert "protected-mode yes" in lines
    assert 'requirepass "p\'a\\x22s s$w`o\\x5cr:d@/#?%"' in lines


def test_redis_accepts_the_rendered_config(tmp_path: Path) -> None:
    tool("redis-server")
    inventory = three()
    files = write(tmp_path, {REDIS_CONF: render_redis(inventory.datastore)})
    result = run([host_file(CHECK_REDIS), str(files[REDIS_CONF])])
    assert result.returncode == 0, result.stderr


def test_redis_takes_the_password_byte_exact(tmp_path: Path) -> None:
    """The quoted requirepass is the password: AUTH with it succeeds, without it fails."""
    cli = tool("redis-cli")
    with redis_server(render_redis(three().datastore), tmp_path) as sock:
        denied = run([cli, "-s", str(sock), "PING"])
        assert "NOAUTH" in denied.stdout + denied.stderr
        env = {**os.environ, "REDISCLI_AUTH": AWKWARD}
        assert run([cli, "-s", str(sock), "PING"], env=env).stdout.strip() == "PONG"


def test_redis_refuses_a_broken_config_without_printing_the_password(tmp_path: Path) -> None:
    tool("redis-server")
    inventory = three()
    text = render_redis(inventory.datastore).replace("requirepass ", "requirepass extra ")
    files = write(tmp_path, {REDIS_CONF: text})
    result = run([host_file(CHECK_REDIS), str(files[REDIS_CONF])])
    assert result.returncode != 0
    assert "FATAL CONFIG FILE ERROR" in result.stderr
    assert "s$w" not in result.stderr + result.stdout


# --- monitoring --------------------------------------------------------------------------


def test_scrape_targets_are_every_placed_service_every_host_every_health_path() -> None:
    inventory = three()
    context = monitoring_context(inventory.host("core-1"), inventory)
    placed = {(h.name, s.name) for h in inventory.hosts for s in h.services}
    assert {(t.host, t.service) for t in context.services} == placed
    assert {(t.host, t.service) for t in context.health} == placed
    assert [t.target for t in context.nodes] == [
        "10.0.0.10:9100",
        "10.0.0.20:9100",
        "[fd00::30]:9100",
    ]
    assert "http://[fd00::30]:8005/health" in {t.target for t in context.health}


@pytest.mark.parametrize("layout", [three, dedicated])
def test_promtool_accepts_the_scrape_config_and_rules(layout: Any, tmp_path: Path) -> None:
    promtool = tool("promtool")
    inventory = layout()
    monitor = inventory.hosts_running("monitor")[0]
    files = write(tmp_path, render_prometheus(monitor, inventory))
    config = run([promtool, "check", "config", "--lint=none", str(files[PROMETHEUS_CONFIG])])
    assert config.returncode == 0, config.stdout + config.stderr
    assert "1 rule files found" in config.stdout
    rules = run([promtool, "check", "rules", "--lint=none", str(files[RULES_FILE])])
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert f"{len(ALERTS)} rules found" in rules.stdout
    assert all(f"alert: {name}" in files[RULES_FILE].read_text() for name in ALERTS)


def test_promtool_refuses_a_broken_alert_duration_from_the_setting(tmp_path: Path) -> None:
    promtool = tool("promtool")
    inventory = three(fks_alert_for="1x")  # passes the setting's loose pattern
    files = write(tmp_path, render_prometheus(inventory.host("core-1"), inventory))
    result = run([promtool, "check", "config", str(files[PROMETHEUS_CONFIG])])
    assert result.returncode != 0
    assert "not a valid duration string" in result.stdout + result.stderr


def test_promtool_rules_fire_a_service_down_alert_from_up_equal_zero(tmp_path: Path) -> None:
    """The rules mean what they say: promtool's own rule unit test evaluates them."""
    promtool = tool("promtool")
    inventory = three()
    files = write(tmp_path, render_prometheus(inventory.host("core-1"), inventory))
    test = tmp_path / "test.yml"
    test.write_text(
        json.dumps(
            {
                "rule_files": [str(files[RULES_FILE])],
                "evaluation_interval": "15s",
                "tests": [
                    {
                        "interval": "15s",
                        "input_series": [
                            {"series": 'up{job="fks",host="core-1",service="api"}',
                             "values": "1 1 0 0 0 0 0 0 0"},
                            {"series": 'probe_success{job="fks_health",host="gpu-1",service="ai"}',
                             "values": "1 1 1 1 1 1 1 1 1"},
                        ],
                        "alert_rule_test": [
                            {"eval_time": "2m", "alertname": "FksServiceDown",
                             "exp_alerts": [{"exp_labels": {
                                 "job": "fks", "host": "core-1", "service": "api",
                                 "severity": "critical"},
                                 "exp_annotations": {
                                 "summary": "api on core-1 does not answer /metrics"}}]},
                            {"eval_time": "2m", "alertname": "FksHealthFailing",
                             "exp_alerts": []},
                        ],
                    }
                ],
            }
        )
    )  # fmt: skip
    result = run([promtool, "test", "rules", str(test)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_amtool_accepts_the_alertmanager_config(tmp_path: Path) -> None:
    """Without a webhook (the secret case: tests/unit/test_alertmanager_webhook.py)."""
    amtool = tool("amtool")
    inventory = three()
    files = write(
        tmp_path, {ALERTMANAGER_CONFIG: render_alertmanager(inventory.host("core-1"), inventory)}
    )
    result = run([amtool, "check-config", str(files[ALERTMANAGER_CONFIG])])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "webhook_configs" not in files[ALERTMANAGER_CONFIG].read_text()


def test_amtool_refuses_a_broken_config(tmp_path: Path) -> None:
    amtool = tool("amtool")
    inventory = three()
    text = render_alertmanager(inventory.host("core-1"), inventory).replace(
        "receiver: none", "receiver: nobody"
    )
    files = write(tmp_path, {ALERTMANAGER_CONFIG: text})
    result = run([amtool, "check-config", str(files[ALERTMANAGER_CONFIG])])
    assert result.returncode != 0
    assert 'undefined receiver "nobody"' in result.stdout + result.stderr


def test_blackbox_exporter_accepts_its_config_and_refuses_a_broken_one(tmp_path: Path) -> None:
    exporter = tool("prometheus-blackbox-exporter")
    good = write(tmp_path / "good", {BLACKBOX_CONFIG: render_blackbox()})[BLACKBOX_CONFIG]
    result = run([exporter, "--config.check", f"--config.file={good}"])
    assert result.returncode == 0, result.stderr
    bad_text = render_blackbox().replace("timeout: 5s", "timeout: 5x")
    bad = write(tmp_path / "bad", {BLACKBOX_CONFIG: bad_text})[BLACKBOX_CONFIG]
    assert run([exporter, "--config.check", f"--config.file={bad}"]).returncode != 0


def test_daemons_of_the_monitor_host_listen_on_localhost_and_the_exporter_privately() -> None:
    inventory = three()
    defaults = render_defaults(inventory.host("core-1"))
    assert (
        'ARGS="--web.listen-address=127.0.0.1:9090 --storage.tsdb.retention.time=15d"\n'
        in (defaults["/etc/default/prometheus"])
    )
    assert "--cluster.listen-address=" in defaults["/etc/default/prometheus-alertmanager"]
    assert 'ARGS="--web.listen-address=[fd00::30]:9100"\n' in render_node_exporter_defaults(
        inventory.host("bridge-1")
    )


def yaml_json(text: str) -> Any:
    return json.loads("\n".join(line for line in text.splitlines() if not line.startswith("#")))


def test_grafana_provisioning_points_at_prometheus_and_the_dashboard() -> None:
    inventory = three()
    files = render_grafana(inventory.host("core-1"), inventory)
    datasource = yaml_json(files["/etc/fks-infra/grafana/provisioning/datasources/fks.yaml"])
    provider = yaml_json(files["/etc/fks-infra/grafana/provisioning/dashboards/fks.yaml"])
    dashboard = json.loads(files["/etc/fks-infra/grafana/dashboards/fks-health.json"])
    assert datasource["datasources"][0]["url"] == "http://127.0.0.1:9090"
    assert provider["providers"][0]["options"]["path"] == "/etc/fks-infra/grafana/dashboards"
    uid = datasource["datasources"][0]["uid"]
    assert all(panel["datasource"]["uid"] == uid for panel in dashboard["panels"])
    assert dashboard["panels"][0]["targets"][0]["expr"] == 'probe_success{job="fks_health"}'


# --- the demo's release tasks against the real servers ------------------------------------

DEMO_LIB = package_path("demo", "python", "fks_demo")


def demo_task(
    service: str,
    task: str,
    env: dict[str, str],
    background: bool = False,
    behaviour: str | None = None,
) -> Any:
    code = f"from fks_demo.tasks import run; run({service!r}, {task!r}, {behaviour!r})"
    argv = ["python3", "-c", code]
    environ = {"PATH": os.environ["PATH"], "PYTHONPATH": str(DEMO_LIB), **env}
    if background:
        return subprocess.Popen(
            argv, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    return run(argv, env=environ)


def fks_login(cluster: tuple[Path, int]) -> str:
    """Create the FKS role and database; return the DATABASE_URL of the FKS role."""
    work, port = cluster
    script = setup_sql("fks", "fks", scram_verifier(AWKWARD), ())
    as_pg = ["runuser", "-u", "postgres", "--", "psql", "-XAtq", "-h", str(work), "-p", str(port)]
    done = run([*as_pg, "-v", "ON_ERROR_STOP=1", "-f", "-"], input=script)
    assert done.returncode == 0, done.stderr
    return f"postgresql://fks:{quote(AWKWARD, safe='')}@127.0.0.1:{port}/fks"


def test_demo_migrate_creates_its_table_with_the_fks_login(cluster: tuple[Path, int]) -> None:
    url = fks_login(cluster)
    for _ in range(2):  # a second run of the same release is fine
        done = demo_task("web", "migrate", {"DATABASE_URL": url, "FKS_RELEASE_ID": "r1"})
        assert done.returncode == 0, done.stderr
    work, port = cluster
    rows = run(
        ["runuser", "-u", "postgres", "--", "psql", "-XAtq", "-h", str(work), "-p", str(port),
         "-d", "fks", "-c", "SELECT service, release FROM fks_demo_migrations"]
    )  # fmt: skip
    assert rows.stdout.split() == ["web|r1"]


def test_demo_migrate_fails_loudly_with_a_wrong_password(cluster: tuple[Path, int]) -> None:
    url = fks_login(cluster).replace("p%27a", "wrong")
    done = demo_task("web", "migrate", {"DATABASE_URL": url})
    assert done.returncode == 1
    assert 'password authentication failed for user "fks"' in done.stderr
    assert demo_task("web", "migrate", {}).returncode == 1  # no DATABASE_URL at all


def test_demo_migrate_built_to_fail_fails_in_postgres(cluster: tuple[Path, int]) -> None:
    url = fks_login(cluster)
    done = demo_task("web", "migrate", {"DATABASE_URL": url}, behaviour="migrate=fail")
    assert done.returncode == 1
    assert "PostgreSQL: division by zero" in done.stderr


@pytest.fixture
def redis_port(tmp_path: Path) -> Iterator[int]:
    """A redis-server on the rendered config, on a free TCP port of 127.0.0.1."""
    port = free_port()
    with redis_server(render_redis(three().datastore), tmp_path, port):
        yield port


def test_demo_worker_runs_the_jobs_beat_sends_through_redis(redis_port: int) -> None:
    inventory = three()
    env = datastore_env(CATALOGUE["web"], inventory.host("core-1"), inventory)
    broker = env["CELERY_BROKER_URL"].replace(":6379/", f":{redis_port}/")
    settings = {"CELERY_BROKER_URL": broker, "FKS_BEAT_SECONDS": "0.2"}
    worker = demo_task("web", "worker", settings, background=True)
    beat = demo_task("web", "beat", settings, background=True)
    try:
        time.sleep(3)
    finally:
        for process in (worker, beat):
            process.terminate()
        out, err = worker.communicate(timeout=10)
        beat.communicate(timeout=10)
    assert "worker: connected to the broker" in out, err
    assert "worker: ran job tick" in out


def test_demo_worker_exits_non_zero_with_a_wrong_password(redis_port: int) -> None:
    broker = f"redis://:wrong@127.0.0.1:{redis_port}/0"
    done = demo_task("web", "worker", {"CELERY_BROKER_URL": broker})
    assert done.returncode == 1
    assert "WRONGPASS" in done.stderr


def test_a_datastore_password_that_differs_between_hosts_is_refused_without_its_value() -> None:
    def per_file(name: str, settings: HostSettings) -> tuple[SecretStr | None, list[Problem]]:
        value = "one" if settings.fks_secrets_file == "secrets/fks.toml" else "two"
        return SecretStr(f"{name}-{value}"), []

    with pytest.raises(ProblemsError) as error:
        plan_inventory(
            [
                spec("core-1", ["core"], "10.0.0.10"),
                spec("gpu-1", ["gpu"], "10.0.0.20", fks_secrets_file="secrets/gpu.toml"),
                spec("bridge-1", ["bridge"], "10.0.0.30"),
            ],
            secrets=per_file,
        )
    messages = [str(problem) for problem in error.value.problems]
    assert messages == [
        "host gpu-1: secret POSTGRES_PASSWORD differs from the one of the datastore host core-1 "
        "(from secrets/gpu.toml): its services could not log in",
        "host gpu-1: secret REDIS_PASSWORD differs from the one of the datastore host core-1 "
        "(from secrets/gpu.toml): its services could not log in",
    ]
    assert not any("-two" in message or "-one" in message for message in messages)
