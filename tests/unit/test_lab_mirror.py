"""Finding the Debian mirror in this machine's apt sources, both file formats."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fks_infra.lab.errors import LabError
from fks_infra.lab.mirror import (
    PROBE_BYTES,
    AptSource,
    Mirrors,
    confirm,
    fetch_release,
    parse_deb822,
    parse_one_line,
    pick_mirrors,
    read_system_sources,
    release_names,
)

# The project VM's /etc/apt/sources.list.d/debian.sources, as recorded.
DEBIAN_SOURCES = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
# http://snapshot.debian.org/archive/debian-security/20250520T000000Z
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""
NODESOURCE = """\
Types: deb
URIs: https://deb.nodesource.com/node_20.x
Suites: nodistro
Components: main
"""
GOOGLE_LIST = "deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n"


def test_recorded_sources_give_deb_debian_org_and_its_security_archive() -> None:
    sources = [
        *parse_one_line(GOOGLE_LIST),
        *parse_deb822(NODESOURCE),
        *parse_deb822(DEBIAN_SOURCES),
    ]
    mirrors = pick_mirrors(sources, "bookworm")
    assert mirrors.archive == "http://deb.debian.org/debian"
    assert mirrors.security == "http://deb.debian.org/debian-security"


def test_one_line_format_with_options_and_comments() -> None:
    text = (
        "# deb http://old.example/debian bookworm main\n"
        "deb-src http://src.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian/ bookworm main contrib\n"
    )
    assert parse_one_line(text) == [
        AptSource("http://mirror.example/debian/", ("bookworm",), ("main", "contrib"))
    ]
    assert pick_mirrors(parse_one_line(text), "bookworm").archive == "http://mirror.example/debian"


def test_deb822_skips_disabled_and_source_only_stanzas_and_joins_continuations() -> None:
    text = (
        "Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nEnabled: no\n\n"
        "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n\n"
        "Types: deb\nURIs: http://a.example/debian\n http://b.example/debian\nSuites: bookworm\n"
    )
    assert [s.uri for s in parse_deb822(text)] == [
        "http://a.example/debian",
        "http://b.example/debian",
    ]


def test_override_wins_and_keeps_the_security_archive() -> None:
    mirrors = pick_mirrors(parse_deb822(DEBIAN_SOURCES), "bookworm", "http://cache.example/debian/")
    assert mirrors.archive == "http://cache.example/debian"
    assert mirrors.security == "http://deb.debian.org/debian-security"


def test_no_source_for_the_suite_is_an_error_naming_the_override() -> None:
    with pytest.raises(LabError, match="FKS_LAB_MIRROR"):
        pick_mirrors(parse_one_line(GOOGLE_LIST), "bookworm")


def test_reads_both_formats_from_an_etc_apt_tree(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(GOOGLE_LIST)
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEBIAN_SOURCES)
    (tmp_path / "sources.list.d" / "ignored.save").write_text(GOOGLE_LIST)
    uris = [s.uri for s in read_system_sources(tmp_path)]
    assert uris == [
        "https://packages.cloud.google.com/apt",
        "http://deb.debian.org/debian",
        "http://deb.debian.org/debian-security",
    ]


# The first lines of deb.debian.org's dists/trixie/Release and dists/trixie-security/Release,
# as recorded on 2026-11-30 (the rest lists checksums).
TRIXIE_RELEASE = """\
Origin: Debian
Label: Debian
Suite: stable
Version: 13.8
Codename: trixie
Changelogs: https://metadata.ftp-master.debian.org/changelogs/@CHANGEPATH@_changelog
Date: Sat, 21 Nov 2026 09:15:44 UTC
"""
TRIXIE_SECURITY_RELEASE = """\
Origin: Debian
Label: Debian-Security
Suite: stable-security
Version: 13
Codename: trixie-security
"""


class FakeMirror:
    """A mirror serving the given ``dists/<suite>/Release`` texts; records what was asked."""

    def __init__(self, served: dict[tuple[str, str], str]) -> None:
        self.served = served
        self.asked: list[tuple[str, str]] = []

    def __call__(self, uri: str, suite: str) -> str | None:
        self.asked.append((uri, suite))
        return self.served.get((uri, suite))


DEB = "http://deb.debian.org/debian"
SECURITY = "http://deb.debian.org/debian-security"
DEBIAN_MIRROR = FakeMirror(
    {(DEB, "trixie"): TRIXIE_RELEASE, (SECURITY, "trixie-security"): TRIXIE_SECURITY_RELEASE}
)


def recorded_sources() -> list[AptSource]:
    """The project VM's sources in apt's order: Google's list, then Debian's and nodesource."""
    return [
        *parse_one_line(GOOGLE_LIST),
        *parse_deb822(DEBIAN_SOURCES),
        *parse_deb822(NODESOURCE),
    ]


def test_trixie_is_taken_from_the_mirror_that_serves_this_machines_bookworm() -> None:
    mirrors = pick_mirrors(recorded_sources(), "trixie")
    assert mirrors == Mirrors(
        archive=DEB, security=SECURITY, archive_unconfirmed=True, security_unconfirmed=True
    )


def test_the_mirror_itself_confirms_a_suite_found_that_way() -> None:
    fetch = FakeMirror(DEBIAN_MIRROR.served)
    mirrors = confirm(pick_mirrors(recorded_sources(), "trixie"), "trixie", fetch)
    assert mirrors == Mirrors(archive=DEB, security=SECURITY)
    assert fetch.asked == [(DEB, "trixie"), (SECURITY, "trixie-security")]


def test_a_suite_this_machine_lists_is_not_asked_for() -> None:
    def no_network(uri: str, suite: str) -> str | None:
        raise AssertionError(f"asked {uri} for {suite}")

    mirrors = pick_mirrors(recorded_sources(), "bookworm")
    assert confirm(mirrors, "bookworm", no_network) == Mirrors(archive=DEB, security=SECURITY)


def test_a_suite_the_mirror_lacks_is_refused_naming_mirror_and_suite() -> None:
    mirrors = pick_mirrors(recorded_sources(), "trixy")
    with pytest.raises(LabError) as caught:
        confirm(mirrors, "trixy", FakeMirror(DEBIAN_MIRROR.served))
    assert str(caught.value).startswith(
        f"the mirror {DEB} does not serve 'trixy' (dists/trixy/Release: no such file)"
    )
    assert "FKS_LAB_MIRROR" in str(caught.value)


def test_a_release_file_naming_another_suite_does_not_count() -> None:
    # e.g. a captive portal or a mirror that redirects unknown paths to its stable suite
    fetch = FakeMirror({(DEB, "forky"): TRIXIE_RELEASE})
    with pytest.raises(LabError, match="a Release file of another suite"):
        confirm(pick_mirrors(recorded_sources(), "forky"), "forky", fetch)


def test_a_security_archive_without_the_suite_is_dropped_not_fatal() -> None:
    fetch = FakeMirror({(DEB, "trixie"): TRIXIE_RELEASE})
    mirrors = confirm(pick_mirrors(recorded_sources(), "trixie"), "trixie", fetch)
    assert mirrors == Mirrors(archive=DEB, security=None)


def test_an_override_is_asked_too_and_the_security_archive_still_found() -> None:
    cache = "http://cache.example/debian"
    mirrors = pick_mirrors(recorded_sources(), "trixie", cache + "/")
    assert (mirrors.archive, mirrors.security) == (cache, SECURITY)
    fetch = FakeMirror({**DEBIAN_MIRROR.served, (cache, "trixie"): TRIXIE_RELEASE})
    assert confirm(mirrors, "trixie", fetch) == Mirrors(archive=cache, security=SECURITY)
    assert fetch.asked[0] == (cache, "trixie")


def test_one_line_sources_give_the_second_suite_too() -> None:
    text = (
        "deb http://ftp.example/debian/ bookworm main non-free-firmware\n"
        "deb http://ftp.example/debian/ bookworm-updates main\n"
        "deb http://security.example/debian-security bookworm-security main\n"
    )
    mirrors = pick_mirrors(parse_one_line(text), "trixie")
    assert (mirrors.archive, mirrors.security) == (
        "http://ftp.example/debian",
        "http://security.example/debian-security",
    )


def test_a_third_party_repository_named_after_a_release_is_no_debian_mirror() -> None:
    # Docker's repository lists the release as its suite, with the component "stable".
    docker = "deb [arch=amd64] https://download.docker.com/linux/debian bookworm stable\n"
    sources = [*parse_one_line(docker), *parse_deb822(DEBIAN_SOURCES)]
    assert pick_mirrors(sources, "trixie").archive == DEB
    assert pick_mirrors(sources, "bookworm").archive == DEB
    with pytest.raises(LabError, match="serves 'trixie' or another Debian release"):
        pick_mirrors(parse_one_line(docker), "trixie")


def test_release_names_are_suite_and_codename() -> None:
    assert release_names(TRIXIE_RELEASE) == {"stable", "trixie"}
    assert release_names(TRIXIE_SECURITY_RELEASE) == {"stable-security", "trixie-security"}
    assert release_names("<html>Not here</html>") == set()


@pytest.fixture
def local_mirror(tmp_path: Path) -> Iterator[str]:
    """An HTTP mirror on loopback serving ``tmp_path``: dists/trixie/Release, nothing else."""
    dists = tmp_path / "dists" / "trixie"
    dists.mkdir(parents=True)
    (dists / "Release").write_text(TRIXIE_RELEASE + "x" * 100_000)
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/debian/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def translate_path(self, path: str) -> str:
        return super().translate_path(path.removeprefix("/debian"))

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output clean."""


def test_fetch_release_reads_only_the_start_and_maps_404_to_none(local_mirror: str) -> None:
    text = fetch_release(local_mirror, "trixie")
    assert text is not None and text.startswith(TRIXIE_RELEASE) and len(text) == PROBE_BYTES
    assert fetch_release(local_mirror, "forky") is None


def test_an_unreachable_mirror_is_an_error_naming_it() -> None:
    gone = "http://127.0.0.1:9/debian"  # discard: nothing listens there
    with pytest.raises(LabError, match=f"cannot reach mirror {gone} "):
        fetch_release(gone, "trixie")
