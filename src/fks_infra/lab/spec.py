"""What a lab is made of: the hosts spec (``name:role[+role...]``) and the release.

Parsing is strict because a lab host name becomes a hostname, a network
namespace, an interface name and a pyinfra inventory name: a bad name must stop
``lab up`` before anything is created, with a message naming the bad part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fks_infra.catalogue import Role
from fks_infra.lab.errors import LabError

#: Roles a lab host may take: the catalogue's roles, the groups the deploys dispatch on.
KNOWN_ROLES: frozenset[str] = frozenset(role.value for role in Role)

#: The lab ``lab up`` builds when no ``--hosts`` is given: one host per deploy role.
DEFAULT_HOSTS = "core-1:core,gpu-1:gpu,bridge-1:bridge"

DEFAULT_RELEASE = "debian:bookworm"

#: Longest host name: the host-side interface is ``fl-<name>`` and Linux caps
#: interface names at 15 characters.
MAX_NAME_LENGTH = 11

#: Hosts get .10 upwards of the lab's /24.
MAX_HOSTS = 200

_NAME_RE = re.compile(r"^[a-z](?:[a-z0-9-]*[a-z0-9])?$")
_SUITE_RE = re.compile(r"^[a-z][a-z0-9-]*$")
SUPPORTED_DISTROS = frozenset({"debian"})


@dataclass(frozen=True)
class HostSpec:
    """One lab host: its name and the roles (inventory groups) it belongs to."""

    name: str
    roles: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.name}:{'+'.join(self.roles)}"


@dataclass(frozen=True)
class Release:
    """The distribution and suite the base rootfs is bootstrapped from."""

    distro: str
    suite: str

    def __str__(self) -> str:
        return f"{self.distro}:{self.suite}"


def validate_name(name: str) -> str:
    """Return ``name`` if it is a usable lab host name, else raise ``LabError``."""
    if len(name) > MAX_NAME_LENGTH:
        raise LabError(
            f"host name {name!r} is {len(name)} characters long; the lab allows at most "
            f"{MAX_NAME_LENGTH} so its interface name fits Linux's 15-character limit"
        )
    if not _NAME_RE.match(name):
        raise LabError(
            f"host name {name!r} is invalid: use lowercase letters, digits and dashes, "
            "starting with a letter and not ending with a dash"
        )
    return name


def _parse_host(item: str) -> HostSpec:
    name, sep, roles_text = item.partition(":")
    name = name.strip()
    if not sep or not roles_text.strip():
        raise LabError(f"host {item!r} has no roles: write it as name:role[+role...]")
    validate_name(name)
    roles = tuple(role.strip() for role in roles_text.split("+"))
    unknown = [role for role in roles if role not in KNOWN_ROLES]
    if unknown:
        raise LabError(
            f"host {name!r} has unknown role(s) {', '.join(map(repr, unknown))}; "
            f"known roles: {', '.join(sorted(KNOWN_ROLES))}"
        )
    if len(set(roles)) != len(roles):
        raise LabError(f"host {name!r} lists a role twice: {roles_text!r}")
    return HostSpec(name=name, roles=roles)


def parse_hosts(text: str) -> tuple[HostSpec, ...]:
    """Parse ``name:role[+role...]`` items separated by commas, in order.

    + text: for example ``core-1:core,aio-1:core+gpu+bridge``

    The order is kept: it decides each host's address in the lab network.
    """
    items = [item for item in (part.strip() for part in text.split(",")) if item]
    if not items:
        raise LabError("the hosts spec is empty: give at least one name:role")
    hosts = tuple(_parse_host(item) for item in items)
    seen: set[str] = set()
    for host in hosts:
        if host.name in seen:
            raise LabError(f"host name {host.name!r} appears twice in the hosts spec")
        seen.add(host.name)
    if len(hosts) > MAX_HOSTS:
        raise LabError(f"the lab holds at most {MAX_HOSTS} hosts, the spec names {len(hosts)}")
    return hosts


def format_hosts(hosts: tuple[HostSpec, ...]) -> str:
    """The canonical spec text, used to tell whether a running lab matches a request."""
    return ",".join(str(host) for host in hosts)


def parse_release(text: str) -> Release:
    """Parse ``distro:suite`` such as ``debian:bookworm``."""
    distro, sep, suite = text.strip().partition(":")
    if not sep or not _SUITE_RE.match(suite):
        raise LabError(
            f"release {text!r} is invalid: write it as distro:suite, e.g. debian:bookworm"
        )
    if distro not in SUPPORTED_DISTROS:
        raise LabError(
            f"release {text!r}: only {', '.join(sorted(SUPPORTED_DISTROS))} can be bootstrapped "
            "(debootstrap needs the distribution's archive keyring)"
        )
    return Release(distro=distro, suite=suite)
