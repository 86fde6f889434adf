"""fks-rollout's health check proves who answered: run against a real HTTP server on loopback.

An HTTP 200 counts only when the socket listening on the port is held by a process in the
unit's control group (read from /proc: the kernel's own, and a fake tree for the cgroup
layouts of systemd hosts), and when a JSON body naming a release names the one rolled out.
Requests go straight to the service: a proxy from the environment and redirects are ignored,
by the rollout and by ``fks-infra verify``'s health check alike.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from test_rollout_pre_start import load_rollout

from fks_infra.checks import test_services

UNIT = "fks-web.service"
UNIT_CGROUP = "/system.slice/fks-web.service"


class Answers(http.server.BaseHTTPRequestHandler):
    """Answers each path with what ``routes`` says: (status, headers, body)."""

    routes: ClassVar[dict[str, tuple[int, dict[str, str], bytes]]] = {}

    def do_GET(self) -> None:
        status, headers, body = self.routes.get(self.path, (404, {}, b"not found\n"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[int, dict[str, tuple[int, dict[str, str], bytes]]]]:
    """A server on 127.0.0.1 in this process: (port, its routes to fill in)."""
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
    handler = type("Routes", (Answers,), {"routes": routes})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], routes
    httpd.shutdown()
    httpd.server_close()


def own_cgroup() -> str:
    """This process's cgroup as systemd names it (the unified or name=systemd hierarchy)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers in ("", "name=systemd"):
            return path
    raise AssertionError("no unified or name=systemd cgroup line in /proc/self/cgroup")


def rollout_for(monkeypatch: pytest.MonkeyPatch, cgroup: str) -> Any:
    """fks-rollout whose ``systemctl`` says the unit is active in ``cgroup``."""
    module = load_rollout()

    def systemctl(*args: str) -> str:
        if args[:3] == ("show", "-P", "ControlGroup"):
            return cgroup
        if args[:3] == ("show", "-P", "ActiveState"):
            return "active"
        return ""

    monkeypatch.setattr(module, "systemctl", systemctl)
    return module


def health(release: str) -> tuple[int, dict[str, str], bytes]:
    document = {"service": "web", "status": "ok", "release": release}
    return 200, {"Content-Type": "application/json"}, json.dumps(document).encode()


