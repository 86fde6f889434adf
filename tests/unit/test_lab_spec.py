"""Hosts specs and releases: what ``lab up --hosts/--release`` accepts and how it refuses."""

from __future__ import annotations

import re

import pytest

from fks_infra.lab.errors import LabError
from fks_infra.lab.spec import (
    DEFAULT_HOSTS,
    HOST_OPTIONS,
    HOSTS_ENV,
    MIXED_HOSTS,
    SINGLE_RELEASE_HOSTS,
    HostSpec,
    Release,
    default_hosts,
    format_hosts,
    parse_hosts,
    parse_release,
    releases_of,
)

BOOKWORM = Release("debian", "bookworm")
TRIXIE = Release("debian", "trixie")


def test_single_release_spec_is_one_host_per_deploy_role() -> None:
    assert parse_hosts(SINGLE_RELEASE_HOSTS) == (
        HostSpec("core-1", ("core",), BOOKWORM),
        HostSpec("gpu-1", ("gpu",), BOOKWORM),
        HostSpec("bridge-1", ("bridge",), BOOKWORM),
    )


def test_mixed_spec_puts_the_datastore_host_and_a_gpu_node_on_different_releases() -> None:
    hosts = parse_hosts(MIXED_HOSTS)
    assert [(h.name, h.roles, h.release, h.options) for h in hosts] == [
        ("core-1", ("core",), TRIXIE, ("cis",)),
        ("gpu-1", ("gpu",), BOOKWORM, ()),
        ("gpu-2", ("gpu",), TRIXIE, ()),
        ("bridge-1", ("bridge",), BOOKWORM, ()),
    ]
    assert releases_of(hosts) == (TRIXIE, BOOKWORM)
    # Every host names its release: --release does not change the mixed lab.
    assert parse_hosts(MIXED_HOSTS, "debian:trixie") == hosts


def test_default_spec_is_one_of_the_two_and_the_environment_overrides_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert DEFAULT_HOSTS == MIXED_HOSTS  # the whole suite proves both releases
    monkeypatch.delenv(HOSTS_ENV, raising=False)
    assert default_hosts() == DEFAULT_HOSTS
    monkeypatch.setenv(HOSTS_ENV, MIXED_HOSTS)
    assert default_hosts() == MIXED_HOSTS


def test_several_roles_keep_their_order_and_spaces_are_ignored() -> None:
    hosts = parse_hosts(" all-1:core+gpu+bridge , db-1:core ,")
    assert hosts == (
        HostSpec("all-1", ("core", "gpu", "bridge"), BOOKWORM),
        HostSpec("db-1", ("core",), BOOKWORM),
    )
    assert format_hosts(hosts) == "all-1:core+gpu+bridge@debian:bookworm,db-1:core@debian:bookworm"


def test_a_host_names_its_release_after_an_at_sign_and_others_take_the_default() -> None:
    hosts = parse_hosts("core-1:core@debian:trixie, gpu-1:gpu ,aio-1:core+gpu @ debian:trixie")
    assert [(h.name, h.roles, h.release) for h in hosts] == [
        ("core-1", ("core",), TRIXIE),
        ("gpu-1", ("gpu",), BOOKWORM),
        ("aio-1", ("core", "gpu"), TRIXIE),
    ]
    assert [h.release for h in parse_hosts("gpu-1:gpu", "debian:trixie")] == [TRIXIE]


def test_canonical_spec_names_every_release_so_equal_labs_compare_equal() -> None:
    implicit = format_hosts(parse_hosts("core-1:core,gpu-1:gpu", "debian:trixie"))
    explicit = format_hosts(parse_hosts("core-1:core@debian:trixie,gpu-1:gpu@debian:trixie"))
    assert implicit == explicit == "core-1:core@debian:trixie,gpu-1:gpu@debian:trixie"
    assert format_hosts(parse_hosts(implicit)) == implicit


def test_the_default_lab_has_a_cis_host_where_the_rollback_tests_run() -> None:
    # tests/lab/test_deploy.py rolls back core services (portfolio, stocks) and the fault
    # tests use core-1: that host is the CIS-hardened one, so every run proves it.
    (hardened,) = [host for host in parse_hosts(DEFAULT_HOSTS) if host.options]
    assert (hardened.name, hardened.roles, hardened.options) == ("core-1", ("core",), ("cis",))


def test_host_options_follow_the_release_and_survive_the_canonical_form() -> None:
    (host,) = parse_hosts(" aio-1:core+gpu @ debian:trixie + cis ")
    assert host == HostSpec("aio-1", ("core", "gpu"), TRIXIE, ("cis",))
    assert str(host) == "aio-1:core+gpu@debian:trixie+cis"
    assert parse_hosts(format_hosts((host,))) == (host,)
    # Without options a host is as before, and compares unequal to its hardened twin.
    (plain,) = parse_hosts("aio-1:core+gpu@debian:trixie")
    assert plain.options == () and plain != host
    assert sorted(HOST_OPTIONS) == ["cis"]


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
        ("a:core,a:gpu@debian:trixie", "appears twice"),
        ("core-1@debian:trixie", "has no roles"),
        ("core-1:@debian:trixie", "has no roles"),
        ("core-1:core@", "host 'core-1' has nothing after '@'"),
        ("core-1:core@ ", "host 'core-1' has nothing after '@'"),
        ("core-1:core@trixie", "host 'core-1': release 'trixie' is invalid: write it as distro"),
        ("core-1:core@debian:", "host 'core-1': release 'debian:' is invalid"),
        ("core-1:core@debian:Trixie", "host 'core-1': release 'debian:Trixie' is invalid"),
        ("core-1:core@ubuntu:noble", "host 'core-1': release 'ubuntu:noble': only debian"),
        ("core-1:core@debian:trixie@debian:sid", "names more than one release"),
        ("core-1:web@debian:trixie", "unknown role(s) 'web'"),
        ("core-1:core@debian:trixie+stig", "unknown option(s) 'stig'; known options: cis"),
        ("core-1:core@debian:trixie+cis+cis", "names an option twice: 'cis+cis'"),
        ("core-1:core@debian:trixie+", "unknown option(s) ''"),
        ("core-1:core@+cis", "host 'core-1' has nothing after '@'"),
        (
            "core-1:core+cis",
            "'cis' is a host option, written after the release: core-1:core@debian:bookworm+cis",
        ),
    ],
)
def test_bad_specs_are_refused_with_the_reason(spec: str, message: str) -> None:
    with pytest.raises(LabError, match=re.escape(message)):
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


def test_bad_default_release_is_refused_even_when_every_host_names_its_own() -> None:
    with pytest.raises(LabError, match="release 'trixie' is invalid"):
        parse_hosts("core-1:core@debian:trixie", "trixie")
