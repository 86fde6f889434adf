"""The nftables firewall, checked by ``nft -c`` before it goes live."""

from __future__ import annotations

from pyinfra.api.deploy import deploy
from pyinfra.context import host

from fks_infra.firewall.ruleset import RULESET_PATH, render_ruleset
from fks_infra.operations.apt import packages
from fks_infra.operations.checked import checked_files
from fks_infra.operations.systemd import service_state
from fks_infra.plan import HostPlan, InventoryPlan
from fks_infra.sshd.facts import SshdPorts


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
