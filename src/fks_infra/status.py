"""``fks-infra status``: a live table of host × service, one SSH round trip per host.

Each host runs a small standard-library probe (sent inline, nothing installed) that reports,
for every service planned there: unit state, live release, whether the port listens, the
``/health`` code and latency (asked straight: no proxy from the host's environment, no
redirect followed), and any process outside the unit's control group holding the port (a
foreign listener: then the answer was not the unit's, and the service is not healthy).
Hosts are asked in parallel.
"""

from __future__ import annotations

import ast
import json
import shlex
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from fks_infra.addresses import url_host
from fks_infra.connections import HostKeyError
from fks_infra.package_data import host_file
from fks_infra.paths import ROLLOUT
from fks_infra.plan import HostPlan, InventoryPlan

#: What the probe takes from fks-rollout (in its source order): asking a service straight
#: (no proxy from the host's environment, no redirect followed) and finding the processes
#: that hold the socket listening on its port. Status and the rollout's health check share
#: one meaning of "the unit's own process answered".
FROM_ROLLOUT = (
    "systemctl", "NoRedirect", "health_opener", "PROC", "TCP_LISTEN", "listen_address",
    "could_answer", "port_listeners", "in_cgroup", "foreign_pids", "process_name",
)  # fmt: skip


def rollout_code(names: tuple[str, ...]) -> str:
    """The source of fks-rollout's top-level ``names`` (functions, classes, constants), in
    the program's order. Raises ``LookupError`` naming any it does not define."""
    source = host_file(ROLLOUT).read_text(encoding="utf-8")
    found: list[str] = []
    defined: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            name = node.name
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
        else:
            continue
        if name in names:
            found.append(ast.get_source_segment(source, node) or "")
            defined.add(name)
    if missing := sorted(set(names) - defined):
        raise LookupError(f"{ROLLOUT} defines no {', '.join(missing)}")
    return "\n\n\n".join(found)


PROBE_HEADER = r"""
from __future__ import annotations
import contextlib, ipaddress, json, os, socket, subprocess, sys, time
import urllib.error, urllib.parse, urllib.request
from pathlib import Path
"""

PROBE_BODY = r"""
opener = health_opener()
out = []
for s in json.loads(sys.argv[1]):
    state = systemctl("show", "-P", "ActiveState", s["unit"]) or "unknown"
    link = os.path.join(s["home"], "current")
    release = os.path.basename(os.path.realpath(link)) if os.path.islink(link) else ""
    probe = socket.socket(socket.AF_INET6 if ":" in s["bind"] else socket.AF_INET)
    probe.settimeout(2)
    listening = probe.connect_ex((s["bind"], s["port"])) == 0
    probe.close()
    code, start = 0, time.monotonic()
    try:
        with opener.open(s["url"], timeout=5) as response:
            code = response.status
    except urllib.error.HTTPError as error:
        code = error.code
    except Exception:
        code = 0
    latency_ms = round((time.monotonic() - start) * 1000, 1)
    # Processes this user cannot see (another user's, without root) are not named.
    cgroup = systemctl("show", "-P", "ControlGroup", s["unit"])
    holders = port_listeners(s["bind"], s["port"])
    foreign = [process_name(pid) for pid in foreign_pids(holders, cgroup)]
    out.append({"service": s["name"], "state": state, "release": release,
                "listening": listening, "health": code, "latency_ms": latency_ms,
                "foreign_listener": ", ".join(foreign)})
print(json.dumps(out))
"""

#: The program each host runs (``python3 -c``): one JSON list, an object per service.
PROBE = "\n".join((PROBE_HEADER, rollout_code(FROM_ROLLOUT), PROBE_BODY))


@dataclass(frozen=True)
class Row:
    host: str
    service: str
    port: int
    state: str
    release: str
    listening: bool
    health: int
    latency_ms: float
    #: why a host was not asked, in full (a refused host key names host and known_hosts file)
    detail: str = ""
    #: processes outside the unit's control group holding the socket on its port, e.g.
    #: ``pid 812 (python3 -m http.server 8000)``; then what answered /health was not the unit
    foreign_listener: str = ""

    @property
    def healthy(self) -> bool:
        return (
            self.state == "active"
            and self.listening
            and self.health == 200
            and not self.foreign_listener
        )


