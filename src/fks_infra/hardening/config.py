"""What hardening a host gets, rendered from its settings and release. No pyinfra import.

The items are those of Lynis' server audit that fit a host of this stack (``bench/lynis.md``
lists each one applied, skipped in containers, or left out, with the reason). Every file
here is fks-infra's own (a drop-in or a file of its own name), never a distribution's
conffile rewritten, so a package upgrade never asks about it.

Kernel parameters: a container shares its machine's kernel, and mounts ``/proc/sys``
read-only (a lab host: all of it, its network namespace's ``net.*`` too); there the file is
written to ``/etc/sysctl.d`` but what cannot be set is left as it is, with the reason
(``operations.kernel_parameters``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from fks_infra.distro import Distro
from fks_infra.settings import HostSettings
from fks_infra.templating import render

SYSCTL_FILE = "/etc/sysctl.d/90-fks-infra.conf"
MODPROBE_FILE = "/etc/modprobe.d/fks-infra-hardening.conf"
COREDUMP_DROP_IN = "/etc/systemd/coredump.conf.d/fks-infra.conf"
LIMITS_FILE = "/etc/security/limits.d/fks-infra.conf"
PROFILE_FILE = "/etc/profile.d/fks-infra.sh"
ISSUE_FILES = ("/etc/issue", "/etc/issue.net")
AUTO_UPGRADES = "/etc/apt/apt.conf.d/20auto-upgrades"
UNATTENDED_UPGRADES = "/etc/apt/apt.conf.d/52fks-infra-unattended-upgrades"
NEEDRESTART_CONF = "/etc/needrestart/conf.d/fks-infra.conf"
DEBSUMS_DEFAULTS = "/etc/default/debsums"
AUDIT_RULES = "/etc/audit/rules.d/fks-infra.rules"
#: fail2ban's own file for local settings (the package's jail.conf stays as shipped).
FAIL2BAN_JAIL = "/etc/fail2ban/jail.local"
LOGIN_DEFS = "/etc/login.defs"

#: Kernel parameters and their values: Lynis' scan profile (``default.prf``, KRNL-6000) for
#: Linux, less ``kernel.modules_disabled`` (it would stop the NVIDIA driver's DKMS module and
#: nftables' modules loading on demand), less ``kernel.perf_event_paranoid``,
#: ``kernel.randomize_va_space`` and ``net.ipv4.tcp_timestamps``, whose release defaults
#: Lynis already accepts.
KERNEL_PARAMETERS: Mapping[str, str] = {
    "dev.tty.ldisc_autoload": "0",
    "fs.protected_fifos": "2",
    "fs.protected_hardlinks": "1",
    "fs.protected_regular": "2",
    "fs.protected_symlinks": "1",
    "fs.suid_dumpable": "0",
    "kernel.core_uses_pid": "1",
    "kernel.ctrl-alt-del": "0",
    "kernel.dmesg_restrict": "1",
    "kernel.kptr_restrict": "2",
    "kernel.sysrq": "0",
    "kernel.unprivileged_bpf_disabled": "1",
    "kernel.yama.ptrace_scope": "1",
    "net.core.bpf_jit_harden": "2",
    "net.ipv4.conf.all.accept_redirects": "0",
    "net.ipv4.conf.all.accept_source_route": "0",
    "net.ipv4.conf.all.bootp_relay": "0",
    "net.ipv4.conf.all.forwarding": "0",
    "net.ipv4.conf.all.log_martians": "1",
    "net.ipv4.conf.all.proxy_arp": "0",
    "net.ipv4.conf.all.rp_filter": "1",
    "net.ipv4.conf.all.send_redirects": "0",
    "net.ipv4.conf.default.accept_redirects": "0",
    "net.ipv4.conf.default.accept_source_route": "0",
    "net.ipv4.conf.default.log_martians": "1",
    "net.ipv4.icmp_echo_ignore_broadcasts": "1",
    "net.ipv4.icmp_ignore_bogus_error_responses": "1",
    "net.ipv4.tcp_syncookies": "1",
    "net.ipv6.conf.all.accept_redirects": "0",
    "net.ipv6.conf.all.accept_source_route": "0",
    "net.ipv6.conf.default.accept_redirects": "0",
    "net.ipv6.conf.default.accept_source_route": "0",
}

#: Kernel modules a server of this stack never needs, and why (NETW-3200, USB-1000,
#: STRG-1846): rarely used network protocols with a history of remotely reachable bugs,
#: and removable storage.
BLOCKED_MODULES: Mapping[str, str] = {
    "dccp": "Datagram Congestion Control Protocol: unused",
    "sctp": "Stream Control Transmission Protocol: unused",
    "rds": "Reliable Datagram Sockets: unused",
    "tipc": "Transparent Inter-Process Communication: unused",
    "usb-storage": "USB mass storage: no data leaves or enters a server on a stick",
    "firewire-core": "FireWire: DMA from any plugged device",
}

#: Packages every host gets: automatic security updates, a list of daemons running old
#: libraries, package file checksums, a private $TMPDIR per login, password quality rules,
#: and fail2ban reading sshd's journal (python3-systemd).
PACKAGES = (
    "unattended-upgrades",
    "needrestart",
    "debsums",
    "libpam-tmpdir",
    "libpam-pwquality",
    "fail2ban",
    "python3-systemd",
)
#: Only where the kernel is the host's own: the kernel's audit subsystem is not namespaced.
AUDIT_PACKAGES = ("auditd",)

#: Packages unattended-upgrades never touches (Python regular expressions matched from the
#: start of the name):
#: a new NVIDIA userland does not match the loaded kernel module until a reboot, and a
#: PostgreSQL upgrade restarts the server; both wait for an operator's deploy.
UPGRADE_BLACKLIST = (
    ".*nvidia",  # nvidia-*, libnvidia-*, firmware-nvidia-*, libegl-nvidia0, ...
    "libcuda",
    "libnvcuvid",
    "libnvoptix",
    "cuda-",
    "postgresql",
    "timescaledb-",
)


def kernel_parameters(settings: HostSettings) -> dict[str, str]:
    """{key: value} fks-infra manages on a host: the hardening set less ``fks_sysctl_skip``."""
    return {k: v for k, v in KERNEL_PARAMETERS.items() if k not in settings.fks_sysctl_skip}


def blocked_modules(settings: HostSettings) -> dict[str, str]:
    """{module: why} blacklisted on a host: the set less ``fks_modules_allowed``."""
    return {m: w for m, w in BLOCKED_MODULES.items() if m not in settings.fks_modules_allowed}


@dataclass(frozen=True)
class SecurityOrigins:
    """The archive ``unattended-upgrades`` takes updates from: the release's security suite.

    + patterns: ``Unattended-Upgrade::Origins-Pattern`` entries (apt's Release fields)
    """

    patterns: tuple[str, ...]


def security_origins(distro: Distro) -> SecurityOrigins:
    """The release's security suite, named by its Release file's fields (Debian: the
    ``Debian-Security`` label of ``<codename>-security``; Ubuntu: ``<codename>-security``
    and, where the machine is attached to Ubuntu Pro, its ESM security pockets)."""
    code = distro.codename
    if distro.id == "ubuntu":
        return SecurityOrigins(
            (
                f"origin=Ubuntu,archive={code}-security",
                f"origin=UbuntuESMApps,archive={code}-apps-security",
                f"origin=UbuntuESM,archive={code}-infra-security",
            )
        )
    return SecurityOrigins((f"origin=Debian,codename={code}-security,label=Debian-Security",))


def render_sysctl(settings: HostSettings) -> str:
    return render("etc/sysctl.d/90-fks-infra.conf.j2", {"parameters": kernel_parameters(settings)})


def render_modprobe(settings: HostSettings) -> str:
    return render(
        "etc/modprobe.d/fks-infra-hardening.conf.j2", {"modules": blocked_modules(settings)}
    )


def render_unattended_upgrades(distro: Distro) -> str:
    return render(
        "etc/apt/apt.conf.d/52fks-infra-unattended-upgrades.j2",
        {"origins": security_origins(distro).patterns, "blacklist": UPGRADE_BLACKLIST},
    )


def fail2ban_ignored(plan_address: Iterable[str], settings: HostSettings) -> tuple[str, ...]:
    """Addresses fail2ban never bans: loopback, the inventory's hosts (``plan_address``),
    ``fks_fail2ban_ignore``; each once, in that order."""
    return tuple(
        dict.fromkeys(("127.0.0.1/8", "::1", *plan_address, *settings.fks_fail2ban_ignore))
    )


def render_fail2ban(ignored: tuple[str, ...]) -> str:
    return render("etc/fail2ban/jail.local.j2", {"ignore": ignored})


def render_issue(settings: HostSettings) -> str:
    """/etc/issue and /etc/issue.net: the banner, one line."""
    return settings.fks_login_banner + "\n"


#: login.defs keys set in place (its other lines are the release's): SHA-crypt rounds for
#: passwords set with chpasswd (AUTH-9230).
LOGIN_DEFS_VALUES: Mapping[str, str] = {
    "SHA_CRYPT_MIN_ROUNDS": "65536",
    "SHA_CRYPT_MAX_ROUNDS": "65536",
}
