"""Hosts specs and releases: what ``lab up --hosts/--release`` accepts and how it refuses."""

from __future__ import annotations

import pytest

from fks_infra.lab.errors import LabError
from fks_infra.lab.spec import (
    DEFAULT_HOSTS,
    HostSpec,
    Release,
    format_hosts,
    parse_hosts,
    parse_release,
)


def test_default_spec_is_one_host_per_deploy_role() -> None:
    assert parse_hosts(DEFAULT_HOSTS) == (
        HostSpec("core-1", ("core",)),
        HostSpec("gpu-1", ("gpu",)),
        HostSpec("bridge-1", ("bridge",)),
    )


def test_several_roles_keep_their_order_and_spaces_are_ignored() -> None:
    hosts = parse_hosts(" all-1:core+gpu+bridge , db-1:core ,")
    assert hosts == (HostSpec("all-1", ("core", "gpu", "bridge")), HostSpec("db-1", ("core",)))
    assert format_hosts(hosts) == "all-1:core+gpu+bridge,db-1:core"


def test_eleven_character_name_is_the_longest_allowed() -> None:
    assert parse_hosts("abcdefghijk:core")[0].name == "abcdefghijk"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty"),
        ("core-1", "has no roles"),
        ("core-1:", "has no roles"),
        ("core-1:web", "unknown role(s) 'web'"),
        ("core-1:core+core", "lists a role twice"),
        ("abcdefghijkl:core", "at most 11"),
        ("Core-1:core", "invalid"),
        ("1core:core", "invalid"),
        ("core-:core", "invalid"),
        ("core_1:core", "invalid"),
        ("a:core,a:gpu", "appears twice"),
    ],
)
def test_bad_specs_are_refused_with_the_reason(spec: str, message: str) -> None:
    with pytest.raises(LabError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_hosts(spec)


def test_unknown_role_error_lists_the_known_roles() -> None:
    with pytest.raises(LabError, match="known roles: bridge, core, datastore, gpu"):
        parse_hosts("x:web")


def test_release_is_distro_and_suite() -> None:
    assert parse_release("debian:bookworm") == Release("debian", "bookworm")
    assert str(parse_release("debian:trixie")) == "debian:trixie"


@pytest.mark.parametrize("text", ["bookworm", "debian:", "debian:Bookworm", "ubuntu:noble"])
def test_bad_releases_are_refused(text: str) -> None:
    with pytest.raises(LabError):
        parse_release(text)
