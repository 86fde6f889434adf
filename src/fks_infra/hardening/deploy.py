"""Host hardening: kernel parameters, module blacklist, core dumps, security updates,
banner, audit; every file fks-infra's own (``hardening/config.py``)."""

from __future__ import annotations

from pyinfra.api.deploy import deploy
from pyinfra.context import host
from pyinfra.operations import files, server

from fks_infra.distro import Distro
from fks_infra.hardening import config as hardening
from fks_infra.hardening.facts import Container
from fks_infra.hardening.operations import kernel_parameters
from fks_infra.operations.apt import packages
from fks_infra.operations.files import daemon_files, private_file
from fks_infra.operations.systemd import service_state
from fks_infra.package_data import host_file
from fks_infra.plan import HostPlan, InventoryPlan

#: Shipped as they are (``files/``), mode 644.
STATIC_FILES = (
    hardening.COREDUMP_DROP_IN,
    hardening.LIMITS_FILE,
    hardening.PROFILE_FILE,
    hardening.DEBSUMS_DEFAULTS,
)


@deploy("Harden host")
def harden_host(plan: HostPlan, inventory: InventoryPlan, distro: Distro) -> None:
    """The hardening every host gets; in a container, what a container can carry."""
    settings = plan.settings
    # needrestart's "list only" before the package: its first apt hook restarts nothing.
    private_file(
        name=f"Install {hardening.NEEDRESTART_CONF}",
        content=host_file(hardening.NEEDRESTART_CONF).read_bytes(),
        dest=hardening.NEEDRESTART_CONF,
        mode="644",
    )
    packages(name="Install the hardening packages", names=list(hardening.PACKAGES))
    ignored = hardening.fail2ban_ignored((h.address for h in inventory.hosts), settings)
    daemon_files(
        name=f"Render {hardening.FAIL2BAN_JAIL} (restart fail2ban when it changed)",
        unit="fail2ban.service",
        files=[(hardening.FAIL2BAN_JAIL, hardening.render_fail2ban(ignored).encode(), "644")],
    )
    for path in STATIC_FILES:
        private_file(
            name=f"Install {path}", content=host_file(path).read_bytes(), dest=path, mode="644"
        )
    for path in hardening.ISSUE_FILES:
        private_file(
            name=f"Render {path}",
            content=hardening.render_issue(settings).encode(),
            dest=path,
            mode="644",
        )
    private_file(
        name=f"Render {hardening.MODPROBE_FILE}",
        content=hardening.render_modprobe(settings).encode(),
        dest=hardening.MODPROBE_FILE,
        mode="644",
    )
    private_file(
        name=f"Render {hardening.SYSCTL_FILE}",
        content=hardening.render_sysctl(settings).encode(),
        dest=hardening.SYSCTL_FILE,
        mode="644",
    )
    kernel_parameters(
        name="Set the kernel parameters live", values=hardening.kernel_parameters(settings)
    )
    for key, value in hardening.LOGIN_DEFS_VALUES.items():
        files.line(
            name=f"{key} {value} in {hardening.LOGIN_DEFS}",
            path=hardening.LOGIN_DEFS,
            # The same in grep -E (pyinfra's fact) and sed's basic regex (its change).
            line=f"^#*[[:space:]]*{key}[[:space:]]",
            replace=f"{key} {value}",
        )
    upgrades = settings.fks_unattended_upgrades
    for path, content in (
        (hardening.AUTO_UPGRADES, host_file(hardening.AUTO_UPGRADES).read_bytes()),
        (hardening.UNATTENDED_UPGRADES, hardening.render_unattended_upgrades(distro).encode()),
    ):
        private_file(
            name=f"{'Render' if upgrades else 'Remove'} {path}",
            content=content if upgrades else None,
            dest=path,
            mode="644",
        )
    # The kernel's audit subsystem is not namespaced: auditd cannot run in a container.
    if host.get_fact(Container) is None:
        packages(name="Install auditd", names=list(hardening.AUDIT_PACKAGES))
        rules = private_file(
            name=f"Install {hardening.AUDIT_RULES}",
            content=host_file(hardening.AUDIT_RULES).read_bytes(),
            dest=hardening.AUDIT_RULES,
            mode="640",
        )
        server.shell(
            name="Load the audit rules", commands=["augenrules --load"], _if=rules.did_change
        )
        service_state(name="Enable and start auditd.service", units=["auditd.service"])
