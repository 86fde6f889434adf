"""``fks-infra status``: a live table of host × service, one SSH round trip per host.

Each host runs a small standard-library probe (sent inline, nothing installed) that reports,
for every service planned there: unit state, live release, whether the port listens, and the
``/health`` code and latency. Hosts are asked in parallel.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from fks_infra.addresses import url_host
from fks_infra.connections import HostKeyError
from fks_infra.plan import HostPlan, InventoryPlan

PROBE = r"""
import json, os, socket, subprocess, sys, time, urllib.request, urllib.error
out = []
for s in json.loads(sys.argv[1]):
    state = subprocess.run(["systemctl", "show", "-P", "ActiveState", s["unit"]],
                           capture_output=True, text=True).stdout.strip() or "unknown"
    link = os.path.join(s["home"], "current")
    release = os.path.basename(os.path.realpath(link)) if os.path.islink(link) else ""
    probe = socket.socket(socket.AF_INET6 if ":" in s["bind"] else socket.AF_INET)
    probe.settimeout(2)
    listening = probe.connect_ex((s["bind"], s["port"])) == 0
    probe.close()
    code, start = 0, time.monotonic()
    try:
        with urllib.request.urlopen(s["url"], timeout=5) as response:
            code = response.status
    except urllib.error.HTTPError as error:
        code = error.code
    except Exception:
        code = 0
    out.append({"service": s["name"], "state": state, "release": release,
                "listening": listening, "health": code,
                "latency_ms": round((time.monotonic() - start) * 1000, 1)})
print(json.dumps(out))
"""


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

    @property
    def healthy(self) -> bool:
        return self.state == "active" and self.listening and self.health == 200


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


def table_rows(rows: list[Row]) -> list[tuple[Any, ...]]:
    return [
        (
            r.host,
            r.service,
            r.port,
            r.state,
            r.release or "-",
            "yes" if r.listening else "no",
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
