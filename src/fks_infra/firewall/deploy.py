"""The nftables firewall, checked by ``nft -c`` before it goes live, in place before any service.

fks-infra owns the table ``inet fks_infra``, its file (``ruleset.RULESET_PATH``) and the unit
loading it (``fks-firewall.service``); nothing else of the host's nftables. Debian's own
``nftables.service`` runs ``nft flush ruleset`` when stopped, which would take every other
tool's tables (Tailscale's) with it, so fks-infra does not use it.

Hosts deployed by fks-infra before this layout had fks-infra's ruleset in Debian's
``/etc/nftables.conf`` (its first lines say "managed by fks-infra") and ``nftables.service``
enabled by fks-infra (Debian installs it disabled). On such a host, once fks-infra's own unit
holds the table, ``nftables.service`` is disabled and stopped without its flush, and
``/etc/nftables.conf`` gets Debian's stock content back (``files/etc/nftables.conf``, the
conffile of Debian 12's and 13's ``nftables`` package). A host whose ``/etc/nftables.conf``
is anything else is not touched.
"""

from __future__ import annotations

import shlex
from collections.abc import Generator

from pyinfra.api.command import StringCommand
from pyinfra.api.deploy import deploy
from pyinfra.context import host
from pyinfra.facts.files import FindInFile

from fks_infra.firewall.ruleset import RULESET_PATH, TABLE, UNIT, UNIT_PATH, render_ruleset
from fks_infra.operations.apt import packages
from fks_infra.operations.checked import checked_files
from fks_infra.operations.factcache import fact, file_digest, host_operation
from fks_infra.operations.files import daemon_files, write_commands
from fks_infra.operations.systemd import service_state
from fks_infra.package_data import host_file
from fks_infra.plan import HostPlan, InventoryPlan
from fks_infra.sshd.facts import SshdPorts

#: Debian's nftables config, fks-infra's ruleset on hosts deployed before ``RULESET_PATH``.
DEBIAN_RULESET = "/etc/nftables.conf"
#: What the rulesets fks-infra wrote there said in their second line.
LEGACY_MARK = "/etc/nftables.conf: managed by fks-infra"
#: Deletes ``TABLE`` alone, and is no error when it is not there (one transaction).
DELETE_TABLE = f"add table inet {TABLE}; delete table inet {TABLE}"
#: A runtime drop-in that empties ``nftables.service``'s ``ExecStop`` (``nft flush ruleset``)
#: for the one stop of the migration; under /run, so no reboot ever sees it.
NO_FLUSH_DROP_IN = "/run/systemd/system/nftables.service.d/fks-infra-no-flush.conf"


@deploy("Firewall")
def configure_firewall(plan: HostPlan, inventory: InventoryPlan) -> None:
    """nftables, default deny inbound; run before anything listens beyond SSH.

    SSH stays open on the port pyinfra connects to and every port sshd listens on, so a
    forwarded port (Vagrant's 2222 -> 22) cannot lock the operator out; replies to open
    connections (this run's own) are accepted. The ruleset comes from the plan alone, so it
    opens the service ports to their callers before the services exist.
    ``fks_firewall_enabled = False`` removes fks-infra's table, unit and file, nothing else.
    """
    packages(name="Install nftables", names=["nftables"])
    if plan.settings.fks_firewall_enabled:
        ssh_ports = {int(host.data.get("ssh_port") or 22), *host.get_fact(SshdPorts)}
        daemon_files(
            name=f"Install {UNIT_PATH}",
            unit=UNIT,
            files=[(UNIT_PATH, host_file(UNIT_PATH).read_bytes(), "644")],
            restart=False,  # the unit loads the ruleset below, which may not be there yet
            running=None,
        )
        checked_files(
            name=f"Render {RULESET_PATH}",
            label="nftables",
            files={RULESET_PATH: render_ruleset(plan, inventory, sorted(ssh_ports))},
            check="nft -c -f {candidate}" + RULESET_PATH,
            # ExecReload replaces the table in one transaction; an inactive unit starts.
            activate=f"systemctl reload-or-restart {UNIT}",
        )
        # Started again where someone stopped it (which deleted the table).
        service_state(name=f"Keep {UNIT} active", units=[UNIT])
    else:
        firewall_removed(name="Remove fks-infra's firewall (fks_firewall_enabled is false)")
    debian_nftables_restored(name=f"Give {DEBIAN_RULESET} back to Debian's nftables.service")


@host_operation
def firewall_removed() -> Generator[object, None, None]:
    """Stop and remove ``fks-firewall.service`` and ``RULESET_PATH``, deleting ``TABLE`` only.

    Nothing happens where neither file is there.
    """
    present = [path for path in (UNIT_PATH, RULESET_PATH) if file_digest(path) is not None]
    if not present:
        return
    if UNIT_PATH in present:
        yield StringCommand("systemctl", "disable", "--now", UNIT)  # ExecStop deletes TABLE
    yield StringCommand("rm", "-f", *present)
    yield "systemctl daemon-reload"
    yield f"nft {shlex.quote(DELETE_TABLE)}"  # also where the unit was not running


@host_operation
def debian_nftables_restored() -> Generator[object, None, None]:
    """Where ``/etc/nftables.conf`` still holds fks-infra's old ruleset: Debian's back.

    ``nftables.service`` (enabled by the fks-infra that wrote that file) is disabled and
    stopped with its ``ExecStop`` emptied, so no table goes (fks-infra's own unit holds
    ``TABLE`` by now, or ``firewall_removed`` deleted it); then the stock file is written.
    Nothing happens on a host whose file is Debian's or the operator's.
    """
    if not fact(FindInFile, path=DEBIAN_RULESET, pattern=LEGACY_MARK):
        return
    drop_in = shlex.quote(NO_FLUSH_DROP_IN)
    folder = shlex.quote(NO_FLUSH_DROP_IN.rsplit("/", 1)[0])
    yield (
        f"mkdir -p {folder} && printf '[Service]\\nExecStop=\\n' > {drop_in} "
        "&& systemctl daemon-reload && systemctl disable --now nftables.service; "
        f"status=$?; rm -f {drop_in} && systemctl daemon-reload && exit $status"
    )
    yield from write_commands(
        host_file(DEBIAN_RULESET).read_bytes(), DEBIAN_RULESET, "755", "root", "root"
    )
