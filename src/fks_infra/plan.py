"""Placement: which services run on which host, as a pure function.

Input is plain data (each host's name, inventory groups and merged data, with where each
key came from); output is an ``InventoryPlan`` of ``HostPlan``s, or a ``ProblemsError``
listing everything wrong. No pyinfra import: deploys, verification, nginx, the tailnet
policy and the docs all read the same plan, so they can never disagree about placement.
"""

from __future__ import annotations

import difflib
import getpass
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from fks_infra.addresses import host_problem
from fks_infra.addresses import ip_address as parse_ip
from fks_infra.bridges import WINRM_PASSWORD, endpoint_problems
from fks_infra.catalogue import CATALOGUE, Catalogue, Role, Service
from fks_infra.errors import MissingSecret, Problem, ProblemsError, shown
from fks_infra.gpu.driver import gpu_problems
from fks_infra.nginx.tls import tls_problems
from fks_infra.releases.model import ReleaseError
from fks_infra.releases.source import parse_release_source
from fks_infra.secrets import ALERTMANAGER_WEBHOOK_URL
from fks_infra.settings import HostSettings, parse_connection, parse_settings, text_problem
from fks_infra.sshd.config import sshd_problems

ROLE_NAMES: tuple[str, ...] = tuple(role.value for role in Role)
#: pyinfra's name of the machine it runs on (its local connector): no host name needed.
LOCAL = "@local"

#: The secret ``tailscale up`` authenticates with; needed only where Tailscale is enabled.
TAILSCALE_AUTHKEY = "TAILSCALE_AUTHKEY"
#: Datastore passwords: needed by the datastore host and by hosts of services reading them.
POSTGRES_PASSWORD = "POSTGRES_PASSWORD"
REDIS_PASSWORD = "REDIS_PASSWORD"

#: Resolves a secret for a host: (secret name, host settings) -> (value or None, problems).
SecretLookup = Callable[[str, HostSettings], tuple[SecretStr | None, list[Problem]]]
#: Resolves a host name on the control machine: name -> its addresses; raises ``OSError``
#: when it cannot (tests give their own, so they resolve only names they define).
Resolver = Callable[[str], list[str]]


def resolve_host(name: str) -> list[str]:
    """The addresses ``name`` resolves to on this machine (the system resolver, whose own
    timeouts and attempts, resolv.conf(5), bound the wait), without duplicates.

    Raises ``OSError`` (``socket.gaierror``) when it does not resolve.
    """
    found = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(entry[4][0]) for entry in found))


@dataclass(frozen=True)
class HostSpec:
    """What the inventory says about one host.

    + name: the inventory name of the host
    + groups: every inventory group the host is in (roles are the groups named like a role)
    + data: the host's merged data, pyinfra's precedence already applied
    + source_of: for each data key, the file (or flag) that set it
    + source: the inventory file that lists the host
    """

    name: str
    groups: tuple[str, ...]
    data: Mapping[str, Any]
    source_of: Mapping[str, str] = field(default_factory=dict)
    source: str = ""


@dataclass(frozen=True)
class HostPlan:
    """Everything fks-infra will make true on one host."""

    name: str
    roles: tuple[Role, ...]
    services: tuple[Service, ...]
    settings: HostSettings
    #: where other inventory hosts reach this one
    address: str
    #: where its services listen
    bind_address: str
    secrets: Mapping[str, SecretStr] = field(default_factory=dict, repr=False)
    #: the user pyinfra logs in as (``ssh_user``, else the local user name, as paramiko does)
    login_user: str = "root"
    #: for each data key, the file (or flag) that set it: for messages naming the file
    sources: Mapping[str, str] = field(default_factory=dict, repr=False)

    def runs(self, service_name: str) -> bool:
        return any(service.name == service_name for service in self.services)


@dataclass(frozen=True)
class InventoryPlan:
    """The plans of every host of one inventory, in inventory order."""

    catalogue: Catalogue
    hosts: tuple[HostPlan, ...]

    def host(self, name: str) -> HostPlan:
        for plan in self.hosts:
            if plan.name == name:
                return plan
        raise KeyError(name)

    def hosts_running(self, service_name: str) -> tuple[HostPlan, ...]:
        return tuple(plan for plan in self.hosts if plan.runs(service_name))

    @property
    def datastore(self) -> HostPlan:
        """The one host running PostgreSQL and Redis (validated to exist once)."""
        return next(plan for plan in self.hosts if Role.DATASTORE in plan.roles)


