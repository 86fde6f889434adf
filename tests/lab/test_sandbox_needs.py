"""End to end on the lab: each unit's sandbox allows what its service's runtime needs (#16).

Real services write caches (pip, numba, PyTorch, Hugging Face, matplotlib) and files under
``HOME``; ML runtimes pin threads to CPUs (``sched_setaffinity``) and list interfaces over
netlink (``if_nameindex``). The demo stand-ins do each once on ``GET /probe/sandbox``
(``fks_demo/sandbox.py``), inside their real units: every service writes its cache and
``HOME``; ML services (``Sandbox.ML``) pin and list; plain services are still refused both,
which shows the profiles differ. Then ``fks-infra verify`` must list every unit's exposure.

Before #16 the units had ``HOME=/nonexistent``, no cache directory and one filter for all,
and the demo had no probe: every test here failed.
"""

from __future__ import annotations

import json
import re
import shlex

import pytest
from deploying import INVENTORY, REPO, Run, fks_infra

from fks_infra.catalogue import CATALOGUE, Sandbox
from fks_infra.inventory import plan_for_path
from fks_infra.lab.testing import Lab

pytestmark = pytest.mark.lab

#: ML services (``ai`` on a GPU host, ``feature_engineering`` on a core host) and plain ones.
SERVICES = ("ai", "feature_engineering", "web", "api")
PROBE_FILE = "fks-demo-sandbox-probe"
#: A verify summary line: ``core-1/fks-web.service: 1.2 (plain, at most 1.5)``.
SUMMARY_LINE = re.compile(r"^(\S+)/(\S+\.service): (\d+\.\d+) \((plain|ml), at most (\d+\.\d+)\)")


def where(name: str) -> tuple[str, str, int]:
    """(host, bind address, port) of the first lab host running service ``name``."""
    inventory = plan_for_path(INVENTORY, cwd=str(REPO))
    for host in inventory.hosts:
        for service in host.services:
            if service.name == name:
                return host.name, host.bind_address, service.port
    pytest.skip(f"this lab places no {name} (FKS_LAB_HOSTS lacks its role)")


def sh(lab: Lab, host: str, command: str) -> str:
    done = lab.ssh(host, command)
    assert done.returncode == 0, f"{command!r} on {host}: {done.stderr}"
    return done.stdout.strip()


def probe(lab: Lab, host: str, address: str, port: int) -> dict[str, dict[str, object]]:
    url = f"http://{address}:{port}/probe/sandbox"
    fetch = (
        "import sys, urllib.request as u; print(u.urlopen(sys.argv[1], timeout=10).read().decode())"
    )
    answer: dict[str, dict[str, object]] = json.loads(
        sh(lab, host, f"python3 -c {shlex.quote(fetch)} {shlex.quote(url)}")
    )
    return answer


@pytest.mark.parametrize("name", SERVICES)
def test_each_unit_allows_what_its_runtime_needs(deployed: Run, lab: Lab, name: str) -> None:
    service = CATALOGUE[name]
    host, address, port = where(name)
    answer = probe(lab, host, address, port)
    ok = {"ok": True, "error": ""}
    # Every service: a cache and HOME of its own, written where the unit says.
    assert (answer["cache"], answer["home"]) == (ok, ok), answer
    for directory in (f"/var/cache/fks/{name}", f"/var/lib/fks/{name}"):
        owner = sh(lab, host, f"stat -c '%U %a' {directory} {directory}/{PROBE_FILE}")
        assert owner.split() == [service.user, "700", service.user, "600"], directory
    if service.sandbox is Sandbox.ML:
        assert (answer["affinity"], answer["interfaces"]) == (ok, ok), answer
    else:
        # The plain profile still refuses both: the filter's EPERM, the family's refusal.
        assert answer["affinity"] == {"ok": False, "error": "[Errno 1] Operation not permitted"}
        assert answer["interfaces"]["ok"] is False, answer
        assert str(answer["interfaces"]["error"]).startswith("[Errno "), answer


def test_verify_lists_the_exposure_of_every_unit(deployed: Run) -> None:
    # test_hardening of each service, test_companion_hardened_like_its_service of each companion
    done = fks_infra("verify", INVENTORY, "--", "-k", "hardening or hardened")
    assert done.returncode == 0, done.stdout[-4000:]
    _, _, summary = done.stdout.partition("systemd-analyze security exposure")
    listed = {
        (m[1], m[2]): (float(m[3]), m[4], float(m[5]))
        for line in summary.splitlines()
        if (m := SUMMARY_LINE.match(line))
    }
    inventory = plan_for_path(INVENTORY, cwd=str(REPO))
    units = {(h.name, unit): s for h in inventory.hosts for s in h.services for unit in s.units}
    assert set(listed) == set(units), done.stdout[-4000:]
    for key, (level, sandbox, limit) in sorted(listed.items()):
        print(f"{key[0]}/{key[1]}: {level} ({sandbox}, at most {limit})")
        assert sandbox == units[key].sandbox
        assert level <= limit == {"plain": 1.5, "ml": 1.6}[sandbox]