def test_a_listener_in_the_units_cgroup_is_healthy(
    server: tuple[int, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, routes = server
    routes["/health"] = health("r1")
    rollout = rollout_for(monkeypatch, own_cgroup())
    ok, reason = rollout.healthy(UNIT, f"http://127.0.0.1:{port}/health", 2.0, release="r1")
    assert (ok, reason) == (True, "HTTP 200")


def test_a_foreign_listener_answering_200_is_not_healthy_and_is_named(
    server: tuple[int, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, routes = server
    routes["/health"] = (200, {}, b"ok\n")  # a file server that happens to have /health
    rollout = rollout_for(monkeypatch, UNIT_CGROUP)  # this process is not in it
    ok, reason = rollout.healthy(UNIT, f"http://127.0.0.1:{port}/health", 1.0, release="r1")
    assert not ok
    assert f"HTTP 200 but foreign listener on port {port}: pid {os.getpid()} (" in reason
    assert f"not {UNIT}" in reason and reason.endswith("after 1 s")


def test_a_health_document_naming_another_release_is_not_healthy(
    server: tuple[int, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, routes = server
    routes["/health"] = health("r0")  # the old release is still the one answering
    rollout = rollout_for(monkeypatch, own_cgroup())
    ok, reason = rollout.healthy(UNIT, f"http://127.0.0.1:{port}/health", 1.0, release="r1")
    assert (ok, reason) == (False, "HTTP 200 but /health names release r0, not r1 after 1 s")


@pytest.mark.parametrize(
    "body",
    [
        b'{"status": "ok", "release": "unknown"}',  # the demo, not told its release
        b'{"status": "ok"}',
        b"OK\n",
        b"[1, 2]",
    ],
)
def test_a_service_that_does_not_name_its_release_passes_on_its_cgroup(
    body: bytes, server: tuple[int, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, routes = server
    routes["/health"] = (200, {}, body)
    rollout = rollout_for(monkeypatch, own_cgroup())
    assert rollout.healthy(UNIT, f"http://127.0.0.1:{port}/health", 2.0, release="r1")[0]


def test_a_proxy_in_the_environment_is_not_used(
    server: tuple[int, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, routes = server
    routes["/health"] = health("r1")
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:1")  # nothing listens there
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    rollout = rollout_for(monkeypatch, own_cgroup())
    ok, reason = rollout.healthy(UNIT, f"http://127.0.0.1:{port}/health", 2.0, release="r1")
    assert (ok, reason) == (True, "HTTP 200")


def test_a_redirect_elsewhere_is_not_followed(
    server: tuple[int, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, routes = server
    routes["/health"] = (302, {"Location": f"http://127.0.0.1:{port}/elsewhere"}, b"")
    routes["/elsewhere"] = health("r1")
    rollout = rollout_for(monkeypatch, own_cgroup())
    ok, reason = rollout.healthy(UNIT, f"http://127.0.0.1:{port}/health", 1.0, release="r1")
    assert (ok, reason) == (False, "HTTP 302 after 1 s")


def test_rollout_checks_the_release_it_rolls_out(
    server: tuple[int, dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The call site passes ``--release-id``: a release answering as another is rolled back
    and not recorded."""
    port, routes = server
    routes["/health"] = health("old")
    rollout = rollout_for(monkeypatch, own_cgroup())
    monkeypatch.setattr(rollout, "STATE_DIR", tmp_path / "deployed")
    monkeypatch.setattr(rollout, "HEALTHY_DIR", tmp_path / "healthy")
    monkeypatch.setattr(rollout, "journal", lambda unit: "")
    for name in ("old", "new"):
        (tmp_path / "releases" / name).mkdir(parents=True)
        (tmp_path / "releases" / name / ".fks-complete").touch()
    (tmp_path / "current").symlink_to("releases/old")
    args = rollout.argparse.Namespace(
        service="web", unit=UNIT, home=str(tmp_path), release_id="new", tarball="/nonexistent",
        tar_sha256="", manifest_sha256="", deploy_id="d2", install="[]", user="fks-web",
        url=f"http://127.0.0.1:{port}/health", timeout=1.0, keep=3,
        env_file="/etc/fks/web.env", pre_start="[]", unit_file=[],
    )  # fmt: skip
    assert rollout.rollout(args) == 1
    assert not (tmp_path / "deployed" / "web").exists()
    assert (tmp_path / "current").resolve().name == "old"


# -- the /proc reading, against a fake tree of a systemd host ---------------------------------

TCP_HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"  # noqa: E501


def tcp_line(local: str, state: str, inode: int) -> str:
    return f"   0: {local} 00000000:0000 {state} 00000000:00000000 00:00000000 00000000  0  0 {inode} 1 0 100 0 0 10 0\n"  # noqa: E501


def hex_v4(address: str, port: int) -> str:
    """/proc/net/tcp's form of an IPv4 address and port on this (little-endian) machine."""
    packed = bytes(int(part) for part in address.split("."))
    return f"{int.from_bytes(packed, 'little'):08X}:{port:04X}"


def fake_proc(root: Path, sockets: dict[int, str], processes: dict[int, tuple[str, int]]) -> Path:
    """A /proc with ``sockets`` ({inode: tcp line}) and ``processes`` ({pid: (cgroup file
    text, inode of its one socket)}); each process's command line is ``server-<pid> --port``."""
    (root / "net").mkdir(parents=True)
    (root / "net/tcp").write_text(TCP_HEADER + "".join(sockets.values()))
    (root / "net/tcp6").write_text(TCP_HEADER)
    (root / "self").mkdir()
    for pid, (cgroup, inode) in processes.items():
        (root / str(pid) / "fd").mkdir(parents=True)
        (root / str(pid) / "fd/0").symlink_to("/dev/null")
        (root / str(pid) / "fd/3").symlink_to(f"socket:[{inode}]")
        (root / str(pid) / "cgroup").write_text(cgroup)
        (root / str(pid) / "cmdline").write_bytes(f"server-{pid}\0--port\0".encode())
    return root


#: A lab guest's hybrid layout: v1 controllers, the name=systemd hierarchy and cgroup2.
HYBRID = "4:memory:/\n1:name=systemd:{0}\n0::{0}\n"


def test_the_units_process_in_a_hybrid_layout_is_proven(
    server: tuple[int, dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    port, routes = server
    routes["/health"] = health("r1")
    proc = fake_proc(
        tmp_path / "proc",
        {7001: tcp_line(hex_v4("127.0.0.1", port), "0A", 7001),
         7002: tcp_line(hex_v4("127.0.0.2", port), "0A", 7002),  # another address
         7003: tcp_line(hex_v4("127.0.0.1", port), "01", 7003)},  # a connection, not a listener
        {812: (HYBRID.format(UNIT_CGROUP + "/main"), 7001),
         900: (HYBRID.format("/system.slice/other.service"), 7002),
         901: (HYBRID.format("/system.slice/other.service"), 7003)},
    )  # fmt: skip
    rollout = rollout_for(monkeypatch, UNIT_CGROUP)
    monkeypatch.setattr(rollout, "PROC", proc)
    assert rollout.port_listeners("127.0.0.1", port) == {7001: [812]}
    ok, reason = rollout.healthy(UNIT, f"http://127.0.0.1:{port}/health", 2.0, release="r1")
    assert (ok, reason) == (True, "HTTP 200")


@pytest.mark.parametrize(
    "cgroup",
    [
        "/system.slice/foreign-x.service",
        "/system.slice/fks-web.service-decoy",  # a name that only starts like the unit's
        "/user.slice/user-0.slice/session-1.scope",
    ],
)
def test_a_wildcard_listener_outside_the_unit_is_named(
    cgroup: str,
    server: tuple[int, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    port, routes = server
    routes["/health"] = health("r1")  # even a foreign copy claiming the right release
    proc = fake_proc(
        tmp_path / "proc",
        {7001: tcp_line(hex_v4("0.0.0.0", port), "0A", 7001)},
        {4242: (HYBRID.format(cgroup), 7001)},
    )
    rollout = rollout_for(monkeypatch, UNIT_CGROUP)
    monkeypatch.setattr(rollout, "PROC", proc)
    ok, reason = rollout.healthy(UNIT, f"http://127.0.0.1:{port}/health", 1.0, release="r1")
    assert not ok
    assert f"foreign listener on port {port}: pid 4242 (server-4242 --port), not {UNIT}" in reason


def test_a_unit_that_is_not_running_proves_nothing(
    server: tuple[int, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, routes = server
    routes["/health"] = health("r1")
    rollout = rollout_for(monkeypatch, "")  # no ControlGroup: the unit has no processes
    ok, reason = rollout.healthy(UNIT, f"http://127.0.0.1:{port}/health", 1.0, release="r1")
    assert not ok and f"foreign listener on port {port}: pid {os.getpid()}" in reason


def test_ipv6_and_mapped_addresses_read_from_proc() -> None:
    rollout = load_rollout()
    loopback6 = "00000000000000000000000001000000"  # ::1, word by word in little-endian
    mapped = "0000000000000000FFFF00000100007F"  # ::ffff:127.0.0.1
    assert str(rollout.listen_address(loopback6)) == "::1"
    assert str(rollout.listen_address(mapped)) == "127.0.0.1"
    wildcard6 = rollout.listen_address("0" * 32)
    assert rollout.could_answer(wildcard6, "127.0.0.1") and rollout.could_answer(wildcard6, "::1")
    wildcard4 = rollout.listen_address("00000000")
    assert rollout.could_answer(wildcard4, "10.0.0.2")
    assert not rollout.could_answer(wildcard4, "::1")
    assert not rollout.could_answer(rollout.listen_address("0100007F"), "10.0.0.2")


@pytest.mark.parametrize(("path", "code"), [("/health", "200"), ("/moved", "302")])
def test_verify_asks_the_service_straight_too(
    path: str, code: str, server: tuple[int, dict[str, Any]]
) -> None:
    """``fks-infra verify``'s health check (checks/test_services.py): a proxy in the host's
    environment is not used, a redirect is the answer and is not followed."""
    port, routes = server
    routes["/health"] = health("r1")
    routes["/moved"] = (302, {"Location": f"http://127.0.0.1:{port}/health"}, b"")
    env = {k: v for k, v in os.environ.items() if k.lower() != "no_proxy"}
    env.update(http_proxy="http://127.0.0.1:1", HTTP_PROXY="http://127.0.0.1:1")
    done = subprocess.run(
        [sys.executable, "-c", test_services.HEALTH_CODE, f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, timeout=30, check=False, env=env,
    )  # fmt: skip
    assert (done.returncode, done.stdout.strip()) == (0, code), done.stderr
