"""Host hardening (fks_infra.hardening) and the Lynis items of sshd and Redis, judged by the
programs that read each file: apt's own config parser, redis-server, and the operations
planned against recorded facts (a converged host gets no command).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from checkers import redis_server, run, tool
from pydantic import SecretStr, ValidationError
from pyinfra.api import StringCommand
from pyinfra.context import ctx_host

from fks_infra.datastores.config import REDIS_DISABLED_COMMANDS, PostgresCluster, render_redis
from fks_infra.distro import SUPPORTED, Distro
from fks_infra.hardening import config as hardening
from fks_infra.hardening.facts import Container, KernelParameters
from fks_infra.hardening.operations import kernel_parameters
from fks_infra.operations import factcache
from fks_infra.plan import HostSpec, plan_inventory
from fks_infra.settings import HostSettings
from fks_infra.templating import render

# --- kernel parameters -------------------------------------------------------------------


class RecordedHost:
    name = "core-1"
    connector = None
    data: dict[str, str] = {}  # noqa: RUF012

    def __init__(self, facts: dict[Any, Any]) -> None:
        self.facts = facts

    def get_fact(self, fact: type, **kwargs: Any) -> Any:
        return self.facts[fact]


@contextmanager
def recorded(facts: dict[Any, Any]) -> Iterator[None]:
    factcache.forget_all()
    with ctx_host.use(RecordedHost(facts)):
        yield
    factcache.forget_all()


def sysctl_commands(container: str | None, live: dict[str, tuple[str, bool]]) -> list[str]:
    with recorded({Container: container, KernelParameters: live}):
        out = []
        for command in kernel_parameters._inner(values=hardening.KERNEL_PARAMETERS):
            assert isinstance(command, StringCommand)
            out.append(command.get_raw_value())
        return out


DIFFERING = {
    "kernel.kptr_restrict": "0",
    "fs.protected_regular": "0",
    "net.ipv4.conf.all.forwarding": "1",
    "net.ipv4.conf.all.rp_filter": "0",
}


def live(read_only: tuple[str, ...] = ()) -> dict[str, tuple[str, bool]]:
    """Every parameter as wanted but DIFFERING's; those in ``read_only`` may not be set."""
    values = {**hardening.KERNEL_PARAMETERS, **DIFFERING}
    return {k: (v, not k.startswith(read_only)) for k, v in values.items()}


def test_a_host_with_its_own_kernel_gets_every_differing_parameter() -> None:
    assert sysctl_commands(None, live()) == [
        "sysctl -q -w fs.protected_regular=2 kernel.kptr_restrict=2 "
        "net.ipv4.conf.all.forwarding=0 net.ipv4.conf.all.rp_filter=1"
    ]


def test_read_only_parameters_are_left_as_they_are() -> None:
    """A host with its own kernel but read-only parameters gets the others only."""
    assert sysctl_commands(None, live(read_only=("kernel.", "fs."))) == [
        "sysctl -q -w net.ipv4.conf.all.forwarding=0 net.ipv4.conf.all.rp_filter=1"
    ]


def test_a_container_gets_no_command_whatever_it_may_write() -> None:
    """Its kernel is its machine's: under LXC (its network namespace's parameters writable)
    a second Vagrant deploy set them again every time; nspawn (all read-only) likewise none."""
    assert sysctl_commands("lxc", live(read_only=("kernel.", "fs."))) == []
    assert sysctl_commands("systemd-nspawn", live(read_only=("",))) == []


def test_converged_parameters_and_unknown_keys_give_no_command() -> None:
    converged = {k: (v, True) for k, v in hardening.KERNEL_PARAMETERS.items()}
    assert sysctl_commands(None, converged) == []
    older_kernel = live()
    del older_kernel["kernel.kptr_restrict"], older_kernel["fs.protected_regular"]
    assert sysctl_commands(None, older_kernel) == [
        "sysctl -q -w net.ipv4.conf.all.forwarding=0 net.ipv4.conf.all.rp_filter=1"
    ]


def test_facts_parse_what_the_host_prints() -> None:
    assert Container().process(["none"]) is None
    assert Container().process([]) is None
    assert Container().process(["systemd-nspawn"]) == "systemd-nspawn"
    assert KernelParameters().process(
        ["ro kernel.kptr_restrict=2", "rw net.ipv4.tcp_rmem=4096\t131072  6291456", "junk"]
    ) == {"kernel.kptr_restrict": ("2", False), "net.ipv4.tcp_rmem": ("4096 131072 6291456", True)}


