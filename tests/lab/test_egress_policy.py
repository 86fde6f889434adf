"""Egress from the catalogue, live: a service that talks to the outside reaches it, others do not.

A stand-in outside endpoint listens on the lab bridge's gateway address (the control side of
the lab network, outside the inventory as an exchange is) on ``EGRESS_PROBE_PORT``, for this
module only. The lab inventory gives every service that endpoint as ``FKS_DEMO_EGRESS_URL``
(``fks_service_environment``), so the session's deploy renders it into every unit; each demo
service's ``GET /probe/egress`` tries it from inside its own unit, under the unit's
``IPAddressDeny=``/``IPAddressAllow=``. ``execution`` (catalogue: talks to the outside; the lab
leaves the egress settings unset, so any address) must reach it, ``web`` (talks to no one
outside) must not; the endpoint's own record of who came says the same, independently of the
services' answers. The lab's NAT table filters nothing, and the control machine has no
firewall of its own in the way (nothing to open).
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import ClassVar

import pytest
from deploying import Run

from fks_infra.catalogue import CATALOGUE
from fks_infra.lab.inventory import EGRESS_PROBE_PORT
from fks_infra.lab.testing import Lab

pytestmark = pytest.mark.lab


class _Outside(http.server.BaseHTTPRequestHandler):
    """The stand-in outside endpoint: answers 204 and records each caller's User-Agent
    (``fks_<service>``, set by the probe)."""

    seen: ClassVar[list[str]] = []
    # A caller that stalls cannot hold a handler thread past this (seconds).
    timeout = 5

    def do_GET(self) -> None:
        type(self).seen.append(self.headers.get("User-Agent", ""))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def outside(lab: Lab) -> Iterator[list[str]]:
    """The endpoint on the gateway address, for this module's lifetime; closed at the end."""
    server = http.server.ThreadingHTTPServer(
        (lab.state.network.gateway, EGRESS_PROBE_PORT), _Outside
    )
    server.daemon_threads = True
    _Outside.seen = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield _Outside.seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def probe(lab: Lab, service: str) -> dict[str, object]:
    """The answer of ``service``'s ``GET /probe/egress``, asked on its own host over SSH."""
    host = next(h for h in lab.hosts if CATALOGUE[service].role.value in h.roles)
    url = f"http://{host.address}:{CATALOGUE[service].port}/probe/egress"
    done = lab.ssh(host.name, f"curl -sS --max-time 10 {url}", timeout=30)
    assert done.returncode == 0, done.stderr
    answer: dict[str, object] = json.loads(done.stdout)
    return answer


def test_execution_reaches_the_outside_and_web_does_not(
    deployed: Run, lab: Lab, outside: list[str]
) -> None:
    expected_url = f"http://{lab.state.network.gateway}:{EGRESS_PROBE_PORT}/"
    execution = probe(lab, "execution")
    assert execution == {"url": expected_url, "reached": True, "error": ""}
    assert outside == ["fks_execution"]

    web = probe(lab, "web")
    assert web["url"] == expected_url and web["reached"] is False, web
    assert web["error"], web
    # Nothing of web's arrived: the unit's filter stopped it, not the endpoint.
    assert outside == ["fks_execution"]
