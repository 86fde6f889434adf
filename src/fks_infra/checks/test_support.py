"""The supporting parts work as planned: PostgreSQL, Redis, monitoring, companions.

Credentials are read on the host from the env file of a service that uses them (sourced by
the shell, handed to the client in its environment): never in a command line, never in the
test's output. Checks of function, not only of "running": a login works with the FKS
credentials and fails without them; Prometheus scrapes every planned target.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from fks_infra.addresses import socket_address
from fks_infra.checks import exposure, fleet
from fks_infra.checks.fleet import CompanionTarget, HostTarget, Target, connect, release
from fks_infra.datastores.config import PostgresCluster, listen_addresses
from fks_infra.monitoring.config import (
    ALERTS,
    GRAFANA_DIR,
    monitoring_context,
)
from fks_infra.ports import (
    ALERTMANAGER,
    BLACKBOX_EXPORTER,
    NODE_EXPORTER,
    POSTGRES,
    PROMETHEUS,
    REDIS,
)

#: Speaks just enough RESP: PING before AUTH, AUTH, PING, CONFIG GET appendonly.
REDIS_PROBE = r"""
import os, socket
def ask(s, *args):
    s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
    return s.recv(4096).decode().replace("\r\n", " ").strip()
where = (os.environ["REDIS_HOST"], int(os.environ["REDIS_PORT"]))
with socket.create_connection(where, 5) as s:
    print(ask(s, b"PING"))
    print(ask(s, b"AUTH", os.environ.get("REDIS_PASSWORD", "").encode()))
    print(ask(s, b"PING"))
    # CONFIG is renamed away (fks_infra.hardening): INFO reports persistence as well.
    print(ask(s, b"INFO", b"persistence"))
"""

#: A PostgreSQL StartupMessage; prints what the server asks for: "R 10 SCRAM-SHA-256" when
#: pg_hba.conf admits this host with scram-sha-256, an error otherwise.
POSTGRES_PROBE = r"""
import os, socket, struct
user, db = os.environ["POSTGRES_USER"].encode(), os.environ["POSTGRES_DB"].encode()
body = struct.pack("!i", 196608) + b"user\0" + user + b"\0database\0" + db + b"\0\0"
where = (os.environ["POSTGRES_HOST"], int(os.environ["POSTGRES_PORT"]))
with socket.create_connection(where, 5) as s:
    s.sendall(struct.pack("!i", len(body) + 4) + body)
    kind, size = struct.unpack("!ci", s.recv(5))
    data = s.recv(size)
    if kind == b"R":
        print("R", struct.unpack("!i", data[:4])[0], data[4:].split(b"\0")[0].decode())
    else:
        print(kind.decode(), data.decode(errors="replace"))
