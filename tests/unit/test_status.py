"""fks-infra status: the probe program against a real loopback server, and the table logic."""

from __future__ import annotations

import http.server
import json
import os
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_sshd import client_key_file, fake_sshd
from pydantic import SecretStr
from windows_side import ENDPOINTS

from fks_infra import status
from fks_infra.plan import HostSpec, InventoryPlan, plan_inventory


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/health" else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[int]:
    httpd = http.server.HTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()


def test_probe_reports_listening_and_health_codes(server: int) -> None:
    services = [
        {
            "name": n,
            "unit": f"fks-{n}.service",
            "home": "/nonexistent",
            "bind": "127.0.0.1",
            "port": port,
            "url": f"http://127.0.0.1:{port}{path}",
        }
        for n, port, path in (("api", server, "/health"), ("web", server, "/broken"))
    ]
    out = subprocess.run(
        [sys.executable, "-c", status.PROBE, json.dumps(services)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    api, web = json.loads(out.stdout)
    assert (api["service"], api["listening"], api["health"], api["release"]) == (
        "api",
        True,
        200,
        "",
    )
    assert web["health"] == 503
    assert api["latency_ms"] >= 0


def fake_systemctl(folder: Path, cgroup: str) -> dict[str, str]:
    """An environment whose ``systemctl show -P ControlGroup`` says ``cgroup`` (and every
    unit is active), with a proxy that answers nothing: the probe must ask straight."""
    program = folder / "systemctl"
    program.write_text(
        "#!/bin/sh\n"
        f'case "$3" in ControlGroup) echo {shlex.quote(cgroup)};; *) echo active;; esac\n'
    )
    program.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k.lower() != "no_proxy"}
    return {**env, "PATH": f"{folder}:{env['PATH']}", "http_proxy": "http://127.0.0.1:1",
            "HTTP_PROXY": "http://127.0.0.1:1"}  # fmt: skip


def probe_one(server: int, env: dict[str, str]) -> dict[str, object]:
    url = f"http://127.0.0.1:{server}/health"
    service = {"name": "api", "unit": "fks-api.service", "home": "/nonexistent",
               "bind": "127.0.0.1", "port": server, "url": url}  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-c", status.PROBE, json.dumps([service])],
        capture_output=True, text=True, timeout=60, check=True, env=env,
    )  # fmt: skip
    (item,) = json.loads(out.stdout)
    assert isinstance(item, dict)
    return item


def own_cgroup() -> str:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers in ("", "name=systemd"):
            return path
    raise AssertionError("no unified or name=systemd line in /proc/self/cgroup")


def test_the_probe_asks_straight_and_finds_the_units_own_listener(
    server: int, tmp_path: Path
) -> None:
    item = probe_one(server, fake_systemctl(tmp_path, own_cgroup()))
    assert (item["state"], item["health"], item["foreign_listener"]) == ("active", 200, "")


def test_the_probe_names_a_foreign_listener_and_status_calls_it_unhealthy(
    server: int, tmp_path: Path
) -> None:
    item = probe_one(server, fake_systemctl(tmp_path, "/system.slice/fks-api.service"))
    foreign = str(item["foreign_listener"])
    assert foreign.startswith(f"pid {os.getpid()} (") and item["health"] == 200
    plan = three_hosts().host("core-1")
    row = next(r for r in status.parse(plan, json.dumps([item])) if r.service == "api")
    assert not row.healthy
    assert status.table_rows([row])[0][5] == f"foreign: {foreign}"
    report = json.loads(status.as_json([row]))["services"][0]
    assert report["foreign_listener"] == foreign and report["listening"] is True


def test_a_reply_without_the_foreign_field_still_parses() -> None:
    """A reply of the former probe shape (as test doubles and older tools give it)."""
    plan = three_hosts().host("core-1")
    item = {"service": "api", "state": "active", "release": "r1", "listening": True,
            "health": 200, "latency_ms": 1.0}  # fmt: skip
    (row,) = status.parse(plan, json.dumps([item]))
    assert row.healthy and row.foreign_listener == ""