def test_kernel_parameters_command_reads_only_the_keys_asked() -> None:
    command = KernelParameters().command(("kernel.sysrq", "net.ipv4.conf.all.forwarding"))
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True)
    values = KernelParameters().process(done.stdout.splitlines())
    assert set(values) <= {"kernel.sysrq", "net.ipv4.conf.all.forwarding"}
    assert values, "this machine's sysctl answered nothing"


def test_sysctl_file_holds_every_parameter_but_the_skipped() -> None:
    settings = HostSettings(fks_sysctl_skip=("net.ipv4.conf.all.forwarding",))
    lines = hardening.render_sysctl(settings).splitlines()
    pairs = dict(line.split(" = ") for line in lines if not line.startswith("#"))
    assert pairs == {
        k: v for k, v in hardening.KERNEL_PARAMETERS.items() if k != "net.ipv4.conf.all.forwarding"
    }
    assert "kernel.modules_disabled" not in pairs  # would stop DKMS and nftables modules


def test_unknown_items_to_skip_are_refused_naming_them() -> None:
    with pytest.raises(ValidationError, match=r"net\.ipv4\.ip_forwrd"):
        HostSettings(fks_sysctl_skip=("net.ipv4.ip_forwrd",))
    with pytest.raises(ValidationError, match="usb_storage"):
        HostSettings(fks_modules_allowed=("usb_storage",))


# --- modules, banner ---------------------------------------------------------------------


def test_modprobe_refuses_each_blocked_module_even_when_asked_by_name() -> None:
    text = hardening.render_modprobe(HostSettings(fks_modules_allowed=("usb-storage",)))
    for module in ("dccp", "sctp", "rds", "tipc", "firewire-core"):
        assert f"blacklist {module}" in text.splitlines()
        assert f"install {module} /bin/false" in text.splitlines()
    assert "usb-storage" not in text


@pytest.mark.parametrize("banner", ["two\nlines", "getty \\n escape", "nul\x00"])
def test_banner_refuses_what_getty_would_expand(banner: str) -> None:
    with pytest.raises(ValidationError, match="fks_login_banner"):
        HostSettings(fks_login_banner=banner)


def test_default_banner_carries_lynis_legal_words() -> None:
    """BANN-7126 wants at least 5 of its legal key words in /etc/issue."""
    words = ("access", "authori", "law", "log", "monitor", "private", "prohibited", "system")
    text = hardening.render_issue(HostSettings()).lower()
    assert sum(word in text for word in words) >= 5


# --- unattended-upgrades -----------------------------------------------------------------

#: What Debian's unattended-upgrades package ships (50unattended-upgrades), in short: the
#: release's point updates too, which fks-infra's file must clear.
PACKAGE_DEFAULTS = """\
Unattended-Upgrade::Origins-Pattern {
        "origin=Debian,codename=${distro_codename},label=Debian";
        "origin=Debian,codename=${distro_codename}-security,label=Debian-Security";
};
Unattended-Upgrade::Package-Blacklist { "libc6$"; };
Unattended-Upgrade::Automatic-Reboot "true";
"""


