"""An independent judge: Lynis audits a deployed lab host of each role.

Lynis (Debian's package) is installed by this test, not by the deploy: production hosts do
not need it. Its hardening index is recorded (``record_property`` and the test's output) and
must reach the floor: 80, counting back the points a container cannot carry, each named
(``CONTAINER_ONLY``): a lab host shares the control machine's kernel, so kernel-wide
parameters, the audit subsystem and the kernel's security module are the machine's, which a
test must not change. ``bench/lynis.md`` has the figures before and after.
"""

from __future__ import annotations

import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from deploying import Run

from fks_infra.catalogue import Role
from fks_infra.hardening.config import KERNEL_PARAMETERS
from fks_infra.lab.testing import Lab

pytestmark = pytest.mark.lab

FLOOR = 80

#: Lynis tests whose points a lab container cannot earn, and why. KRNL-6000 counts only the
#: keys fks-infra's /etc/sysctl.d file sets: a lab host's /proc/sys is read-only (its
#: kernel is the lab machine's), so they stay as the machine has them.
CONTAINER_ONLY = {
    "KRNL-6000": "kernel parameters: /proc/sys is read-only in the lab (set on real hosts)",
    "ACCT-9628": "auditd: the kernel's audit subsystem is not namespaced (installed on real hosts)",
    "MACF-6290": "AppArmor is the lab machine's kernel's security module",
}

INSTALL = (
    "command -v lynis >/dev/null || { export DEBIAN_FRONTEND=noninteractive; "
    "apt-get install -y -q lynis >/dev/null 2>&1 || "
    "{ apt-get update -q >/dev/null && apt-get install -y -q lynis >/dev/null; }; }"
)
AUDIT = "lynis audit system --quick --no-colors >/dev/null 2>&1; cat /var/log/lynis-report.dat"


@dataclass(frozen=True)
class Audit:
    index: int
    points: int
    total: int
    #: points lost per test id
    lost: Counter[str]
    #: kernel parameters Lynis found differing that fks-infra's file sets
    read_only_parameters: tuple[str, ...]
    suggestions: tuple[str, ...]


def parse(report: str, log: str) -> Audit:
    """The report's index and suggestions; from the log, the points each test lost."""
    index = int(re.search(r"^hardening_index=(\d+)$", report, re.M).group(1))  # type: ignore[union-attr]
    test, lost, points, total = "", Counter[str](), 0, 0
    for line in log.splitlines():
        if found := re.search(r"Performing test ID (\S+)", line):
            test = found.group(1)
        if found := re.search(r"partial number of hardening points \((\d+) of (\d+)\)", line):
            got, most = int(found.group(1)), int(found.group(2))
            lost[test] += most - got
            points, total = points + got, total + most
        elif found := re.search(r"maximum number of hardening points .*?\((\d+)\)", line):
            points, total = points + int(found.group(1)), total + int(found.group(1))
    read_only_parameters = tuple(
        key
        for key in re.findall(r"sysctl key (\S+) has a different value", log)
        if key in KERNEL_PARAMETERS
    )
    suggestions = tuple(re.findall(r"^suggestion\[\]=([^|]+\|[^|]+)", report, re.M))
    return Audit(index, points, total, lost, read_only_parameters, suggestions)


def container_shortfall(audit: Audit) -> dict[str, int]:
    """Points lost to what a container cannot carry, per named item."""
    named = {f"KRNL-6000 {key}": 1 for key in audit.read_only_parameters}
    named |= {test: audit.lost[test] for test in CONTAINER_ONLY if test != "KRNL-6000"}
    return {item: points for item, points in named.items() if points}


def one_host_per_role(lab: Lab) -> dict[str, str]:
    hosts: dict[str, str] = {}
    for host in lab.hosts:
        for role in host.roles:
            hosts.setdefault(role, host.name)
    return hosts


def audit_host(lab: Lab, host: str) -> Audit:
    """Install Lynis on ``host``, audit it, and parse its report and log."""
    installed = lab.ssh(host, INSTALL, timeout=300)
    assert installed.returncode == 0, installed.stderr
    report = lab.ssh(host, AUDIT, timeout=600).stdout
    log = lab.ssh(host, "cat /var/log/lynis.log").stdout
    return parse(report, log)


@pytest.fixture(scope="module")
def audits(lab: Lab, deployed: Run) -> dict[str, Audit]:
    """One audit per role's host, all hosts at once (each host is its own machine: run one
    after the other they took 36-42 s each in make test)."""
    hosts = sorted(set(one_host_per_role(lab).values()))
    with ThreadPoolExecutor(max_workers=len(hosts) or 1) as pool:
        return dict(zip(hosts, pool.map(lambda host: audit_host(lab, host), hosts), strict=True))


@pytest.mark.parametrize("role", [Role.CORE.value, Role.GPU.value, Role.BRIDGE.value])
def test_lynis_hardening_index_after_a_deploy(
    lab: Lab, audits: dict[str, Audit], role: str, record_property: pytest.RecordProperty
) -> None:
    host = one_host_per_role(lab).get(role)
    if host is None:
        pytest.skip(f"no lab host in the {role} role")
    audit = audits[host]
    shortfall = container_shortfall(audit)
    carried = 100 * (audit.points + sum(shortfall.values())) // audit.total
    record_property("lynis_hardening_index", audit.index)
    print(  # the measurement, for bench/lynis.md
        f"{host} ({role}): Lynis hardening index {audit.index} ({audit.points}/{audit.total}); "
        f"{carried} counting back what a container cannot carry: {shortfall}"
    )
    assert carried >= FLOOR, (
        f"{host}: index {audit.index}, {carried} with the container-only items "
        f"{sorted(shortfall)}; lost elsewhere: "
        f"{[(t, n) for t, n in audit.lost.most_common() if n and t not in CONTAINER_ONLY]}"
    )