def plan_inventory(
    specs: Sequence[HostSpec],
    secrets: SecretLookup,
    catalogue: Catalogue = CATALOGUE,
    resolve: Resolver = resolve_host,
) -> InventoryPlan:
    """Validate an inventory and place every service.

    + resolve: how a host named by DNS name (``ssh_hostname``) gets its address

    Raises ``ProblemsError`` listing every problem of every host: host names that are no DNS
    name or IP address, unsafe connection data (``ssh_*``), unknown settings or roles,
    port clashes after overrides, services placed on no host or twice where they must be
    unique, missing secrets, names that do not resolve to one address, hosts sharing one.
    """
    problems: list[Problem] = []
    if not specs:
        problems.append(Problem("the inventory has no hosts"))
    datastore, datastore_problem = _datastore_host(specs)
    plans: list[HostPlan] = []
    for spec in specs:
        plan, host_problems = _plan_host(spec, catalogue, secrets, resolve, spec.name == datastore)
        problems += [problem.located(host=_host_label(spec.name)) for problem in host_problems]
        if plan is not None:
            plans.append(plan)
    if not problems and datastore_problem:
        problems.append(datastore_problem)
    if not problems:
        problems += _shared_address_problems(plans)
        problems += _inventory_problems(plans, catalogue)
        problems += _datastore_secret_problems(plans)
    if problems:
        raise ProblemsError(problems)
    return InventoryPlan(catalogue=catalogue, hosts=tuple(plans))


def _datastore_host(specs: Sequence[HostSpec]) -> tuple[str | None, Problem | None]:
    """The host of PostgreSQL and Redis: the one in group datastore, else the one core host
    (else the only host of a one-host inventory)."""
    chosen = [spec.name for spec in specs if Role.DATASTORE.value in spec.groups]
    if len(chosen) > 1:
        return None, Problem(
            f"the datastore group has {len(chosen)} hosts ({', '.join(chosen)}); "
            "PostgreSQL and Redis run on exactly one"
        )
    if chosen:
        return chosen[0], None
    core = [spec.name for spec in specs if Role.CORE.value in spec.groups]
    if len(core) == 1:
        return core[0], None
    if len(specs) == 1 and any(role.value in specs[0].groups for role in Role):
        return specs[0].name, None  # a one-host inventory (a host in no role gets nothing)
    if not specs:
        return None, None
    found = f"core hosts {', '.join(core)}" if core else "no core host"
    return None, Problem(
        f"no host runs PostgreSQL and Redis: no host is in the datastore group and there are "
        f"{found}; put exactly one host in group datastore"
    )


def _plan_host(
    spec: HostSpec,
    catalogue: Catalogue,
    secrets: SecretLookup,
    resolve: Resolver,
    datastore: bool = False,
) -> tuple[HostPlan | None, list[Problem]]:
    problems = _name_problems(spec)
    _, connection_problems = parse_connection(spec.data, spec.source_of)
    problems += connection_problems
    settings, settings_problems = parse_settings(spec.data, spec.source_of)
    problems += settings_problems
    roles = tuple(
        role for role in Role if role.value in spec.groups or (role is Role.DATASTORE and datastore)
    )
    if not roles:
        problems.append(_no_role_problem(spec))
    if settings is None or problems:
        return None, problems

    def source(key: str) -> str:
        return spec.source_of.get(key, "")

    try:
        host_catalogue = catalogue.with_ports(
            settings.fks_port_overrides, source("fks_port_overrides")
        )
    except ProblemsError as error:
        return None, [*problems, *(p.located(key="fks_port_overrides") for p in error.problems)]

    for key in (
        "fks_services_extra",
        "fks_services_skip",
        "fks_write_execute_services",
        "fks_firewall_open_services",
    ):
        for name in getattr(settings, key):
            if name not in catalogue:
                problems.append(Problem(_unknown_service(name, catalogue), source(key), key=key))
    problems += tls_problems(settings, spec.source_of)
    problems += sshd_problems(settings, login_user(spec), spec.source_of)
    if problems:
        return None, problems

    wanted = {s.name for s in host_catalogue if s.role in roles}
    wanted |= set(settings.fks_services_extra)
    wanted -= set(settings.fks_services_skip)
    services = tuple(s for s in host_catalogue if s.name in wanted)
    if not services and Role.DATASTORE not in roles:
        problems.append(
            Problem(
                f"places no service: roles {', '.join(roles)} minus fks_services_skip "
                "leave nothing to run",
                source("fks_services_skip"),
            )
        )

    problems += _tailscale_name_problems(spec, settings)
    problems += gpu_problems(settings, services, catalogue, spec.source_of)
    problems += endpoint_problems(settings, services, host_catalogue, spec.source_of)

    address, address_problem = _address(spec, settings, resolve)
    if address_problem:
        problems.append(Problem(address_problem, source("ssh_hostname"), key="fks_private_address"))
    for name, release_source in _release_sources(settings, services).items():
        problem = release_source_problem(release_source)
        if problem:
            key = (
                "fks_release_sources"
                if name in settings.fks_release_sources
                else ("fks_release_source")
            )
            problems.append(Problem(f"{name}: {problem}", source(key), key=key))

    keyring = settings.fks_tailscale_keyring_file
    if settings.fks_tailscale_enabled and keyring is not None and not Path(keyring).is_file():
        problems.append(
            Problem(
                f"no such keyring file {keyring!r} on this machine",
                source("fks_tailscale_keyring_file"),
                key="fks_tailscale_keyring_file",
            )
        )

    host_secrets: dict[str, SecretStr] = {}
    for name, users in _secrets_needed(services, settings, roles).items():
        value, lookup_problems = secrets(name, settings)
        problems += lookup_problems
        if value is None:
            problems.append(
                MissingSecret(
                    f"missing secret {name} (needed by {', '.join(users)}): set "
                    f"FKS_SECRET_{name} or add it to {settings.fks_secrets_file}",
                    source("fks_secrets_file"),
                )
            )
        else:
            host_secrets[name] = value
    # A secrets file problem is reported once per host, not once per secret.
    problems = list(dict.fromkeys(problems))
    if problems or address is None:
        return None, problems
    bind = str(settings.fks_bind_address) if settings.fks_bind_address else address
    plan = HostPlan(
        spec.name,
        roles,
        services,
        settings,
        address,
        bind,
        host_secrets,
        login_user(spec),
        sources=spec.source_of,
    )
    return plan, []