def apt_config(tmp_path: Path, distro: Distro) -> str:
    """``apt-config dump`` of the package's file and fks-infra's, read in apt's name order."""
    parts = tmp_path / "apt.conf.d"
    parts.mkdir()
    (parts / "50unattended-upgrades").write_text(PACKAGE_DEFAULTS)
    (parts / "52fks-infra-unattended-upgrades").write_text(
        hardening.render_unattended_upgrades(distro)
    )
    # apt reads the file APT_CONFIG names, then the parts directory it sets: nothing else.
    main = tmp_path / "apt.conf"
    main.write_text(f'Dir::Etc::Parts "{parts}";\nDir::Etc::main "{tmp_path / "none"}";\n')
    result = run(
        [tool("apt-config"), "dump"], env={"APT_CONFIG": str(main), "PATH": "/usr/bin:/bin"}
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def listed(dump: str, key: str) -> list[str]:
    return re.findall(rf'^{re.escape(key)}:: "(.*)";$', dump, re.M)


@pytest.mark.parametrize("distro", SUPPORTED, ids=lambda d: d.codename)
def test_unattended_upgrades_take_only_the_security_suite(tmp_path: Path, distro: Distro) -> None:
    dump = apt_config(tmp_path, distro)
    origins = listed(dump, "Unattended-Upgrade::Origins-Pattern")
    assert origins == list(hardening.security_origins(distro).patterns)
    assert all(f"{distro.codename}-" in o and "security" in o for o in origins)
    assert 'Unattended-Upgrade::Automatic-Reboot "false";' in dump.splitlines()
    assert listed(dump, "Unattended-Upgrade::Package-Blacklist") == list(
        hardening.UPGRADE_BLACKLIST
    )


@pytest.mark.parametrize("distro", SUPPORTED, ids=lambda d: d.codename)
def test_the_nvidia_and_postgresql_packages_are_never_upgraded_unattended(distro: Distro) -> None:
    """unattended-upgrades matches each blacklist entry as a Python regex from the start of
    the package name: every package of the driver, the pinned CUDA toolkit and the
    release's PostgreSQL must match one; other packages (openssh-server) must not."""
    nvidia_pin = render(
        "etc/apt/preferences.d/fks-nvidia.j2",
        {"branch": "535", "toolkit": (), "cuda_version": "12.2"},
    )
    pinned = next(line for line in nvidia_pin.splitlines() if line.startswith("Package:"))
    packages = [
        *distro.nvidia_userland(distro.nvidia_branch),
        *distro.nvidia_module(distro.nvidia_branch),
        *(name.replace("*", "x") for name in pinned.split()[1:]),
        *PostgresCluster(distro.postgres).packages(("vector", "timescaledb")),
    ]
    for package in packages:
        assert any(re.match(p, package) for p in hardening.UPGRADE_BLACKLIST), package
    for package in ("openssh-server", "libc6", "redis-server", "nginx", "sudo"):
        assert not any(re.match(p, package) for p in hardening.UPGRADE_BLACKLIST), package


# --- Redis -------------------------------------------------------------------------------


def secrets(name: str, settings: HostSettings) -> tuple[SecretStr | None, list[Any]]:
    return SecretStr("redis-password" if name == "REDIS_PASSWORD" else f"value-{name}"), []


def datastore_plan() -> Any:
    data = {"ssh_hostname": "10.0.0.10", "fks_services_extra": ("meta", "ninja", "ai", "training")}
    data |= {
        "fks_ninjatrader_host": "192.0.2.200",
        "fks_ninjatrader_port": 36973,
        "fks_mt5_bridge_url": "http://192.0.2.200:18080/",
    }
    spec = HostSpec("core-1", ("core",), data, dict.fromkeys(data, "inventory/test.py"))
    return plan_inventory([spec], secrets=secrets).datastore


def test_redis_config_disables_the_dangerous_commands() -> None:
    lines = render_redis(datastore_plan()).splitlines()
    for command in REDIS_DISABLED_COMMANDS:
        assert f'rename-command {command} ""' in lines
    # Lynis DBS-1886 looks for this line.
    assert any(re.match(r"^rename-command CONFIG", line) for line in lines)


def test_redis_refuses_config_and_serves_what_the_services_send(tmp_path: Path) -> None:
    """On the rendered config, CONFIG is an unknown command while AUTH, SELECT, LPUSH,
    BRPOP, INFO (Celery's and the demo services' commands) work."""
    cli = tool("redis-cli")
    with redis_server(render_redis(datastore_plan()), tmp_path) as sock:
        env = {"REDISCLI_AUTH": "redis-password", "PATH": "/usr/bin:/bin"}

        def ask(*args: str) -> str:
            return run([cli, "-s", str(sock), *args], env=env).stdout.strip()

        assert "unknown command" in ask("CONFIG", "GET", "appendonly").lower()
        assert "unknown command" in ask("REPLICAOF", "192.0.2.1", "6379").lower()
        assert ask("-n", "1", "LPUSH", "q", "job") == "1"
        assert ask("-n", "1", "BRPOP", "q", "1").splitlines() == ["q", "job"]
        assert "redis_version:" in ask("INFO", "server")


# --- fail2ban ----------------------------------------------------------------------------


def test_fail2ban_never_bans_loopback_the_inventory_or_the_tailnet() -> None:
    ignored = hardening.fail2ban_ignored(["10.0.0.10", "fd00::30", "10.0.0.10"], HostSettings())
    assert ignored == (
        "127.0.0.1/8",
        "::1",
        "10.0.0.10",
        "fd00::30",
        "100.64.0.0/10",
        "fd7a:115c:a1e0::/48",
    )
    text = hardening.render_fail2ban(ignored)
    assert "ignoreip = 127.0.0.1/8 ::1 10.0.0.10 fd00::30 100.64.0.0/10 fd7a:115c:a1e0::/48" in (
        text.splitlines()
    )
    assert "backend = systemd" in text.splitlines()  # no auth.log on a journald-only host


@pytest.mark.parametrize("bad", ["10.0.0.300", "host name", "10.0.0.0/8 1.2.3.4"])
def test_fail2ban_ignore_takes_only_addresses_and_networks(bad: str) -> None:
    with pytest.raises(ValidationError, match="fks_fail2ban_ignore"):
        HostSettings(fks_fail2ban_ignore=(bad,))
