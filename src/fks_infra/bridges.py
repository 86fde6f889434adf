"""The bridges' Windows side: endpoint settings, their validation, their env variables.

meta (the MetaTrader 5 bridge) calls an HTTP bridge on a Windows desktop (``MT5_BRIDGE_URL``);
ninja (the NinjaTrader 8 bridge) talks TCP to NinjaTrader there (``NINJATRADER_HOST``,
``NINJATRADER_PORT``). None of them has a default: the original code's MT5 default pointed at
ninja's own port, so a missing value must stop the run, not fall back to a guess. No pyinfra
import.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from urllib.parse import quote, urlsplit

from fks_infra.addresses import url_host
from fks_infra.catalogue import Catalogue, Service
from fks_infra.errors import Problem
from fks_infra.settings import HostSettings

#: The secret the optional WinRM check of the Windows host logs in with.
WINRM_PASSWORD = "WINDOWS_WINRM_PASSWORD"


def service_environment(service: Service, settings: HostSettings) -> dict[str, str]:
    """The non-secret variables of a service's env file, from the host's settings.

    Raises ``ValueError`` for a required setting that is unset; ``plan`` reports those as
    problems first, so a validated plan never gets here with one missing.
    """
    values: dict[str, str] = {}
    for variable, key in service.environment:
        value = getattr(settings, key)
        if value is None:
            raise ValueError(f"{key} is not set (needed by {service.name} as {variable})")
        values[variable] = str(value)
    return values


def endpoint_addresses(service: Service, settings: HostSettings) -> tuple[str, ...]:
    """Addresses on the Windows side a bridge's unit must be allowed to reach."""
    addresses = []
    for _, key in service.environment:
        if key == "fks_ninjatrader_host" and settings.fks_ninjatrader_host is not None:
            addresses.append(str(settings.fks_ninjatrader_host))
        elif key == "fks_mt5_bridge_url" and settings.fks_mt5_bridge_url is not None:
            addresses.append(url_endpoint(settings.fks_mt5_bridge_url)[0])
    return tuple(addresses)


def endpoint_problems(
    settings: HostSettings,
    services: Iterable[Service],
    catalogue: Catalogue,
    source_of: Mapping[str, str],
) -> list[Problem]:
    """Every problem of the endpoint settings the host's services need.

    + settings: the host's validated settings
    + services: the services placed on the host
    + catalogue: the host's catalogue (after its port overrides)
    + source_of: where each key was set, for the messages
    """
    services = tuple(services)
    problems: list[Problem] = []
    ports = {service.port: service for service in catalogue}
    for service in services:
        for variable, key in service.environment:
            if getattr(settings, key) is None:
                problems.append(
                    Problem(
                        f"not set, and {service.name} runs here: it becomes {variable} in "
                        f"{service.env_file} (there is no default on purpose)",
                        source_of.get(key, ""),
                        key=key,
                    )
                )
    url = settings.fks_mt5_bridge_url
    if url is not None and any(s.name == "meta" for s in services):
        port = _url_port(url)
        if port is None:
            problems.append(
                Problem(
                    f"{url!r} names no host or no valid port",
                    source_of.get("fks_mt5_bridge_url", ""),
                    key="fks_mt5_bridge_url",
                )
            )
        elif not _is_ip(urlsplit(url).hostname or ""):
            problems.append(
                Problem(
                    f"{url!r}: the host must be an IP address (the unit's IPAddressAllow= "
                    "cannot name a host name)",
                    source_of.get("fks_mt5_bridge_url", ""),
                    key="fks_mt5_bridge_url",
                )
            )
        elif port in ports:
            problems.append(
                Problem(
                    f"{url!r} points at port {port}, which is FKS service "
                    f"{ports[port].name}'s, not the MT5 bridge on the Windows side",
                    source_of.get("fks_mt5_bridge_url", ""),
                    key="fks_mt5_bridge_url",
                )
            )
    port = settings.fks_ninjatrader_port
    if port is not None and port in ports and any(s.name == "ninja" for s in services):
        problems.append(
            Problem(
                f"port {port} is FKS service {ports[port].name}'s, not NinjaTrader's",
                source_of.get("fks_ninjatrader_port", ""),
                key="fks_ninjatrader_port",
            )
        )
    return problems


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _url_port(url: str) -> int | None:
    """The port a URL connects to (its scheme's default when it names none)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return port if port is not None else (443 if parts.scheme == "https" else 80)


def url_endpoint(url: str) -> tuple[str, int]:
    """(host, port) of an HTTP URL, for a TCP check."""
    parts = urlsplit(url)
    port = _url_port(url)
    if parts.hostname is None or port is None:
        raise ValueError(f"{url!r} names no host and port")
    return parts.hostname, port


def winrm_connection(settings: HostSettings) -> str | None:
    """testinfra's host spec for the Windows host, or None when no WinRM host is set.

    ``winrm://USER@HOST:PORT?no_verify_ssl=...``: HTTPS always (``no_ssl`` is never set: the
    password must not cross the network in clear); the user is percent-encoded so ``@`` or
    ``:`` in it cannot change the host. The password is not in it: the spec is shown by
    pytest (``-l``, test ids, JUnit reports), so the check hands the password to the
    backend apart (``checks/test_bridge.winrm_host``).
    """
    host = settings.fks_windows_winrm_host
    if host is None:
        return None
    user = quote(settings.fks_windows_winrm_user, safe="")
    verify = "false" if settings.fks_windows_winrm_verify_tls else "true"
    return (
        f"winrm://{user}@{url_host(host)}:{settings.fks_windows_winrm_port}?no_verify_ssl={verify}"
    )
