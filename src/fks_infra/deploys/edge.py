"""The edge of every host: sshd, time, nginx (on edge hosts) and the firewall.

Every config file here goes live through ``checked_files``: written as a candidate, checked
by the program that reads it (``sshd -t``, ``chronyd -p``, ``nginx -t``, ``nft -c``), and
only then moved live and reloaded. A failing check fails the run and leaves the host as it was.
"""

from __future__ import annotations

from pyinfra.api.deploy import deploy
from pyinfra.context import host

from fks_infra import chrony, sshd
from fks_infra.deploys.checked import checked_files
from fks_infra.deploys.facts import SshdPorts
from fks_infra.deploys.operations import (
    daemon_files,
    directories,
    packages,
    private_file,
    self_signed_certificate,
    service_state,
)
from fks_infra.firewall import RULESET_PATH, render_ruleset
from fks_infra.nginx import MAIN_CONFIG, render_nginx
from fks_infra.plan import HostPlan, InventoryPlan
from fks_infra.tls import SELF_SIGNED_TLS, TLS_DIR, TlsFiles, configured_tls, read_tls


@deploy("Harden sshd")
def harden_sshd(plan: HostPlan) -> None:
    """Keys only, few attempts, short grace time: one drop-in, checked by ``sshd -t``."""
    checked_files(
        name=f"Render {sshd.DROP_IN}",
        label="sshd",
        files={sshd.DROP_IN: sshd.render_sshd(plan.settings, plan.login_user)},
        check=sshd.candidate_check("{candidate}" + sshd.DROP_IN),
        activate="systemctl reload ssh.service",
    )


@deploy("Time")
def configure_time(plan: HostPlan) -> None:
    """chrony, from the configured NTP sources; measuring only where it may not set the clock."""
    packages(name="Install chrony", names=["chrony"])
    # Where it may not set the clock (no CAP_SYS_TIME) a drop-in runs chronyd measuring only.
    drop_in = None if plan.settings.fks_time_adjust_clock else chrony.render_drop_in().encode()
    daemon_files(
        name=f"Render {chrony.DROP_IN} (restart chrony when it changed)",
        unit="chrony.service",
        files=[(chrony.DROP_IN, drop_in, "644")],
    )
    checked_files(
        name=f"Render {chrony.CONFIG}",
        label="chrony",
        files={chrony.CONFIG: chrony.render_chrony(plan.settings)},
        check="chronyd -p -f {candidate}" + chrony.CONFIG + " > /dev/null",
        activate="systemctl restart chrony.service",
    )


@deploy("nginx")
def configure_nginx(plan: HostPlan, inventory: InventoryPlan) -> None:
    """nginx from the distribution, serving the whole inventory's services over HTTPS."""
    packages(name="Install nginx", names=["nginx", "openssl"])
    directories(name=f"Directory {TLS_DIR}", layout=((TLS_DIR, "700", "root"),))
    tls = _install_tls(plan)
    checked_files(
        name="Render nginx config",
        label="nginx",
        files=render_nginx(plan, inventory, tls),
        check="nginx -t -q -c {candidate}" + MAIN_CONFIG,
        # Reload: running connections finish on the old workers. Start if it is not running.
        activate="systemctl reload-or-restart nginx.service",
    )
    service_state(name="Enable nginx.service", units=["nginx.service"])


def _install_tls(plan: HostPlan) -> TlsFiles:
    pair = read_tls(plan.settings)
    if pair is None:
        server_name = plan.settings.fks_nginx_server_name
        self_signed_certificate(
            name="Make a self-signed TLS certificate (only when missing)",
            certificate=SELF_SIGNED_TLS.certificate,
            key=SELF_SIGNED_TLS.key,
            common_name=plan.name if server_name == "_" or "*" in server_name else server_name,
            addresses=(plan.address,),
        )
        return SELF_SIGNED_TLS
    certificate, key = pair
    tls = configured_tls(certificate, key)
    private_file(
        name="Upload the TLS certificate", content=certificate, dest=tls.certificate, mode="644"
    )
    private_file(name="Upload the TLS private key", content=key, dest=tls.key, mode="600")
    return tls


@deploy("Firewall")
def configure_firewall(plan: HostPlan, inventory: InventoryPlan) -> None:
    """nftables, default deny inbound; run after services and nginx are in place.

    SSH stays open on the port pyinfra connects to and every port sshd listens on, so a
    forwarded port (Vagrant's 2222 -> 22) cannot lock the operator out.
    """
    packages(name="Install nftables", names=["nftables"])
    ssh_ports = {int(host.data.get("ssh_port") or 22), *host.get_fact(SshdPorts)}
    checked_files(
        name=f"Render {RULESET_PATH}",
        label="nftables",
        files={RULESET_PATH: render_ruleset(plan, inventory, sorted(ssh_ports))},
        check="nft -c -f {candidate}" + RULESET_PATH,
        activate=f"nft -f {RULESET_PATH}",
    )
    # nftables.service loads /etc/nftables.conf at boot (before the network is up).
    service_state(name="Enable nftables.service", units=["nftables.service"], running=None)
