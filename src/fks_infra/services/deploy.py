"""FKS services on a host: releases, env files, units, health-gated rollout, removal.

Every host walks the whole catalogue in the same order: services placed on the host are
installed, the others removed if anything of them is left. A service restarts only when
its deployment id changes: the digest of its release, unit and env file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence

from pyinfra.api.deploy import deploy
from pyinfra.context import host
from pyinfra.facts.files import FindInFile

from fks_infra.access import RESOLV_CONF, egress_for, no_proxy, resolvers_in
from fks_infra.addresses import url_host
from fks_infra.bridges import endpoint_addresses, service_environment
from fks_infra.catalogue import CATALOGUE, Service
from fks_infra.datastores.config import datastore_env, datastore_units
from fks_infra.distro import Distro
from fks_infra.gpu.driver import gpu_indices
from fks_infra.operations.systemd import service_state
from fks_infra.paths import UNIT_DIR
from fks_infra.plan import HostPlan, InventoryPlan
from fks_infra.releases import PythonTarget
from fks_infra.services.envfile import render_env
from fks_infra.services.operations import remove_services, service_release
from fks_infra.services.shipping import Shipment, shipment
from fks_infra.services.units import UnitOptions, render_unit


@deploy("FKS services")
def install_services(plan: HostPlan, inventory: InventoryPlan, distro: Distro) -> None:
    """Install, update or remove every catalogue service as ``plan`` says.

    Python releases are built for the host's ``python3`` and glibc (``distro``): a Debian 12
    host and a Debian 13 host get releases of the same source with different wheels.
    """
    target = PythonTarget.of(distro)
    remove_services(
        name="Remove the services not placed here",
        services=[service for service in CATALOGUE if not plan.runs(service.name)],
    )
    for service in _each_service():
        if not plan.runs(service.name):
            continue
        shipped = shipment(service, _source(plan, service), target)
        options = unit_options(service, plan, inventory)
        release_id = shipped.release.release_id
        unit = render_unit(
            service, _exec_start(service, plan, shipped), options, release_id=release_id
        )
        # Companions: the same release's tasks, each in its own unit from the same template.
        companions = {
            service.companion_unit(companion): render_unit(
                service,
                _task_start(service, shipped, companion),
                options,
                companion=companion,
                release_id=release_id,
            )
            for companion in service.companions
        }
        env = env_file(service, plan, inventory)
        deploy_id = _digest(shipped.sha256, unit, env, *companions.values())
        service_release(
            name=f"Install and roll out {service.name} release {shipped.release.release_id}",
            service=service,
            files=(
                (_tarball_path(service, shipped), shipped.tarball, "600"),
                (service.env_file, env.encode(), "600"),
                (f"{UNIT_DIR}/{service.unit}", unit.encode(), "644"),
                *(
                    (f"{UNIT_DIR}/{name}", text.encode(), "644")
                    for name, text in companions.items()
                ),
            ),
            deploy_id=deploy_id,
            arguments=_rollout_arguments(plan, service, shipped, deploy_id),
        )
    # Companions are restarted by the rollouts with their service (PartOf=).
    service_state(
        name="Keep the services enabled and running",
        units=[unit for service in plan.services for unit in service.units],
    )


def _each_service() -> Iterator[Service]:
    """The whole catalogue, each service at its own fixed place in pyinfra's operation order.

    Every host walks the same sequence, so an operation of service X has the same identity
    on every host, whether X is installed or removed there.
    """
    yield from host.loop(CATALOGUE)  # type: ignore[no-untyped-call]


def env_file(service: Service, plan: HostPlan, inventory: InventoryPlan) -> str:
    """A service's env file: its secrets, its settings (bridges' endpoints), its datastores."""
    return render_env(
        {name: plan.secrets[name].get_secret_value() for name in service.secrets},
        {**service_environment(service, plan.settings), **datastore_env(service, plan, inventory)},
    )


def unit_options(
    service: Service,
    plan: HostPlan,
    inventory: InventoryPlan,
    resolvers: Sequence[str] | None = None,
) -> UnitOptions:
    """How ``service``'s unit runs on ``plan``'s host.

    Peers are the inventory's hosts (nginx, monitoring, datastores) and, for a bridge, its
    Windows side. A service that talks to the outside (``access.Egress``) also reaches what
    the host's egress settings allow: any address, its networks and the host's DNS
    resolvers, or its proxy, whose variables join the unit's environment before the host's
    ``fks_service_environment`` for the service (by name).

    + resolvers: the host's DNS resolvers (``access.resolvers_in``); None reads them from
      the host (``/etc/resolv.conf``, a fact read while pyinfra plans) when an egress need
      lists networks, and only then
    """
    peers = {other.address for other in inventory.hosts} | set(
        endpoint_addresses(service, plan.settings)
    )
    egress = egress_for(plan, service)
    environment: tuple[tuple[str, str], ...] = ()
    if egress is not None:
        if egress.needs_resolvers and resolvers is None:
            resolvers = _host_resolvers()
        outside = egress.ip_allow(resolvers or ())
        peers = {"any"} if "any" in outside else peers | set(outside)
        environment = egress.environment(no_proxy(inventory))
    extra = plan.settings.fks_service_environment.get(service.name, {})
    return UnitOptions(
        bind_address=plan.bind_address,
        ip_allow=tuple(sorted(peers)),
        gpu_indices=gpu_indices(service, plan.settings),
        memory_max=plan.settings.fks_memory_max,
        tasks_max=plan.settings.fks_tasks_max,
        memory_deny_write_execute=service.name not in plan.settings.fks_write_execute_services,
        environment=(*environment, *sorted(extra.items())),
        after=datastore_units(plan, inventory, service),
    )


#: The lines of ``RESOLV_CONF`` that name a resolver (``grep -E``).
RESOLVER_LINES = r"^[[:space:]]*nameserver[[:space:]]"


def _host_resolvers() -> tuple[str, ...]:
    """The DNS resolvers of the host pyinfra plans for (``access.resolvers_in``)."""
    lines = host.get_fact(FindInFile, path=RESOLV_CONF, pattern=RESOLVER_LINES, extended_regex=True)
    return resolvers_in(lines or ())


def _exec_start(service: Service, plan: HostPlan, shipped: Shipment) -> tuple[str, ...]:
    """The release's command, made absolute under the ``current`` link."""
    program, *arguments = shipped.release.command_for(plan.bind_address, service.port)
    return (f"{service.install_dir}/current/{program}", *arguments)