"""

PSQL = (
    'PGPASSWORD="$POSTGRES_PASSWORD" PGCONNECT_TIMEOUT=5 psql -XAtq -h "$POSTGRES_HOST" '
    '-p "$POSTGRES_PORT" -U "$POSTGRES_USER" -d "$POSTGRES_DB" '
    "-c 'SELECT current_user, current_database()'"
)


def with_env(target: Target, command: str, *args: str) -> Any:
    """Run ``command`` on the target's host with its service's env file in the environment.

    ``args`` fill ``%s`` in ``command``, quoted by testinfra.
    """
    return connect(target.host.name).run(
        "set -a && . %s && set +a && " + command, target.service.env_file, *args
    )


def listening(host_name: str, port: int) -> set[str]:
    out = connect(host_name).run(f"ss -Hltn 'sport = :{port}'").stdout
    return {line.split()[3] for line in out.splitlines() if line.strip()}


# --- datastores --------------------------------------------------------------------------


def test_datastores_active_and_bound_to_localhost_and_the_private_address(
    datastore: HostTarget,
) -> None:
    host = connect(datastore.host.name)
    for unit in (PostgresCluster(release(host).postgres).unit, "redis-server.service"):
        assert host.service(unit).is_running, f"{unit} is not running"
    for port in (POSTGRES, REDIS):
        wanted = {socket_address(a, port) for a in listen_addresses(datastore.host)}
        assert listening(datastore.host.name, port) == wanted


def test_redis_config_private(datastore: HostTarget) -> None:
    conf = connect(datastore.host.name).file("/etc/redis/redis.conf")
    assert (conf.user, conf.group, conf.mode) == ("root", "redis", 0o640)


def test_redis_answers_with_the_fks_password_only(redis_clients: Target) -> None:
    result = with_env(redis_clients, "python3 -c %s", REDIS_PROBE)
    assert result.rc == 0, result.stderr
    before, auth, after, appendonly = result.stdout.splitlines()
    assert before.startswith("-NOAUTH"), "Redis answers without a password"
    assert (auth, after) == ("+OK", "+PONG")
    assert "aof_enabled:1" in appendonly.split(), "persistence (appendonly) is off"


def test_postgres_admits_the_host_with_scram(postgres_clients: Target) -> None:
    result = with_env(postgres_clients, "python3 -c %s", POSTGRES_PROBE)
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "R 10 SCRAM-SHA-256"


def test_postgres_logs_in_with_the_fks_credentials(postgres_clients: Target) -> None:
    if connect(postgres_clients.host.name).run("command -v psql").rc != 0:
        pytest.skip("no psql on this host: test_postgres_admits_the_host_with_scram covers it")
    result = with_env(postgres_clients, PSQL)
    assert result.rc == 0, result.stderr
    settings = fleet.current.plan.datastore.settings if fleet.current else None
    assert settings is not None
    expected = f"{settings.fks_postgres_user}|{settings.fks_postgres_database}"
    assert result.stdout.strip() == expected


def test_postgres_refuses_a_wrong_password(postgres_clients: Target) -> None:
    if connect(postgres_clients.host.name).run("command -v psql").rc != 0:
        pytest.skip("no psql on this host")
    result = with_env(postgres_clients, PSQL.replace('"$POSTGRES_PASSWORD"', "not-the-password"))
    assert result.rc != 0
    assert "password authentication failed" in result.stderr


def test_datastores_closed_to_hosts_that_do_not_use_them(datastore_strangers: HostTarget) -> None:
    assert fleet.current is not None
    store = fleet.current.plan.datastore.address
    for port in (POSTGRES, REDIS):
        code = (
            "import socket, sys\n"
            "try: socket.create_connection((sys.argv[1], int(sys.argv[2])), 3); print(1)\n"
            "except OSError: print(0)"
        )
        out = connect(datastore_strangers.host.name).run(
            "python3 -c %s %s %s", code, store, str(port)
        )
        assert out.stdout.strip() == "0", f"{store}:{port} answers {datastore_strangers.host.name}"


# --- monitoring --------------------------------------------------------------------------


def api(host_name: str, path: str) -> Any:
    """GET a Prometheus API path on the monitor host, from the host itself."""
    code = (
        "import sys, urllib.request as u\nprint(u.urlopen(sys.argv[1], timeout=10).read().decode())"
    )
    url = f"http://127.0.0.1:{PROMETHEUS}{path}"
    result = connect(host_name).run("python3 -c %s %s", code, url)
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


def planned_targets(monitor: HostTarget) -> set[tuple[str, str]]:
    assert fleet.current is not None
    context = monitoring_context(monitor.host, fleet.current.plan)
    return (
        {("fks", t.target) for t in context.services}
        | {("node", t.target) for t in context.nodes}
        | {("fks_health", t.target) for t in context.health}
        | {("prometheus", context.prometheus)}
    )


T = TypeVar("T")


def settled(read: Callable[[], T], done: Callable[[T], bool], seconds: float = 120) -> T:
    """``read()`` every 5 s until ``done`` says so or ``seconds`` have passed; the last read.

    Prometheus follows a deploy with a delay: it scrapes a new target within a scrape
    interval (15 s), and a removed target's series answer queries until Prometheus marks
    them stale, after the scrapes that would have come next (seen in CI: a verify run
    right after moving a service found the old place's probe still there).
    """
    deadline = time.monotonic() + seconds
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(5)
        value = read()
    return value


def test_prometheus_scrapes_every_planned_target_and_each_is_up(monitoring: HostTarget) -> None:
    wanted = planned_targets(monitoring)

    def targets() -> dict[tuple[str, str], str]:
        active = api(monitoring.host.name, "/api/v1/targets?state=active")["data"]
        return {
            (t["labels"]["job"], t["discoveredLabels"]["__address__"]): t["health"]
            for t in active["activeTargets"]
        }

    found = settled(targets, lambda found: set(found) == wanted and set(found.values()) == {"up"})
    assert set(found) == wanted, {"missing": wanted - set(found), "extra": set(found) - wanted}
    assert {key: health for key, health in found.items() if health != "up"} == {}


def test_every_health_probe_succeeds(monitoring: HostTarget) -> None:
    assert fleet.current is not None
    planned = {(h.name, s.name) for h in fleet.current.plan.hosts for s in h.services}
    query = "/api/v1/query?query=probe_success%7Bjob%3D%22fks_health%22%7D"

    def probes() -> dict[tuple[str, str], str]:
        results = api(monitoring.host.name, query)["data"]["result"]
        return {(r["metric"]["host"], r["metric"]["service"]): r["value"][1] for r in results}

    values = settled(probes, lambda found: set(found) == planned and set(found.values()) == {"1"})
    found = set(values)
    assert found == planned, {"missing": planned - found, "extra": found - planned}
    assert {key: value for key, value in values.items() if value != "1"} == {}


def test_alert_rules_loaded(monitoring: HostTarget) -> None:
    groups = api(monitoring.host.name, "/api/v1/rules")["data"]["groups"]
    names = {rule["name"] for group in groups for rule in group["rules"]}
    assert set(ALERTS) <= names


def test_prometheus_reaches_alertmanager(monitoring: HostTarget) -> None:
    active = api(monitoring.host.name, "/api/v1/alertmanagers")["data"]["activeAlertmanagers"]
    assert [a["url"] for a in active] == [f"http://127.0.0.1:{ALERTMANAGER}/api/v2/alerts"]


def test_monitoring_daemons_listen_on_localhost_only(monitoring: HostTarget) -> None:
    host = connect(monitoring.host.name)
    for unit in (
        "prometheus.service",
        "prometheus-alertmanager.service",
        "prometheus-blackbox-exporter.service",
    ):
        assert host.service(unit).is_running, f"{unit} is not running"
        assert host.service(unit).is_enabled, f"{unit} is not enabled"
    for port in (PROMETHEUS, ALERTMANAGER, BLACKBOX_EXPORTER):
        assert listening(monitoring.host.name, port) == {f"127.0.0.1:{port}"}
    assert listening(monitoring.host.name, 9094) == set(), "Alertmanager gossips"


def test_grafana_provisioning_rendered(monitoring: HostTarget) -> None:
    host = connect(monitoring.host.name)
    for path in (
        "provisioning/datasources/fks.yaml",
        "provisioning/dashboards/fks.yaml",
        "dashboards/fks-health.json",
    ):
        assert host.file(f"{GRAFANA_DIR}/{path}").exists, path


def test_node_exporter_on_the_private_address(node_exporter: HostTarget) -> None:
    host = connect(node_exporter.host.name)
    assert host.service("prometheus-node-exporter.service").is_running
    assert listening(node_exporter.host.name, NODE_EXPORTER) == {
        socket_address(node_exporter.host.address, NODE_EXPORTER)
    }


# --- companions --------------------------------------------------------------------------


def test_companion_active_on_the_live_release(companions: CompanionTarget) -> None:
    host = connect(companions.host.name)
    unit = host.service(companions.unit)
    assert unit.is_enabled, f"{companions.unit} is not enabled"
    assert unit.is_running, f"{companions.unit} is not running"
    pid = host.run(f"systemctl show -P MainPID {companions.unit}").stdout.strip()
    # Its service's own user: the companion may share its state, no other service may.
    uid = host.run(f"stat -c %u /proc/{pid}").stdout.strip()
    assert uid == host.run(f"id -u {companions.service.user}").stdout.strip()
    # Same release as its service: its program lives under the service's current link.
    exe = host.run(f"readlink -f /proc/{pid}/cwd").stdout.strip()
    current = host.run(f"readlink -f {companions.service.install_dir}/current").stdout.strip()
    assert exe == current


def test_companion_hardened_like_its_service(
    companions: CompanionTarget, request: pytest.FixtureRequest
) -> None:
    """Within its service's sandbox profile's limit; listed at the end of verify's output."""
    sandbox = companions.service.sandbox
    found = exposure.measure(request, companions.host.name, companions.unit, sandbox)
    assert found.level <= found.limit, f"{found.line()}: too exposed\n{found.output}"
