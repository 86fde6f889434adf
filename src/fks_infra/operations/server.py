"""The host itself: system accounts, directories, the pre-flight check."""

from __future__ import annotations

import shlex
import time
from collections.abc import Generator
from ipaddress import ip_address
from typing import Any, NamedTuple

from pyinfra.context import host

from fks_infra.addresses import url_host
from fks_infra.operations.commands import argv
from fks_infra.operations.factcache import fact, host_operation
from fks_infra.operations.facts import DirectoryModes, Listeners, Preflight


@host_operation
def directories(layout: tuple[tuple[str, str, str], ...]) -> Generator[object, None, None]:
    """Make directories exist with their mode and owner, read in one fact.

    + layout: (path, mode, owner) for each directory; the group is the owner's
    """
    current = fact(DirectoryModes, paths=tuple(path for path, _, _ in layout))
    for path, mode, owner in layout:
        if current.get(path) != (mode, owner):
            yield argv("install", "-d", "-m", mode, "-o", owner, path)


class PlacedPort(NamedTuple):
    """A port a service placed on the host will listen on (``catalogue.Service``, the plan)."""

    service: str
    #: its unit (``fks-<name>.service``) and user (``fks-<name>``): a process of either is
    #: the service itself, as on a redeploy
    unit: str
    user: str
    #: the address it binds (the host's bind address) and its port
    address: str
    port: int


@host_operation
def preflight(
    min_free_mib: int, max_clock_skew_s: int, ports: tuple[PlacedPort, ...] = ()
) -> Generator[object, None, None]:
    """Stop this host before any change when its disk is almost full, its clock is off, or
    a port of a service placed here is held by another process.

    + min_free_mib: free space / must have
    + max_clock_skew_s: largest difference allowed between the host's and this machine's clock
    + ports: the placed services' ports (``PlacedPort``); a process listening where one will
      bind (same address, or a wildcard) that is not in the service's unit nor runs as its
      user is named, pid and command, with host, port and service (``Listeners`` fact)

    A healthy host yields nothing. A failing one yields a command that prints the reason and
    fails, so pyinfra stops the host here and names it in the summary.
    """
    found = fact(Preflight)
    problems = []
    if found["free_mib"] < min_free_mib:
        problems.append(f"only {found['free_mib']} MiB free on / (need {min_free_mib})")
    skew = abs(found["clock"] - int(time.time()))
    if skew > max_clock_skew_s:
        problems.append(f"clock is {skew} s off this machine's (at most {max_clock_skew_s})")
    if ports:
        problems.extend(ports_held(ports, fact(Listeners)))
    if problems:
        message = "pre-flight check failed: " + "; ".join(problems)
        yield f"echo {shlex.quote(message)} >&2; exit 1"


def ports_held(ports: tuple[PlacedPort, ...], listeners: list[dict[str, Any]]) -> list[str]:
    """One problem per placed port and foreign process listening where it will bind, e.g.
    ``port 10.0.0.2:8000 of service app on core-1 is held by pid 812 (python3 -m http.server
    8000), not by fks-app.service``; ``listeners`` as the ``Listeners`` fact gives them."""
    problems = []
    for placed in ports:
        holders = {
            (listener["pid"], listener["command"])
            for listener in listeners
            if listener["port"] == placed.port
            and may_clash(listener["address"], placed.address)
            and listener["user"] != placed.user
            and placed.unit not in listener["cgroup"].split("/")
        }
        for pid, command in sorted(holders):
            who = f"pid {pid} ({command})" if pid else "a process this login cannot see"
            problems.append(
                f"port {url_host(placed.address)}:{placed.port} of service {placed.service} "
                f"on {host.name} is held by {who}, not by {placed.unit}"
            )
    return problems


def may_clash(listening: str, planned: str) -> bool:
    """Whether a socket listening on ``listening`` keeps a service from binding ``planned``
    (both as ``ss`` prints them, unbracketed): the same address or a wildcard (``0.0.0.0``
    for IPv4, ``::`` or ``*`` for both). An address that does not parse: assumed to clash."""
    try:
        held, wanted = ip_address(listening), ip_address(planned)
    except ValueError:
        return True
    held = getattr(held, "ipv4_mapped", None) or held
    if held.is_unspecified or wanted.is_unspecified:
        unspecified = held if held.is_unspecified else wanted
        return unspecified.version == 6 or held.version == wanted.version
    return held == wanted