def probe_command(plan: HostPlan) -> str:
    services = [
        {
            "name": s.name,
            "unit": s.unit,
            "home": s.install_dir,
            "bind": plan.bind_address,
            "port": s.port,
            "url": f"http://{url_host(plan.bind_address)}:{s.port}{s.health_path}",
        }
        for s in plan.services
    ]
    return f"python3 -c {shlex.quote(PROBE)} {shlex.quote(json.dumps(services))}"


def parse(plan: HostPlan, stdout: str) -> list[Row]:
    ports = {s.name: s.port for s in plan.services}
    return [
        Row(
            plan.name,
            item["service"],
            ports[item["service"]],
            item["state"],
            item["release"],
            item["listening"],
            item["health"],
            item["latency_ms"],
            foreign_listener=item.get("foreign_listener", ""),
        )
        for item in json.loads(stdout)
    ]


def unreachable(plan: HostPlan, reason: str, detail: str = "") -> list[Row]:
    return [
        Row(plan.name, s.name, s.port, f"unreachable: {reason}", "", False, 0, 0.0, detail)
        for s in plan.services
    ]


def refused(plan: HostPlan, error: HostKeyError) -> list[Row]:
    """Every service of a host whose SSH host key was refused: not asked, not healthy."""
    return [
        Row(plan.name, s.name, s.port, "refused: host key", "", False, 0, 0.0, str(error))
        for s in plan.services
    ]


def collect(inventory: InventoryPlan, run: Callable[[str, str], tuple[int, str, str]]) -> list[Row]:
    """Ask every host at once; ``run(host, command)`` returns (rc, stdout, stderr).

    A host ``run`` cannot reach is a row per service (``unreachable: ...``); one whose host
    key was refused (``HostKeyError``) is ``refused: host key``, the message in ``detail``.
    """

    def one(plan: HostPlan) -> list[Row]:
        try:
            rc, stdout, stderr = run(plan.name, probe_command(plan))
        except HostKeyError as error:
            return refused(plan, error)
        except Exception as error:  # any connection failure is a row, not a crash
            return unreachable(plan, type(error).__name__)
        if rc != 0:
            return unreachable(plan, (stderr.strip().splitlines() or ["probe failed"])[-1])
        return parse(plan, stdout)

    with ThreadPoolExecutor(max_workers=min(16, len(inventory.hosts) or 1)) as pool:
        results = list(pool.map(one, inventory.hosts))
    return [row for rows in results for row in rows]


def as_json(rows: list[Row]) -> str:
    return json.dumps(
        {
            "healthy": all(r.healthy for r in rows),
            "services": [dict(r.__dict__, healthy=r.healthy) for r in rows],
        },
        indent=2,
    )


def _listening(row: Row) -> str:
    """The Listening column: yes, no, or the foreign process holding the port."""
    if row.foreign_listener:
        return f"foreign: {row.foreign_listener}"
    return "yes" if row.listening else "no"


def table_rows(rows: list[Row]) -> list[tuple[Any, ...]]:
    return [
        (
            r.host,
            r.service,
            r.port,
            r.state,
            r.release or "-",
            _listening(r),
            r.health or "-",
            f"{r.latency_ms:.0f} ms" if r.health else "-",
        )
        for r in rows
    ]


HEADER = ("Host", "Service", "Port", "Unit", "Release", "Listening", "Health", "Latency")


def connection_runner(
    hosts: Mapping[str, Mapping[str, Any]],
) -> Callable[[str, str], tuple[int, str, str]]:
    """A ``run`` for ``collect`` that connects with each host's pyinfra data (via testinfra),
    host key checked as pyinfra checks it (``connections``), through sudo where the data
    says ``_sudo``, as the deploy's commands run."""
    import tempfile
    from pathlib import Path

    from fks_infra.connections import remote_host, write_ssh_config

    directory = tempfile.mkdtemp(prefix="fks-status-")
    config = write_ssh_config(Path(directory) / "ssh_config", hosts.items())

    def run(host: str, command: str) -> tuple[int, str, str]:
        result = remote_host(host, hosts[host], config, timeout=10).run(command)
        return result.rc, result.stdout, result.stderr

    return run
