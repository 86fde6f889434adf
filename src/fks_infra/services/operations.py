"""FKS services on a host: a release put in place and rolled out, or removed."""

from __future__ import annotations

import shlex
from collections.abc import Generator, Sequence

from pyinfra.api.command import StringCommand

from fks_infra.catalogue import Service
from fks_infra.operations.factcache import fact, host_operation
from fks_infra.operations.files import files_in_place_commands
from fks_infra.paths import DEPLOYED_DIR, ROLLOUT, UNIT_DIR
from fks_infra.services.facts import DeployedServices


@host_operation
def service_release(
    service: Service,
    files: Sequence[tuple[str, bytes, str]],
    deploy_id: str,
    arguments: list[str],
) -> Generator[object, None, None]:
    """Put a service's files in place, then run fks-rollout unless ``deploy_id`` is recorded.

    + service: the catalogue entry
    + files: (path, content, mode) of its release tarball, env file and unit files, each
      written as ``private_file`` writes one: unseen, whole, owned by root
    + deploy_id: digest of everything that must restart the service when it changes
      (release, units, env file); fks-rollout records it after a healthy start
    + arguments: fks-rollout's arguments (no secrets: those live in the env file)

    One operation per service, not one per file: a converged host costs pyinfra a few
    operations per service less. A changed unit file reloads systemd before the rollout.
    A failed rollout records nothing, so the next run tries again.
    """
    yield from files_in_place_commands(files)
    if fact(DeployedServices).get(service.name) == deploy_id:
        return
    yield StringCommand(ROLLOUT, *(shlex.quote(arg) for arg in arguments))


@host_operation
def remove_services(services: Sequence[Service]) -> Generator[object, None, None]:
    """Stop, disable and delete the services the plan no longer places on this host.

    + services: catalogue entries; those the host has nothing of are skipped, so a host
      that never had any of them costs no command
    """
    deployed = fact(DeployedServices)
    present = [service for service in services if service.name in deployed]
    if not present:
        return
    units = [unit for service in present for unit in (*service.companion_units, service.unit)]
    for unit in units:
        yield f"systemctl disable --now {unit} 2>/dev/null || true"
    for service in present:
        yield StringCommand(
            "rm",
            "-rf",
            *(f"{UNIT_DIR}/{unit}" for unit in (*service.companion_units, service.unit)),
            service.env_file,
            service.install_dir,
            f"{DEPLOYED_DIR}/{service.name}",
        )
    yield "systemctl daemon-reload"
    # A unit that failed while stopping would keep the host "degraded" after its file is
    # gone. One at a time: systemctl stops at the first unit that is not loaded.
    for unit in units:
        yield StringCommand("systemctl", "reset-failed", unit, "2>/dev/null", "||", "true")
