"""Finding the Debian mirror in this machine's apt sources, both file formats."""

from __future__ import annotations

from pathlib import Path

import pytest

from fks_infra.lab.errors import LabError
from fks_infra.lab.mirror import (
    AptSource,
    parse_deb822,
    parse_one_line,
    pick_mirrors,
    read_system_sources,
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
