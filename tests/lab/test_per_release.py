"""Each host runs what its own release needs: the right Python, the right PostgreSQL, no apt
source of another release. The default lab holds Debian 12 and 13, so this runs on both."""

from __future__ import annotations

import json

import pytest
from deploying import INVENTORY, REPO, Run, release_of

from fks_infra.addresses import url_host
from fks_infra.catalogue import Language
from fks_infra.datastores.config import PostgresCluster
from fks_infra.gpu import driver as gpu
from fks_infra.inventory import plan_for_path
from fks_infra.lab.testing import Lab

pytestmark = pytest.mark.lab


def test_compiled_dependencies_load_on_each_host_s_own_python(lab: Lab, deployed: Run) -> None:
    seen = set()
    for plan in plan_for_path(INVENTORY, cwd=str(REPO)).hosts:
        python = [s for s in plan.services if s.language is Language.PYTHON]
        if not python:
            continue
        distro = release_of(lab, plan.name)
        service = python[0]
        url = f"http://{url_host(plan.bind_address)}:{service.port}/compiled"
        done = lab.ssh(plan.name, f"curl -s -m 10 {url}")
        assert done.returncode == 0, (plan.name, done.stderr)
        report = json.loads(done.stdout)
        tag = distro.python.replace(".", "")
        assert report["python"] == distro.python, (plan.name, report)
        assert report["file"].startswith(f"_speedups.cpython-{tag}-"), (plan.name, report)
        assert report["escaped"] == "&lt;fks &amp; &#34;demo&#34;&gt;"
        seen.add(distro.codename)
    assert seen, "no host runs a Python service"


def test_no_host_has_an_apt_source_of_another_release(lab: Lab, deployed: Run) -> None:
    others = {"bookworm", "trixie", "jammy", "noble"}
    for host in lab.hosts:
        mine = release_of(lab, host.name).codename
        sources = lab.ssh(host.name, "cat /etc/apt/sources.list.d/* 2>/dev/null; true").stdout
        for other in others - {mine}:
            assert other not in sources, (host.name, other)


def test_the_datastore_runs_its_own_release_s_postgresql(lab: Lab, deployed: Run) -> None:
    store = plan_for_path(INVENTORY, cwd=str(REPO)).datastore.name
    cluster = PostgresCluster(release_of(lab, store).postgres)
    version = "runuser -u postgres -- psql -XAtc 'SHOW server_version'"
    done = lab.ssh(store, f"systemctl is-active {cluster.unit}; {version}")
    active, found = done.stdout.split()[:2]
    assert active == "active" and found.split(".")[0] == cluster.version, done.stdout


def test_each_gpu_node_gets_its_own_release_s_driver(lab: Lab, deployed: Run) -> None:
    inventory = plan_for_path(INVENTORY, cwd=str(REPO))
    seen = set()
    for plan in inventory.hosts:
        if not any(service.needs_gpu for service in plan.services):
            continue
        distro = release_of(lab, plan.name)
        chosen = gpu.driver_source(plan.settings, distro)
        packages = gpu.driver_packages(plan.settings, distro).install
        installed = lab.ssh(
            plan.name, f"dpkg-query -W -f '${{Version}}\\n' {' '.join(packages)}"
        ).stdout.split()
        assert len(installed) == len(packages), (plan.name, installed)
        assert all(v.startswith(f"{chosen.branch}.") for v in installed), (plan.name, installed)
        sources = lab.ssh(plan.name, f"cat {gpu.SOURCES}").stdout
        assert f"Suites: {distro.codename} {distro.codename}-updates" in sources, sources
        seen.add((distro.codename, chosen.branch))
    assert seen, "no GPU node in the lab"
