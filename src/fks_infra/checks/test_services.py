"""Every planned FKS service runs as planned; every other one is really absent.

One test per concern, parametrised over the plan, so one failure does not hide the rest.
"""

from __future__ import annotations

import re

from fks_infra.checks.fleet import Target, connect

HARDENING_TARGET = 1.5


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


def test_not_root(placed: Target) -> None:
    pid = main_pid(placed)
    assert pid > 0, f"{placed.service.unit} has no main process"
    user = run(placed, f"ps -o user= -p {pid}").strip()
    assert user == placed.host.settings.fks_service_user


def test_listens_where_planned_only(placed: Target) -> None:
    pid = main_pid(placed)
    sockets = run(placed, "ss -Hltnp")
    mine = sorted(
        match.group(1)
        for line in sockets.splitlines()
        if f"pid={pid}," in line and (match := re.search(r"LISTEN\s+\d+\s+\d+\s+(\S+)", line))
    )
    assert mine == [f"{placed.host.bind_address}:{placed.service.port}"]


def test_health(placed: Target) -> None:
    url = f"http://{placed.host.bind_address}:{placed.service.port}{placed.service.health_path}"
    code = run(
        placed,
        "python3 -c 'import sys, urllib.request as u; "
        f'print(u.urlopen(sys.argv[1], timeout=5).status)\' "{url}"',
    ).strip()
    assert code == "200", f"{url} answered {code}"


def test_env_file_private(placed: Target) -> None:
    env = connect(placed.host.name).file(placed.service.env_file)
    assert env.exists, f"{placed.service.env_file} is missing"
    assert (env.user, env.group, env.mode) == ("root", "root", 0o600)


def test_hardening(placed: Target) -> None:
    output = run(placed, f"systemd-analyze security --no-pager {placed.service.unit}")
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", output)
    assert match, output[-500:]
    assert float(match.group(1)) <= HARDENING_TARGET, output[-2000:]


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