def _host_label(name: str) -> str:
    """A host's name as problems name it: as is, or escaped and cut when it is no host name
    (a line break in it must not forge a line of the report)."""
    return name if name == LOCAL or host_problem(name) is None else shown(name)


def _name_problems(spec: HostSpec) -> list[Problem]:
    """The inventory name reaches nftables comments, Prometheus labels, the ssh_config of
    ``verify`` and ``status`` and, with no ``ssh_hostname``, the connection: it must be a
    DNS name or an IP address (or pyinfra's ``@local``)."""
    if spec.name == LOCAL:
        return []
    problem = text_problem(spec.name) or host_problem(spec.name)
    if problem is None:
        return []
    return [
        Problem(
            f"the inventory name {problem}: name hosts by DNS name or IP address",
            spec.source,
            key="name",
        )
    ]


def _tailscale_name_problems(spec: HostSpec, settings: HostSettings) -> list[Problem]:
    """Tailscale's machine name is one DNS label: the first label of the inventory name
    (``fks_infra.tailscale.node``) unless set; an IP address has none to give."""
    if not settings.fks_tailscale_enabled or settings.fks_tailscale_hostname is not None:
        return []
    try:
        parse_ip(spec.name)
    except ValueError:
        return []
    return [
        Problem(
            "the host is named by an IP address, which gives no Tailscale machine name: "
            "set fks_tailscale_hostname (a DNS label)",
            spec.source_of.get("fks_tailscale_hostname") or spec.source,
            key="fks_tailscale_hostname",
        )
    ]


def login_user(spec: HostSpec) -> str:
    """The user pyinfra logs into ``spec``'s host as: ``ssh_user``, else the local user name
    (paramiko's default when no user is given)."""
    return str(spec.data.get("ssh_user") or getpass.getuser())


def _address(
    spec: HostSpec, settings: HostSettings, resolve: Resolver
) -> tuple[str | None, str | None]:
    """The host's private address: fks_private_address, else its ssh_hostname (or name) as
    an IP address, else what that name resolves to on this machine when that is exactly
    one address. Returns (address, None) or (None, why not)."""
    if settings.fks_private_address is not None:
        return str(settings.fks_private_address), None
    if spec.name == LOCAL:
        return "127.0.0.1", None
    candidate = str(spec.data.get("ssh_hostname") or spec.name)
    try:
        return str(parse_ip(candidate)), None
    except ValueError:
        pass
    try:
        found = resolve(candidate)
    except OSError as error:
        reason = getattr(error, "strerror", None) or str(error)
        return None, (
            f"cannot tell the address other hosts reach this host at: {candidate!r} does not "
            f"resolve on this machine ({reason}); set fks_private_address"
        )
    if len(found) != 1:
        return None, (
            f"{candidate!r} resolves to {len(found)} addresses ({', '.join(found) or 'none'}): "
            "set fks_private_address to the one other hosts reach this host at"
        )
    try:
        return str(parse_ip(found[0])), None
    except ValueError as error:
        return None, f"{candidate!r} resolves to {found[0]!r}, which {error}"


