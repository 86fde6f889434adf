"""Addresses written into URLs and ``host:port`` pairs: IPv6 in brackets, everything else as is.

One place for the bracket rule (RFC 3986 section 3.2.2), so a URL to an IPv6 host is right
everywhere or nowhere. No pyinfra import.
"""

from __future__ import annotations


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
