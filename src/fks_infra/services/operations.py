"""FKS services on a host: their system users, a release put in place and rolled out, or removed."""

from __future__ import annotations

import shlex
from collections.abc import Generator, Sequence

from pyinfra.api.command import StringCommand

from fks_infra.catalogue import Service
from fks_infra.operations.commands import argv
from fks_infra.operations.factcache import fact, host_operation
from fks_infra.operations.files import files_in_place_commands
from fks_infra.paths import DEPLOYED_DIR, HEALTHY_DIR, ROLLOUT, UNIT_DIR
from fks_infra.services.facts import NO_HOME, NO_SHELL, DeployedServices, ServiceAccounts


@host_operation
def service_accounts(users: Sequence[str]) -> Generator[object, None, None]:
    """One system user per service, alone in its own group of the same name; no shell, no home.

    No service user stays a member of another service's group (``gpasswd --delete``).

    + users: ``Service.user`` of each service placed on the host (``fks-<name>``)

    Users of services no longer placed are kept: their state directory stays on the host
    (removal never deletes data), and a freed uid could be handed to another service's new
    user, which would then own those files. Read in one fact, whatever the number of users.
    """
    found = fact(ServiceAccounts)
    for user in users:
        group, entry = found["group"].get(user), found["passwd"].get(user)
        if group is None:
            yield StringCommand("groupadd", "--system", user)
        if entry is None:
            yield StringCommand(
                "useradd", "--system", "--gid", user, "--shell", NO_SHELL, "--home-dir", NO_HOME,
                "--no-create-home", user,
            )  # fmt: skip
        elif group is None or (entry[3], entry[5], entry[6]) != (group[2], NO_HOME, NO_SHELL):
            yield StringCommand(
                "usermod", "--gid", user, "--shell", NO_SHELL, "--home", NO_HOME, user
            )
    # No shared group: a service user listed in another service's group leaves it.
    for name, group_entry in sorted(found["group"].items()):
        members = filter(None, group_entry[3].split(",")) if len(group_entry) > 3 else ()
        for member in members:
            if member != name and member.startswith("fks-"):
                yield StringCommand("gpasswd", "--delete", member, name)


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
    A failed rollout records nothing and puts back the unit and env files of the last
    healthy release (``HEALTHY_DIR``), so the next run writes them again and tries again.
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
        yield f"systemctl disable --now {shlex.quote(unit)} 2>/dev/null || true"
    for service in present:
        yield argv(
            "rm",
            "-rf",
            *(f"{UNIT_DIR}/{unit}" for unit in (*service.companion_units, service.unit)),
            service.env_file,
            service.install_dir,
            f"{DEPLOYED_DIR}/{service.name}",
            # Its last healthy record and the copies of its unit and env files (secrets).
            f"{HEALTHY_DIR}/{service.name}.json",
            f"{HEALTHY_DIR}/{service.name}",
        )
    yield "systemctl daemon-reload"
    # A unit that failed while stopping would keep the host "degraded" after its file is
    # gone. One at a time: systemctl stops at the first unit that is not loaded.
    for unit in units:
        yield f"systemctl reset-failed {shlex.quote(unit)} 2>/dev/null || true"
