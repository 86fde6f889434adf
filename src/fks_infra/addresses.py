"""Hosts and addresses: what may be one, and how one is written into URLs and ``host:port``.

One place for the bracket rule (RFC 3986 section 3.2.2), so a URL to an IPv6 host is right
everywhere or nowhere; and one place for what a host is (``host_problem``: an IP address
without a scope, or an RFC 1123 DNS name), so a value that reaches an nftables rule, a
systemd unit, a Prometheus label or an ssh_config is refused before it gets there. No
pyinfra import.
"""

from __future__ import annotations

import ipaddress
import re
from ipaddress import IPv4Address, IPv6Address


def url_host(address: str) -> str:
    """The host part of a URL for ``address``: ``[fd00::30]`` for IPv6, else ``address``.

    + address: an IPv4 or IPv6 address, or a host name (a name never holds ``:``)

    Example: ``f"http://{url_host(plan.bind_address)}:{port}/health"``.
    """
    return f"[{address}]" if ":" in address else address


def socket_address(address: str, port: int) -> str:
    """``host:port`` as nginx, Prometheus and ``ss`` write it: ``10.0.0.1:8000``,
    ``[fd00::30]:8000``."""
    return f"{url_host(address)}:{port}"


#: RFC 1123 section 2.1: a label is letters, digits and hyphens, 1-63 long, no hyphen at
#: either end; a name is labels joined by dots, at most 253 characters (RFC 1035 2.3.4).
_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
MAX_NAME = 253
SCOPED = (
    "is a scoped IPv6 address (with %zone), which only means something on one machine: "
    "give a global or unique-local address"
)


def ip_address(text: str) -> IPv4Address | IPv6Address:
    """``text`` as an IP address, refusing a scoped IPv6 address (``fe80::1%eth0``).

    A scope (zone) is local to one machine's interfaces, and its ``%`` is a specifier in
    systemd units and an escape in URLs: no config fks-infra writes can carry it.

    Raises ``ValueError`` (no address, or a scoped one).
    """
    address = ipaddress.ip_address(text)
    if isinstance(address, IPv6Address) and address.scope_id is not None:
        raise ValueError(SCOPED)
    return address


def host_problem(text: str) -> str | None:
    """What keeps ``text`` from being a host other programs can be given, or None.

    A host is an IP address (IPv4, or IPv6 without a scope) or a DNS name of RFC 1123 labels
    (a trailing dot allowed): nothing that a config line, a shell word or a URL would read
    as syntax. The value itself is never part of the answer.
    """
    if not text:
        return "is empty"
    if ":" in text or text.replace(".", "").isdigit():
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return "is not an IP address"
        if isinstance(address, IPv6Address) and address.scope_id is not None:
            return SCOPED
        return None
    name = text[:-1] if text.endswith(".") else text
    if len(name) > MAX_NAME:
        return f"is {len(name)} characters long; a DNS name has at most {MAX_NAME}"
    if not all(_LABEL.fullmatch(label) for label in name.split(".")):
        return (
            "is neither an IP address nor a DNS name (labels of letters, digits and inner "
            "hyphens, at most 63 each, joined by dots)"
        )
    return None


def first_label(name: str) -> str:
    """The first label of a DNS name, lower case: ``core-1`` of ``Core-1.example.com``."""
    return name.split(".", 1)[0].lower()