def _shared_address_problems(plans: Sequence[HostPlan]) -> list[Problem]:
    """Hosts that other hosts would reach at one address (NAT, port forwards: the same
    ssh_hostname with different ssh_port): each must say its own fks_private_address, or
    every rule for one of them would admit the other."""
    by_address: dict[str, list[HostPlan]] = {}
    for plan in plans:
        by_address.setdefault(plan.address, []).append(plan)
    problems = []
    for address, sharing in by_address.items():
        if len(sharing) < 2:
            continue
        names = [plan.name for plan in sharing]
        for plan in sharing:
            others = " and ".join(name for name in names if name != plan.name)
            problems.append(
                Problem(
                    f"has the address {address}, as {others} do{'es' if len(names) == 2 else ''}"
                    ": set fks_private_address on each to the address other hosts reach it at",
                    plan.sources.get("fks_private_address") or plan.sources.get("ssh_hostname", ""),
                    host=plan.name,
                    key="fks_private_address",
                )
            )
    return problems


def _release_sources(settings: HostSettings, services: Iterable[Service]) -> dict[str, str]:
    return {
        s.name: settings.fks_release_sources.get(s.name, settings.fks_release_source)
        for s in services
    }


def release_source_problem(source: str) -> str | None:
    """What is wrong with a release source setting, if anything (checked on this machine)."""
    try:
        parse_release_source(source)
    except ReleaseError as error:
        return str(error)
    return None


def _inventory_problems(plans: Iterable[HostPlan], catalogue: Catalogue) -> list[Problem]:
    plans = tuple(plans)
    problems: list[Problem] = []
    for service in catalogue:
        hosts = [plan.name for plan in plans if plan.runs(service.name)]
        if not hosts:
            problems.append(
                Problem(
                    f"service {service.name} is placed on no host (it goes to hosts in the "
                    f"{service.role} group, or add it with fks_services_extra)"
                )
            )
        elif service.unique and len(hosts) > 1:
            problems.append(
                Problem(
                    f"service {service.name} must run on one host only but is placed on "
                    f"{' and '.join(hosts)}"
                )
            )
    return problems


def _datastore_secret_problems(plans: Sequence[HostPlan]) -> list[Problem]:
    """Hosts whose datastore password differs from the datastore host's (values never shown)."""
    store = next((plan for plan in plans if Role.DATASTORE in plan.roles), None)
    if store is None:
        return []
    problems = []
    for name in (POSTGRES_PASSWORD, REDIS_PASSWORD):
        wanted = store.secrets.get(name)
        for plan in plans:
            value = plan.secrets.get(name)
            if wanted is not None and value is not None and value != wanted:
                problems.append(
                    Problem(
                        f"secret {name} differs from the one of the datastore host {store.name} "
                        f"(from {plan.settings.fks_secrets_file}): its services could not log in",
                    ).located(host=plan.name)
                )
    return problems


def _secrets_needed(
    services: Iterable[Service], settings: HostSettings, roles: Iterable[Role] = ()
) -> dict[str, list[str]]:
    """Which secrets a host needs, and who needs each: its services, its datastores, Tailscale."""
    needed: dict[str, list[str]] = {}
    for service in services:
        for name in service.secrets:
            needed.setdefault(name, []).append(service.name)
        if service.needs_postgres:
            needed.setdefault(POSTGRES_PASSWORD, []).append(service.name)
        if service.needs_redis:
            needed.setdefault(REDIS_PASSWORD, []).append(service.name)
    if Role.DATASTORE in roles:
        needed.setdefault(POSTGRES_PASSWORD, []).append("postgresql (datastore)")
        needed.setdefault(REDIS_PASSWORD, []).append("redis (datastore)")
    if settings.fks_tailscale_enabled:
        needed.setdefault(TAILSCALE_AUTHKEY, []).append("tailscale (fks_tailscale_enabled)")
    if settings.fks_windows_winrm_host is not None:
        needed.setdefault(WINRM_PASSWORD, []).append("the WinRM check (fks_windows_winrm_host)")
    if settings.fks_alertmanager_webhook_enabled and any(s.name == "monitor" for s in services):
        needed.setdefault(ALERTMANAGER_WEBHOOK_URL, []).append("alertmanager (monitor)")
    return needed


def _no_role_problem(spec: HostSpec) -> Problem:
    groups = ", ".join(spec.groups) or "none"
    hints = sorted(
        {
            match
            for group in spec.groups
            for match in difflib.get_close_matches(group, ROLE_NAMES, n=1, cutoff=0.6)
        }
    )
    hint = f"; did you mean {' or '.join(hints)}?" if hints else ""
    return Problem(
        f"host is in no role group (its groups: {groups}); roles are {', '.join(ROLE_NAMES)}{hint}"
    )


def _unknown_service(name: str, catalogue: Catalogue) -> str:
    hints = difflib.get_close_matches(name, catalogue.names, n=1)
    hint = f"; did you mean {hints[0]}?" if hints else ""
    return f"unknown service {name!r}{hint}"