def _task_start(service: Service, shipped: Shipment, task: str) -> tuple[str, ...]:
    """A release task's command, made absolute under the ``current`` link."""
    program, *arguments = shipped.release.task_command(task)
    return (f"{service.install_dir}/current/{program}", *arguments)


def _source(plan: HostPlan, service: Service) -> str:
    settings = plan.settings
    return settings.fks_release_sources.get(service.name, settings.fks_release_source)


def _tarball_path(service: Service, shipped: Shipment) -> str:
    return f"{service.install_dir}/artifacts/{shipped.release.release_id}.tar"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _rollout_arguments(
    plan: HostPlan, service: Service, shipped: Shipment, deploy_id: str
) -> list[str]:
    release = shipped.release
    return [
        "--service",
        service.name,
        "--unit",
        service.unit,
        "--home",
        service.install_dir,
        "--release-id",
        release.release_id,
        "--tarball",
        _tarball_path(service, shipped),
        "--tar-sha256",
        shipped.sha256,
        "--manifest-sha256",
        release.manifest_sha256,
        "--deploy-id",
        deploy_id,
        "--url",
        f"http://{url_host(plan.bind_address)}:{service.port}{service.health_path}",
        "--install",
        json.dumps([list(step) for step in release.install]),
        "--timeout",
        str(plan.settings.fks_health_timeout),
        "--keep",
        str(plan.settings.fks_releases_keep),
        # Pre-start tasks run as the service itself: its own user (catalogue.Service.user).
        "--user",
        service.user,
        "--env-file",
        service.env_file,
        # Run in the new release's directory before it goes live, as the service would.
        "--pre-start",
        json.dumps([list(release.task_command(task)) for task in service.pre_start]),
        # Copied with a healthy release (as is the env file), put back on a rollback.
        *(argument for unit in service.units for argument in ("--unit-file", f"{UNIT_DIR}/{unit}")),
    ]
