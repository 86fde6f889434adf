"""Which Debian mirror the lab uses: the one this machine's own apt sources name.

The control machine may only reach some mirrors (a proxy, a snapshot, a local
cache); the one its apt already uses is the one known to work. ``FKS_LAB_MIRROR``
or ``--mirror`` override it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from fks_infra.lab.errors import LabError

MIRROR_ENV = "FKS_LAB_MIRROR"


@dataclass(frozen=True)
class AptSource:
    """One enabled ``deb`` source: a URI and the suites it serves."""

    uri: str
    suites: tuple[str, ...]
    components: tuple[str, ...]


@dataclass(frozen=True)
class Mirrors:
    """The archive for a suite and, when this machine has one, its security archive."""

    archive: str
    security: str | None


def _deb822_paragraphs(text: str) -> Iterable[dict[str, str]]:
    fields: dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            if fields:
                yield fields
            fields, key = {}, ""
        elif line[0] in " \t" and key:
            fields[key] += " " + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
    if fields:
        yield fields


def parse_deb822(text: str) -> list[AptSource]:
    """Enabled ``deb`` sources of a ``.sources`` file (deb822 format)."""
    sources: list[AptSource] = []
    for fields in _deb822_paragraphs(text):
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() in {"no", "false", "0"}:
            continue
        suites = tuple(fields.get("suites", "").split())
        components = tuple(fields.get("components", "").split())
        sources.extend(
            AptSource(uri=uri, suites=suites, components=components)
            for uri in fields.get("uris", "").split()
        )
    return sources


_ONE_LINE_RE = re.compile(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)(.*)$")


def parse_one_line(text: str) -> list[AptSource]:
    """``deb`` lines of a ``sources.list`` file (one-line format)."""
    sources = []
    for line in text.splitlines():
        match = _ONE_LINE_RE.match(line.strip())
        if match:
            uri, suite, rest = match.groups()
            sources.append(AptSource(uri=uri, suites=(suite,), components=tuple(rest.split())))
    return sources


def read_system_sources(etc_apt: Path = Path("/etc/apt")) -> list[AptSource]:
    """All enabled ``deb`` sources of this machine, in apt's reading order."""
    sources: list[AptSource] = []
    main_list = etc_apt / "sources.list"
    if main_list.is_file():
        sources += parse_one_line(main_list.read_text(encoding="utf-8"))
    parts = etc_apt / "sources.list.d"
    if parts.is_dir():
        for path in sorted(parts.iterdir()):
            if path.suffix == ".list":
                sources += parse_one_line(path.read_text(encoding="utf-8"))
            elif path.suffix == ".sources":
                sources += parse_deb822(path.read_text(encoding="utf-8"))
    return sources


def _first_uri_for(sources: list[AptSource], suite: str) -> str | None:
    for source in sources:
        if suite in source.suites:
            return source.uri.rstrip("/")
    return None


def pick_mirrors(sources: list[AptSource], suite: str, override: str | None = None) -> Mirrors:
    """The archive serving ``suite`` (or ``override``) and the matching security archive.

    + sources: this machine's apt sources
    + suite: e.g. ``bookworm``; a source must list it exactly (``cloud-sdk-bookworm`` does not)
    + override: a mirror URI that wins over the sources
    """
    security = _first_uri_for(sources, f"{suite}-security")
    if override:
        return Mirrors(archive=override.rstrip("/"), security=security)
    archive = _first_uri_for(sources, suite)
    if archive is None:
        raise LabError(
            f"no apt source of this machine serves {suite!r}; "
            f"set {MIRROR_ENV} or pass --mirror with a Debian mirror URI"
        )
    return Mirrors(archive=archive, security=security)


def system_mirrors(suite: str, override: str | None = None) -> Mirrors:
    """``pick_mirrors`` over this machine's sources, honouring ``FKS_LAB_MIRROR``."""
    return pick_mirrors(read_system_sources(), suite, override or os.environ.get(MIRROR_ENV))
