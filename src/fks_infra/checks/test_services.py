"""Every planned FKS service runs as planned; every other one is really absent.

One test per concern, parametrised over the plan, so one failure does not hide the rest.
"""

from __future__ import annotations

import re
import shlex

import pytest

from fks_infra.catalogue import CATALOGUE
from fks_infra.checks import exposure
from fks_infra.checks.fleet import Target, connect

#: Where systemd keeps the services' StateDirectory=fks/<name> (the unit template).
STATE_ROOT = "/var/lib/fks"


def run(target: Target, command: str) -> str:
    result = connect(target.host.name).run(command)
    assert result.rc == 0, f"{command!r} failed on {target.host.name}: {result.stderr}"
    return str(result.stdout)


def main_pid(target: Target) -> int:
    return int(run(target, f"systemctl show -P MainPID {target.service.unit}"))


def test_active(placed: Target) -> None:
    host = connect(placed.host.name)
    service = host.service(placed.service.unit)
    assert service.is_enabled, f"{placed.service.unit} is not enabled"
    assert service.is_running, f"{placed.service.unit} is not running"


def unit_uids(target: Target) -> dict[str, set[int]]:
    """{unit: user ids of its processes} for every running ``fks-*.service`` of the host.

    Read from ``/proc`` (``ps -o user`` prints a number for names over 8 characters).
    """
    found: dict[str, set[int]] = {}
    for line in run(target, f"python3 -c {shlex.quote(UNIT_UIDS)}").splitlines():
        unit, uid = line.split()
        found.setdefault(unit, set()).add(int(uid))
    return found


#: Prints "<unit> <uid>" for each process in an fks-*.service cgroup.
UNIT_UIDS = r"""
import os, re
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        cgroup = open(f"/proc/{pid}/cgroup").read()
        status = open(f"/proc/{pid}/status").read()
    except OSError:
        continue
    unit = re.search(r"/(fks-[^/\s]+\.service)$", cgroup, re.M)
    if unit:
        print(unit.group(1), re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))
"""


def test_runs_as_its_own_user(placed: Target) -> None:
    """The service and its companions run as ``fks-<name>``, a user no other service shares,
    alone in its own group; signals and state directories are kept apart by that uid."""
    user = placed.service.user
    uid = int(run(placed, f"id -u {user}"))
    assert uid != 0, f"{user} is root"
    groups = run(placed, f"id -Gn {user}").split()
    assert groups == [user], f"{user} is in {groups}: a shared group opens its files to others"
    assert main_pid(placed) > 0, f"{placed.service.unit} has no main process"
    units = unit_uids(placed)
    mine = {u for unit in placed.service.units for u in units.get(unit, set())}
    assert mine == {uid}, f"{placed.service.name}'s processes run as {mine}, not {user} ({uid})"
    owner = {unit: service.name for service in CATALOGUE for unit in service.units}
    sharing = sorted(
        owner[unit] for unit, uids in units.items()
        if uid in uids and owner.get(unit, placed.service.name) != placed.service.name
    )  # fmt: skip
    assert sharing == [], f"{user} ({uid}) also runs {sharing}"


def test_state_directory_is_its_own(placed: Target) -> None:
    """``/var/lib/fks/<name>`` is 0700 and wholly owned by the service's user (the migration
    from the former shared user left nothing behind); its release is root's."""
    user, state = placed.service.user, f"{STATE_ROOT}/{placed.service.name}"
    assert run(placed, f"stat -c '%U %a' {state}").split() == [user, "700"]
    foreign = run(placed, f"find {state} ! -user {user} -print -quit").strip()
    assert foreign == "", f"{foreign} in {state} is not {user}'s"
    writable = run(
        placed,
        f"find {placed.service.install_dir}/ ! -type l \\( -user {user} -o -perm -0002 \\) "
        "-print -quit",
    ).strip()
    assert writable == "", f"{writable} is writable by {user}"


def test_listens_where_planned_only(placed: Target) -> None:
    pid = main_pid(placed)
    sockets = run(placed, "ss -Hltnp")
    mine = sorted(
        match.group(1)
        for line in sockets.splitlines()
        if f"pid={pid}," in line and (match := re.search(r"LISTEN\s+\d+\s+\d+\s+(\S+)", line))
    )
    assert mine == [f"{placed.host.bind_address}:{placed.service.port}"]


#: Prints the HTTP status of argv[1], asked straight: no proxy from the host's environment
#: (``http_proxy``), no redirect followed (a 3xx is the answer).
HEALTH_CODE = r"""
import sys, urllib.error, urllib.request as u
class Stay(u.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
try:
    print(u.build_opener(u.ProxyHandler({}), Stay()).open(sys.argv[1], timeout=5).status)
except urllib.error.HTTPError as error:
    print(error.code)
"""


def test_health(placed: Target) -> None:
    url = f"http://{placed.host.bind_address}:{placed.service.port}{placed.service.health_path}"
    code = run(placed, f"python3 -c {shlex.quote(HEALTH_CODE)} {shlex.quote(url)}").strip()
    assert code == "200", f"{url} answered {code}"


def test_env_file_private(placed: Target) -> None:
    env = connect(placed.host.name).file(placed.service.env_file)
    assert env.exists, f"{placed.service.env_file} is missing"
    assert (env.user, env.group, env.mode) == ("root", "root", 0o600)


def test_hardening(placed: Target, request: pytest.FixtureRequest) -> None:
    """``systemd-analyze security`` rates the unit within its sandbox profile's limit (plain
    1.5, ml more: ``services.units.MAX_EXPOSURE``); verify lists every level at the end."""
    service = placed.service
    found = exposure.measure(request, placed.host.name, service.unit, service.sandbox)
    assert found.level <= found.limit, f"{found.line()}: too exposed\n{found.output}"


def test_unit_verifies_silently(placed: Target) -> None:
    result = connect(placed.host.name).run(
        f"systemd-analyze verify /etc/systemd/system/{placed.service.unit}"
    )
    assert (result.rc, result.stdout + result.stderr) == (0, "")


def test_really_absent(absent: Target) -> None:
    host = connect(absent.host.name)
    service = absent.service
    leftovers = [
        path
        for path in (f"/etc/systemd/system/{service.unit}", service.env_file, service.install_dir)
        if host.file(path).exists
    ]
    assert leftovers == [], f"{service.name} is not placed on {absent.host.name}"
    assert not host.socket(f"tcp://0.0.0.0:{service.port}").is_listening
    assert not host.socket(f"tcp://{absent.host.bind_address}:{service.port}").is_listening
