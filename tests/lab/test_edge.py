"""End to end on the lab: the edge as seen from outside and from inside the inventory.

The control machine is not an inventory host: it reaches SSH and HTTPS, never a service
port. Hosts reach exactly the service ports their plan needs. A broken nginx value never
goes live.
"""

from __future__ import annotations

import json
import socket
import ssl

import pytest
from deploying import Run, deploy

from fks_infra.lab.testing import Lab

pytestmark = pytest.mark.lab


def reachable(address: str, port: int) -> bool:
    """One bounded TCP connect from the control machine (to a lab address only)."""
    try:
        with socket.create_connection((address, port), timeout=3):
            return True
    except OSError:
        return False


def test_control_machine_gets_ssh_and_https_but_no_service_port(lab: Lab, deployed: Run) -> None:
    core, gpu = lab.addresses["core-1"], lab.addresses["gpu-1"]
    assert reachable(core, 22)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the lab's certificate is self-signed
    with (
        socket.create_connection((core, 443), timeout=5) as raw,
        context.wrap_socket(raw) as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    assert not reachable(core, 8001), "api's port answers the control machine"
    assert not reachable(gpu, 8007), "ai's port answers the control machine"


def http_code(lab: Lab, host: str, url: str) -> str:
    done = lab.ssh(host, f"curl -sk -m 5 -o /dev/null -w '%{{http_code}}' {url}")
    return done.stdout.strip()


def test_hosts_reach_the_service_ports_their_plan_needs_only(lab: Lab, deployed: Run) -> None:
    gpu = lab.addresses["gpu-1"]
    # nginx on core-1 proxies to ai on gpu-1 ...
    assert http_code(lab, "core-1", f"http://{gpu}:8007/health") == "200"
    assert http_code(lab, "core-1", "https://127.0.0.1/health/ai") == "200"
    # ... while the bridge host has no business there.
    assert http_code(lab, "bridge-1", f"http://{gpu}:8007/health") == "000"


NGINX_FILES = "/etc/nginx/nginx.conf /etc/nginx/fks/*"


def test_a_broken_nginx_value_never_goes_live(lab: Lab, deployed: Run) -> None:
    before = lab.ssh("core-1", f"sha256sum {NGINX_FILES}").stdout
    assert before

    bad = deploy("--data", f"fks_nginx_server_name={json.dumps('*a')}")

    assert bad.returncode != 0
    assert 'server name "*a" is invalid' in bad.stdout + bad.stderr
    assert lab.ssh("core-1", f"sha256sum {NGINX_FILES}").stdout == before
    assert lab.ssh("core-1", "systemctl is-active nginx").stdout.strip() == "active"
    assert http_code(lab, "core-1", "https://127.0.0.1/health/api") == "200"
    assert deploy().changed() == []
