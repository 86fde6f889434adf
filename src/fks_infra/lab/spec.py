"""What a lab is made of: the hosts spec and releases.

A host is ``name:role[+role...][@distro:suite[+option...]]``. Parsing is strict because a
lab host name becomes a hostname, a network namespace, an interface name and a pyinfra
inventory name: a bad name must stop ``lab up`` before anything is created, with a message
naming the bad part. Each host boots one release (its own ``@distro:suite``, else the lab's
default), so one lab can hold Debian 12 and Debian 13 side by side. Options after the release
change the host's own defaults the way fleets configure theirs (``HOST_OPTIONS``):
``core-1:core@debian:trixie+cis`` is a Debian 13 host set up per the CIS benchmark's
file-creation and temporary-directory items.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from fks_infra.catalogue import Role
from fks_infra.lab.errors import LabError

#: Roles a lab host may take: the catalogue's roles, the groups the deploys dispatch on.
KNOWN_ROLES: frozenset[str] = frozenset(role.value for role in Role)

#: The release of every host whose spec names none (``lab up --release`` changes it).
DEFAULT_RELEASE = "debian:bookworm"

#: One host per deploy role, each on the default release.
SINGLE_RELEASE_HOSTS = "core-1:core,gpu-1:gpu,bridge-1:bridge"

#: What a host option changes of a host's defaults (applied to its own tree, ``lab/cis.py``).
HOST_OPTIONS: Mapping[str, str] = {
    "cis": "the CIS Debian benchmark's file-creation and temporary-directory items: umask 027 "
    "for logins (login.defs, pam_umask, profile.d) and sudo, /tmp, /var/tmp and /dev/shm "
    "mounted nodev,nosuid,noexec",
}

#: Every deploy role on Debian 13 and Debian 12: the datastore host (core-1, PostgreSQL 17,
#: nginx 1.26) on trixie, a GPU node of each release (the 535 and the 550 driver), the bridge
#: on bookworm. Releases are named for every host, so ``--release`` does not change this lab.
#: core-1 is CIS-hardened (``HOST_OPTIONS``): the rollback and fault tests run there, so every
#: run proves a hardened host deploys, verifies and rolls back like a default one.
MIXED_HOSTS = (
    "core-1:core@debian:trixie+cis,gpu-1:gpu@debian:bookworm,gpu-2:gpu@debian:trixie,"
    "bridge-1:bridge@debian:bookworm"
)

#: The lab ``lab up`` and the lab tests build when no hosts are given: both releases, so the
#: whole suite proves both.
DEFAULT_HOSTS = MIXED_HOSTS

#: Overrides ``DEFAULT_HOSTS`` for ``lab up`` and the lab tests' session lab.
HOSTS_ENV = "FKS_LAB_HOSTS"

#: Longest host name: the host-side interface is ``fl-<name>`` and Linux caps
#: interface names at 15 characters.
MAX_NAME_LENGTH = 11

#: Hosts get .10 upwards of the lab's /24.
MAX_HOSTS = 200

_NAME_RE = re.compile(r"^[a-z](?:[a-z0-9-]*[a-z0-9])?$")
_SUITE_RE = re.compile(r"^[a-z][a-z0-9-]*$")
SUPPORTED_DISTROS = frozenset({"debian"})


@dataclass(frozen=True)
class Release:
    """The distribution and suite a base rootfs is bootstrapped from."""

    distro: str
    suite: str

    def __str__(self) -> str:
        return f"{self.distro}:{self.suite}"


@dataclass(frozen=True)
class HostSpec:
    """One lab host: its name, the roles (inventory groups) it belongs to, its release, and
    the ``HOST_OPTIONS`` it is built with (in spec order)."""

    name: str
    roles: tuple[str, ...]
    release: Release
    options: tuple[str, ...] = ()

    def __str__(self) -> str:
        options = "".join(f"+{option}" for option in self.options)
        return f"{self.name}:{'+'.join(self.roles)}@{self.release}{options}"


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


def _parse_host(item: str, default_release: Release) -> HostSpec:
    host_text, at, release_text = item.partition("@")
    name, sep, roles_text = host_text.partition(":")
    name = name.strip()
    if not sep or not roles_text.strip():
        raise LabError(
            f"host {item!r} has no roles: write it as name:role[+role...][@distro:suite]"
        )
    validate_name(name)
    release = default_release
    options: tuple[str, ...] = ()
    if at:
        if "@" in release_text:
            raise LabError(f"host {name!r} names more than one release: {item!r}")
        release_text, *option_texts = release_text.split("+")
        if not release_text.strip():
            raise LabError(
                f"host {name!r} has nothing after '@': write name:role@distro:suite, "
                "e.g. core-1:core@debian:trixie (options follow it: @debian:trixie+cis)"
            )
        try:
            release = parse_release(release_text)
        except LabError as exc:
            raise LabError(f"host {name!r}: {exc}") from exc
        options = _parse_options(name, option_texts)
    roles = tuple(role.strip() for role in roles_text.split("+"))
    unknown = [role for role in roles if role not in KNOWN_ROLES]
    if unknown:
        options_among = [role for role in unknown if role in HOST_OPTIONS]
        hint = (
            f"; {options_among[0]!r} is a host option, written after the release: "
            f"{name}:{'+'.join(r for r in roles if r not in options_among)}@{release}"
            f"+{'+'.join(options_among)}"
            if options_among
            else ""
        )
        raise LabError(
            f"host {name!r} has unknown role(s) {', '.join(map(repr, unknown))}; "
            f"known roles: {', '.join(sorted(KNOWN_ROLES))}{hint}"
        )
    if len(set(roles)) != len(roles):
        raise LabError(f"host {name!r} lists a role twice: {roles_text!r}")
    return HostSpec(name=name, roles=roles, release=release, options=options)


def _parse_options(name: str, texts: list[str]) -> tuple[str, ...]:
    """The host options of ``name`` (the ``+option`` parts after its release), checked."""
    options = tuple(text.strip() for text in texts)
    unknown = [option for option in options if option not in HOST_OPTIONS]
    if unknown:
        raise LabError(
            f"host {name!r} has unknown option(s) {', '.join(map(repr, unknown))}; "
            f"known options: {', '.join(sorted(HOST_OPTIONS))}"
        )
    if len(set(options)) != len(options):
        raise LabError(f"host {name!r} names an option twice: {'+'.join(options)!r}")
    return options


def parse_hosts(text: str, default_release: str = DEFAULT_RELEASE) -> tuple[HostSpec, ...]:
    """Parse ``name:role[+role...][@distro:suite[+option...]]`` items separated by commas.

    + text: for example ``core-1:core@debian:trixie+cis,aio-1:core+gpu+bridge``
    + default_release: ``distro:suite`` of every host that names none

    The order is kept: it decides each host's address in the lab network.
    """
    fallback = parse_release(default_release)
    items = [item for item in (part.strip() for part in text.split(",")) if item]
    if not items:
        raise LabError("the hosts spec is empty: give at least one name:role")
    hosts = tuple(_parse_host(item, fallback) for item in items)
    seen: set[str] = set()
    for host in hosts:
        if host.name in seen:
            raise LabError(f"host name {host.name!r} appears twice in the hosts spec")
        seen.add(host.name)
    if len(hosts) > MAX_HOSTS:
        raise LabError(f"the lab holds at most {MAX_HOSTS} hosts, the spec names {len(hosts)}")
    return hosts


def format_hosts(hosts: tuple[HostSpec, ...]) -> str:
    """The canonical spec text, every host with its release and options: it tells whether a
    running lab matches a request (``core-1:core`` with ``--release debian:trixie`` is the same
    lab as ``core-1:core@debian:trixie``)."""
    return ",".join(str(host) for host in hosts)


def releases_of(hosts: tuple[HostSpec, ...]) -> tuple[Release, ...]:
    """The distinct releases of ``hosts``, in the order they first appear."""
    return tuple(dict.fromkeys(host.release for host in hosts))


def default_hosts() -> str:
    """The hosts spec of a lab nobody asked otherwise of: ``$FKS_LAB_HOSTS`` or
    ``DEFAULT_HOSTS``."""
    return os.environ.get(HOSTS_ENV) or DEFAULT_HOSTS


def parse_release(text: str) -> Release:
    """Parse ``distro:suite`` such as ``debian:bookworm``."""
    distro, sep, suite = text.strip().partition(":")
    if not sep or not _SUITE_RE.match(suite):
        raise LabError(f"release {text!r} is invalid: write it as distro:suite, e.g. debian:trixie")
    if distro not in SUPPORTED_DISTROS:
        raise LabError(
            f"release {text!r}: only {', '.join(sorted(SUPPORTED_DISTROS))} can be bootstrapped "
            "(debootstrap needs the distribution's archive keyring)"
        )
    return Release(distro=distro, suite=suite)
