"""The one bracket rule for addresses in URLs and host:port pairs."""

from __future__ import annotations

import pytest

from fks_infra.addresses import socket_address, url_host


@pytest.mark.parametrize(
    ("address", "host", "pair"),
    [
        ("10.0.0.1", "10.0.0.1", "10.0.0.1:8000"),
        ("fd00::30", "[fd00::30]", "[fd00::30]:8000"),
        ("::1", "[::1]", "[::1]:8000"),
        ("db.example", "db.example", "db.example:8000"),
    ],
)
def test_ipv6_is_bracketed_and_nothing_else(address: str, host: str, pair: str) -> None:
    assert url_host(address) == host
    assert socket_address(address, 8000) == pair
