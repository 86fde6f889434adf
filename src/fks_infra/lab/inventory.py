"""pyinfra inventory groups for the running lab, built from its state file.

``inventory/lab.py`` is a thin wrapper around ``lab_groups`` so that the
mapping from lab hosts to pyinfra hosts (connection data, role groups) is
plain, typed and unit-tested here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fks_infra.catalogue import CATALOGUE
from fks_infra.lab.errors import LabError
from fks_infra.lab.keys import known_hosts_file
from fks_infra.lab.paths import LabPaths, lab_paths
from fks_infra.lab.rootfs import LOGINS, OPERATORS
from fks_infra.lab.spec import KNOWN_ROLES
from fks_infra.lab.state import LabState, load_state

#: The group every lab host is in, whatever its roles; ``group_data/lab.py`` targets it.
LAB_GROUP = "lab"

InventoryHost = tuple[str, dict[str, Any]]

#: The port of the lab's stand-in outside endpoint on the bridge's gateway address (the
#: control side of the lab network). Nothing listens there except while
#: ``tests/lab/test_egress_policy.py`` runs its endpoint; the demo services' ``GET
#: /probe/egress`` tries it (``FKS_DEMO_EGRESS_URL``), which only units allowed out reach.
EGRESS_PROBE_PORT = 38090

#: Who the lab inventory logs in as: an operator of ``rootfs.OPERATORS`` (with sudo, as in
#: production; the first by default) or ``root`` (no sudo, for tests of a root-run host).
LOGIN_ENV = "FKS_LAB_USER"


def login_user() -> str:
    """The user named by ``$FKS_LAB_USER``, else the lab's first operator.

    Raises ``LabError`` for a user the lab's hosts do not have.
    """
    user = os.environ.get(LOGIN_ENV) or OPERATORS[0]
    if user not in LOGINS:
        known = ", ".join(LOGINS)
        raise LabError(f"${LOGIN_ENV}={user!r}: lab hosts have the logins {known}")
    return user


def connection_data(state: LabState, name: str, user: str | None = None) -> dict[str, Any]:
    """pyinfra SSH connector data for lab host ``name``, logging in as ``user`` (default:
    ``login_user()``); every user but root reaches root through sudo. Host keys are checked
    strictly against the lab's known_hosts file (``keys.known_hosts_file``)."""
    user = user or login_user()
    sudo = {"_sudo": True} if user != "root" else {}
    return {
        "ssh_hostname": state.host(name).address,
        "ssh_user": user,
        **sudo,
        "ssh_key": state.key,
        # ``lab up`` records each host's fresh keys there before it boots: a key that is
        # not the recorded one is refused, by pyinfra and by verify and status alike.
        "ssh_known_hosts_file": str(known_hosts_file(Path(state.key))),
        "ssh_strict_host_key_checking": "yes",
    }


#: Settings every lab host gets besides its connection data. An alert fires 10 s after its
#: condition holds instead of the default minute: the alert test waits for one, and a lab's
#: services are never slow to start the way real ones are.
LAB_SETTINGS: dict[str, object] = {"fks_alert_for": "10s"}


def groups_for(state: LabState) -> dict[str, list[InventoryHost]]:
    """Every role group (empty ones too, so deploys can rely on them) plus ``lab``."""
    groups: dict[str, list[InventoryHost]] = {role: [] for role in sorted(KNOWN_ROLES)}
    groups[LAB_GROUP] = []
    # The control machine reaches every lab host from the bridge's gateway address, and the
    # lab tests log in wrongly on purpose (root refused, changed host keys): fail2ban must
    # never ban the one address every test comes from.
    never_banned = {"fks_fail2ban_ignore": [state.network.gateway]}
    probe = {"fks_service_environment": egress_probe_environment(state)}
    for host in state.hosts:
        settings = {**never_banned, **probe, **LAB_SETTINGS}
        entry = (host.name, {**connection_data(state, host.name), **settings})
        for group in (*host.roles, LAB_GROUP):
            groups[group].append(entry)
    return groups


def egress_probe_environment(state: LabState) -> dict[str, dict[str, str]]:
    """``fks_service_environment`` of every lab host: each service's egress probe target,
    ``http://<gateway>:EGRESS_PROBE_PORT/`` (outside the inventory, as an exchange is)."""
    url = f"http://{state.network.gateway}:{EGRESS_PROBE_PORT}/"
    return {service.name: {"FKS_DEMO_EGRESS_URL": url} for service in CATALOGUE}


def lab_groups(paths: LabPaths | None = None) -> dict[str, list[InventoryHost]]:
    """The inventory groups of the lab that is up; ``LabError`` telling how to start one if none."""
    paths = paths or lab_paths()
    state = load_state(paths.state_file)
    if state is None:
        raise LabError(
            f"no lab is up (no state file at {paths.state_file}); run `fks-infra lab up` first"
        )
    return groups_for(state)
