"""The stages of a deploy, in order, with the roles each serves: the one place the order lives.

A deploy file only chooses roles (``deploy/core.py``: ``deploy_roles(Role.CORE)``); every
host holding one of them goes through the stages below, top to bottom. Why this order:

1. ``prepare_host`` first: its pre-flight stops a host with a full disk or a wrong clock
   before any change, and it makes the staging directories every later upload goes through.
2. ``configure_firewall`` next, before anything listens beyond SSH: a first deploy that
   fails at any later stage leaves PostgreSQL, Redis, the exporters and the services behind
   the default-deny ruleset, never open. Its rules come from the plan alone, so they can
   open each port to its callers before the service is there; SSH stays open (the
   operator is never locked out).
3. ``join_tailnet``: its auth key goes through the staging directories.
4. ``harden_sshd``, ``configure_time``: the edge every host has. ``harden_host`` between
   them: its packages (unattended-upgrades, needrestart) go in before any later stage's apt
   runs, so needrestart's "list only" already holds for those.
5. ``install_gpu_driver`` (GPU role) before the services: ``ai`` and ``training`` start on a
   host whose driver is in place.
6. PostgreSQL and Redis (the datastore host) before the services: they read both from their
   first start.
7. ``install_services``, then ``install_node_exporter``.
8. Monitoring after the services everywhere: its first scrapes and probes find them up.
9. nginx on edge hosts, after the services it proxies to.

pyinfra orders operations by the source lines that call them, so the stages are calls on
lines of their own below, not a loop over a list (a loop would order the operations of all
stages by their lines inside each stage).
"""

from __future__ import annotations

from fks_infra.catalogue import Role
from fks_infra.chrony.deploy import configure_time
from fks_infra.datastores.deploy import install_postgres, install_redis
from fks_infra.firewall.deploy import configure_firewall
from fks_infra.gpu.deploy import install_gpu_driver
from fks_infra.hardening.deploy import harden_host
from fks_infra.host.deploy import prepare_host
from fks_infra.monitoring.config import runs_monitoring
from fks_infra.monitoring.deploy import install_monitoring, install_node_exporter
from fks_infra.nginx.config import serves_edge
from fks_infra.nginx.deploy import configure_nginx
from fks_infra.pyinfra_internals import install_speedups
from fks_infra.run.context import host_distro, host_plan, inventory_plan
from fks_infra.services.deploy import install_services
from fks_infra.sshd.deploy import harden_sshd
from fks_infra.tailscale.deploy import join_tailnet


def deploy_roles(*roles: Role) -> None:
    """Deploy the current host's part of the stack for ``roles`` (every role when none given).

    A host holding none of ``roles`` is left alone (its run lock is still taken, and the
    whole inventory is still validated first). A stage serving only some roles runs where
    one of them is chosen; stages serving every role run on every chosen host.

    Raises ``run.context.InvalidInventoryError`` for an invalid inventory, before any
    operation of any host.
    """
    install_speedups()
    plan = host_plan()
    inventory = inventory_plan()
    chosen = set(roles or Role)
    if not chosen & set(plan.roles):
        return
    distro = host_distro(plan)  # an unsupported release stops the run here, before any change

    def serving(*stage_roles: Role) -> bool:
        return bool(chosen & set(stage_roles))

    prepare_host(plan=plan)
    configure_firewall(plan=plan, inventory=inventory)
    join_tailnet(plan=plan, distro=distro)
    harden_sshd(plan=plan, distro=distro)
    harden_host(plan=plan, inventory=inventory, distro=distro)
    configure_time(plan=plan)
    if serving(Role.GPU):
        install_gpu_driver(plan=plan, distro=distro)
    if serving(Role.CORE, Role.DATASTORE) and Role.DATASTORE in plan.roles:
        install_postgres(plan=plan, inventory=inventory, distro=distro)
        install_redis(plan=plan)
    install_services(plan=plan, inventory=inventory, distro=distro)
    install_node_exporter(plan=plan)
    if serving(Role.CORE) and runs_monitoring(plan):
        install_monitoring(plan=plan, inventory=inventory)
    if serving(Role.CORE) and serves_edge(plan):
        configure_nginx(plan=plan, inventory=inventory, distro=distro)
