"""Every host carries the hardening of ``fks_infra.hardening`` (the Lynis items): checked on
the host itself, against what the deploy renders from the same plan.

Where a host is a container (``systemd-detect-virt --container``), what a container cannot
carry (kernel-wide parameters, auditd) skips with that reason; its network namespace's
parameters are still checked.
"""

from __future__ import annotations

import hashlib
import re

import pytest

from fks_infra.checks import fleet
from fks_infra.checks.fleet import HostTarget, Target, connect, release
from fks_infra.datastores.config import REDIS_DISABLED_COMMANDS
from fks_infra.hardening import config as hardening
from fks_infra.hardening.facts import KernelParameters
from fks_infra.package_data import host_file


def run(host_name: str, command: str) -> str:
    result = connect(host_name).run(command)
    assert result.rc == 0, f"{command}: {result.stderr}"
    return str(result.stdout)


def container(host_name: str) -> str | None:
    found = connect(host_name).run("systemd-detect-virt --container").stdout.strip()
    return None if found in ("", "none") else found


def sha256(host_name: str, path: str) -> str | None:
    result = connect(host_name).run("sha256sum %s", path)
    return result.stdout.split()[0] if result.rc == 0 else None


def test_files_as_rendered(sshd: HostTarget) -> None:
    """Every file of the hardening stage holds what the deploy renders for this host."""
    plan, name = sshd.host, sshd.host.name
    distro = release(connect(name))
    wanted = {
        hardening.SYSCTL_FILE: hardening.render_sysctl(plan.settings).encode(),
        hardening.MODPROBE_FILE: hardening.render_modprobe(plan.settings).encode(),
        **{path: hardening.render_issue(plan.settings).encode() for path in hardening.ISSUE_FILES},
        **{
            path: host_file(path).read_bytes()
            for path in (
                hardening.COREDUMP_DROP_IN,
                hardening.LIMITS_FILE,
                hardening.PROFILE_FILE,
                hardening.NEEDRESTART_CONF,
                hardening.DEBSUMS_DEFAULTS,
            )
        },
    }
    if plan.settings.fks_unattended_upgrades:
        wanted[hardening.UNATTENDED_UPGRADES] = hardening.render_unattended_upgrades(
            distro
        ).encode()
        wanted[hardening.AUTO_UPGRADES] = host_file(hardening.AUTO_UPGRADES).read_bytes()
    differing = [
        path
        for path, content in wanted.items()
        if sha256(name, path) != hashlib.sha256(content).hexdigest()
    ]
    assert differing == [], f"not as fks-infra renders them: {differing}"


def test_kernel_parameters_live(sshd: HostTarget) -> None:
    """Every parameter the host may set has its value; in a container (the machine's
    kernel) and for read-only ones the check skips, naming them."""
    name = sshd.host.name
    values = hardening.kernel_parameters(sshd.host.settings)
    fact = KernelParameters()
    live = fact.process(run(name, fact.command(tuple(values))).splitlines())
    where = container(name)
    if where:  # fks-infra leaves a container's kernel parameters to its machine
        differing_here = sorted(k for k, (v, _) in live.items() if v != values[k])
        pytest.skip(f"in a container ({where}): its machine's kernel; differing: {differing_here}")
    differing = {k: v for k, (v, writable) in live.items() if writable and v != values[k]}
    assert differing == {}, f"kernel parameters not as wanted: {differing}"
    read_only = sorted(k for k, (v, writable) in live.items() if not writable and v != values[k])
    if read_only:
        pytest.skip(f"read-only here: {read_only}")


def test_unattended_upgrades_take_only_security_updates_and_never_reboot(sshd: HostTarget) -> None:
    """apt's own view of the merged configuration, as unattended-upgrades reads it."""
    name = sshd.host.name
    if not sshd.host.settings.fks_unattended_upgrades:
        pytest.skip("fks_unattended_upgrades is off")
    dump = run(name, "apt-config dump Unattended-Upgrade")

    def listed(key: str) -> list[str]:
        return re.findall(rf'^Unattended-Upgrade::{key}:: "(.*)";$', dump, re.M)

    distro = release(connect(name))
    assert listed("Origins-Pattern") == list(hardening.security_origins(distro).patterns)
    assert listed("Allowed-Origins") == []
    assert set(hardening.UPGRADE_BLACKLIST) <= set(listed("Package-Blacklist"))
    assert 'Unattended-Upgrade::Automatic-Reboot "false";' in dump.splitlines()
    periodic = run(name, "apt-config dump APT::Periodic")
    assert 'APT::Periodic::Unattended-Upgrade "1";' in periodic.splitlines()
    timer = connect(name).service("apt-daily-upgrade.timer")
    assert timer.is_enabled, "apt-daily-upgrade.timer is not enabled"


def test_no_core_dumps_in_login_sessions(sshd: HostTarget) -> None:
    assert run(sshd.host.name, "ulimit -Hc").strip() == "0"


def test_hardening_packages_installed(sshd: HostTarget) -> None:
    host = connect(sshd.host.name)
    missing = [p for p in hardening.PACKAGES if not host.package(p).is_installed]
    assert missing == []


def test_auditd_records_identity_changes(sshd: HostTarget) -> None:
    name = sshd.host.name
    where = container(name)
    if where:
        pytest.skip(f"in a container ({where}): the kernel's audit subsystem is not namespaced")
    assert connect(name).service("auditd.service").is_running, "auditd is not running"
    assert "-w /etc/shadow -p wa -k identity" in run(name, "auditctl -l").splitlines()


#: AUTH, then a disabled command; prints Redis' answer to it.
REDIS_DISABLED_PROBE = r"""
import os, socket, sys
def ask(s, *args):
    s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
    return s.recv(4096).decode(errors="replace").strip()
where = (os.environ["REDIS_HOST"], int(os.environ["REDIS_PORT"]))
with socket.create_connection(where, 5) as s:
    assert ask(s, b"AUTH", os.environ["REDIS_PASSWORD"].encode()) == "+OK"
    for command in sys.argv[1:]:
        print(ask(s, command.encode(), b"GET", b"dir"))
"""


def test_redis_refuses_its_disabled_commands(redis_clients: Target) -> None:
    result = connect(redis_clients.host.name).run(
        "set -a && . %s && set +a && python3 -c %s " + " ".join(REDIS_DISABLED_COMMANDS),
        redis_clients.service.env_file,
        REDIS_DISABLED_PROBE,
    )
    assert result.rc == 0, result.stderr
    answers = result.stdout.splitlines()
    assert len(answers) == len(REDIS_DISABLED_COMMANDS)
    for command, answer in zip(REDIS_DISABLED_COMMANDS, answers, strict=True):
        assert answer.startswith("-ERR unknown command"), f"{command}: {answer[:40]}"


def test_fail2ban_watches_sshd_and_never_bans_the_inventory(sshd: HostTarget) -> None:
    """fail2ban's own view: the sshd jail is up, and the inventory's hosts are ignored."""
    name = sshd.host.name
    assert "Currently banned" in run(name, "fail2ban-client status sshd")
    ignored = run(name, "fail2ban-client get sshd ignoreip")
    assert fleet.current is not None
    missing = [h.address for h in fleet.current.plan.hosts if h.address not in ignored]
    assert missing == [], f"fail2ban may ban inventory hosts {missing}"
