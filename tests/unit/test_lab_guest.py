"""Per-host guest files: DNS, apt sources, /etc/hosts and mount-table parsing."""

from __future__ import annotations

from ipaddress import IPv4Address

from fks_infra.lab.guest import GuestIdentity, apt_sources, hosts_file, usable_nameservers
from fks_infra.lab.mirror import Mirrors
from fks_infra.lab.mounts import mount_points


def test_loopback_resolvers_are_dropped() -> None:
    conf = (
        "nameserver 127.0.0.53\nnameserver 10.255.255.53\nnameserver ::1\nnameserver fe80::1%eth0\n"
    )
    assert usable_nameservers(conf) == ["10.255.255.53", "fe80::1%eth0"]


def test_apt_sources_cover_updates_and_security_like_a_cloud_image() -> None:
    text = apt_sources(Mirrors("http://m.example/debian", "http://m.example/sec"), "bookworm")
    assert "Suites: bookworm bookworm-updates\n" in text
    assert "URIs: http://m.example/sec\nSuites: bookworm-security\n" in text
    assert "security" not in apt_sources(Mirrors("http://m.example/debian", None), "bookworm")


def test_hosts_file_names_every_lab_host() -> None:
    peers = (("core-1", IPv4Address("10.213.0.10")), ("gpu-1", IPv4Address("10.213.0.11")))
    text = hosts_file(
        GuestIdentity("core-1", IPv4Address("10.213.0.10"), peers, "ssh-ed25519 K", {})
    )
    assert "10.213.0.10\tcore-1\n" in text and "10.213.0.11\tgpu-1\n" in text
    assert text.startswith("127.0.0.1\tlocalhost\n")


def test_mountinfo_paths_are_unescaped() -> None:
    line = "90 29 0:52 / /srv/lab\\040dir/root rw,relatime - overlay fkslab rw,lowerdir=/x\n"
    assert [str(p) for p in mount_points(line)] == ["/srv/lab dir/root"]