def three_hosts() -> InventoryPlan:
    specs = [
        HostSpec("core-1", ("core",), {"ssh_hostname": "10.9.0.2"}),
        HostSpec("gpu-1", ("gpu",), {"ssh_hostname": "10.9.0.3"}),
        HostSpec("bridge-1", ("bridge",), {"ssh_hostname": "10.9.0.4", **ENDPOINTS}),
    ]
    return plan_inventory(specs, secrets=lambda name, settings: (SecretStr("x"), []))


def test_collect_asks_every_host_and_marks_the_unreachable_one() -> None:
    inventory = three_hosts()
    asked: list[str] = []

    def run(host: str, command: str) -> tuple[int, str, str]:
        asked.append(host)
        if host == "bridge-1":
            raise ConnectionRefusedError("no route")
        plan = inventory.host(host)
        healthy = [
            {
                "service": s.name,
                "state": "active",
                "release": "r1",
                "listening": True,
                "health": 200,
                "latency_ms": 1.5,
            }
            for s in plan.services
        ]
        return 0, json.dumps(healthy), ""

    rows = status.collect(inventory, run)
    assert sorted(asked) == ["bridge-1", "core-1", "gpu-1"]
    assert len(rows) == 19
    bad = [r for r in rows if not r.healthy]
    assert {(r.host, r.state) for r in bad} == {("bridge-1", "unreachable: ConnectionRefusedError")}
    report = json.loads(status.as_json(rows))
    assert report["healthy"] is False and len(report["services"]) == 19


def test_the_probe_command_carries_only_the_plan() -> None:
    command = status.probe_command(three_hosts().host("gpu-1"))
    assert command.startswith("python3 -c ")
    assert "http://10.9.0.3:8007/health" in command and "8011" in command


def test_the_probe_url_of_an_ipv6_bind_address_is_bracketed() -> None:
    specs = [
        HostSpec("core-1", ("core",), {"ssh_hostname": "10.9.0.2"}),
        HostSpec("gpu-1", ("gpu",), {"ssh_hostname": "fd00::3"}),
        HostSpec("bridge-1", ("bridge",), {"ssh_hostname": "10.9.0.4", **ENDPOINTS}),
    ]
    inventory = plan_inventory(specs, secrets=lambda name, settings: (SecretStr("x"), []))
    assert "http://[fd00::3]:8007/health" in status.probe_command(inventory.host("gpu-1"))


def _healthy_reply(inventory: InventoryPlan, host: str) -> bytes:
    return json.dumps(
        [
            {
                "service": s.name,
                "state": "active",
                "release": "r1",
                "listening": True,
                "health": 200,
                "latency_ms": 1.0,
            }
            for s in inventory.host(host).services
        ]
    ).encode()


def test_status_refuses_a_host_whose_key_is_not_the_recorded_one(tmp_path: Path) -> None:
    """A fake sshd that answers every probe 'healthy': accepted with its recorded key,
    refused with the message naming host and known_hosts file once its key changes."""
    inventory = three_hosts()  # only core-1 is asked: the others have no data here
    known = tmp_path / "known_hosts"
    key = client_key_file(str(tmp_path))
    reply = _healthy_reply(inventory, "core-1")
    with fake_sshd(reply) as server:
        data = {
            "ssh_hostname": "127.0.0.1",
            "ssh_port": server.port,
            "ssh_user": "deploy",
            "ssh_key": key,
            "ssh_known_hosts_file": str(known),
            "ssh_strict_host_key_checking": "yes",
        }
        known.write_text(f"[127.0.0.1]:{server.port} ssh-ed25519 {server.key.get_base64()}\n")
        rows = core_1(status.collect(inventory, status.connection_runner({"core-1": data})))
        assert rows and all(r.healthy for r in rows)
    with fake_sshd(reply, port=server.port) as impostor:
        rows = core_1(status.collect(inventory, status.connection_runner({"core-1": data})))
        assert impostor.commands == []
    assert {r.state for r in rows} == {"refused: host key"}
    assert not any(r.healthy for r in rows)
    detail = rows[0].detail
    assert detail.startswith(f"core-1 ([127.0.0.1]:{server.port}): the SSH host key changed")
    assert str(known) in detail


def core_1(rows: list[status.Row]) -> list[status.Row]:
    return [r for r in rows if r.host == "core-1"]
