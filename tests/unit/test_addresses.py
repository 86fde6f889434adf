"""The one bracket rule for addresses in URLs and host:port pairs, and what a host is."""

from __future__ import annotations

from ipaddress import IPv6Address

import pytest

from fks_infra.addresses import first_label, host_problem, ip_address, socket_address, url_host


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


@pytest.mark.parametrize(
    "host",
    ["10.0.0.1", "fd00::30", "::1", "db.example", "core-1", "Core-1.Example.COM", "a.b.", "x" * 63],
)
def test_ip_addresses_and_dns_names_are_hosts(host: str) -> None:
    assert host_problem(host) is None


@pytest.mark.parametrize(
    ("host", "why"),
    [
        ("", "is empty"),
        ("fe80::1%eth0", "scoped IPv6 address"),
        ("10.0.0", "is not an IP address"),
        ("10.0.0.256", "is not an IP address"),
        ("fd00::30::1", "is not an IP address"),
        ("core_1", "neither an IP address nor a DNS name"),
        ("-core", "neither an IP address nor a DNS name"),
        ("core-", "neither an IP address nor a DNS name"),
        ("a..b", "neither an IP address nor a DNS name"),
        ("x" * 64, "neither an IP address nor a DNS name"),
        ("core-1\nadd rule", "neither an IP address nor a DNS name"),
        ("core-1 #", "neither an IP address nor a DNS name"),
        ("h%h", "neither an IP address nor a DNS name"),
        (".".join(["abc"] * 64), "at most 253"),
    ],
)
def test_other_text_is_no_host_and_the_reason_never_repeats_it(host: str, why: str) -> None:
    problem = host_problem(host)
    assert problem is not None and why in problem
    assert not host or host not in problem


def test_a_scoped_address_is_no_address() -> None:
    assert ip_address("fd00::30") == IPv6Address("fd00::30")
    with pytest.raises(ValueError, match="scoped IPv6 address"):
        ip_address("fe80::1%eth0")


def test_the_first_label_is_lower_case() -> None:
    assert first_label("Core-1.Example.com") == "core-1"
    assert first_label("core-1") == "core-1"
