"""Which Debian mirror the lab uses: the one this machine's own apt sources name.

The control machine may only reach some mirrors (a proxy, a snapshot, a local
cache); the one its apt already uses is the one known to work. ``FKS_LAB_MIRROR``
or ``--mirror`` override it.

A Debian mirror serves every release, but this machine's sources name only its own
(bookworm): a lab host of another release (trixie) takes the mirror that serves this
machine's Debian release, and its security archive likewise. That the mirror really
serves the other suite is then asked of that mirror alone (its ``dists/<suite>/Release``),
before anything is built, so a typo or a partial mirror is refused in one line.
"""

from __future__ import annotations

import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from fks_infra.lab.errors import LabError

MIRROR_ENV = "FKS_LAB_MIRROR"

#: Debian's release codenames and suite names: an apt source listing one of them serves
#: Debian's archive (with ``-security``, its security archive), so it serves the others too.
DEBIAN_SUITES = frozenset(
    {
        "buster", "bullseye", "bookworm", "trixie", "forky", "duke", "sid",
        "oldoldstable", "oldstable", "stable", "testing", "unstable",
    }
)  # fmt: skip

#: How long to wait for a mirror's ``Release`` file, and how much of it to read: the
#: fields naming the suite come first.
PROBE_TIMEOUT_S = 20.0
PROBE_BYTES = 8192


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
    #: Whether nothing on this machine shows ``archive`` to serve the suite (it was given,
    #: or this machine's sources list another Debian release there); ``confirm`` asks it.
    archive_unconfirmed: bool = False
    #: The same for ``security`` and the suite's ``-security``.
    security_unconfirmed: bool = False


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


def _first_uri_for(sources: list[AptSource], suites: Iterable[str]) -> str | None:
    """The URI of the first Debian-like source (one with ``main``) listing one of ``suites``
    exactly; a third-party repository naming a release as its suite has no ``main``."""
    wanted = set(suites)
    for source in sources:
        if wanted.intersection(source.suites) and "main" in source.components:
            return source.uri.rstrip("/")
    return None


def pick_mirrors(sources: list[AptSource], suite: str, override: str | None = None) -> Mirrors:
    """The archive serving ``suite`` (or ``override``) and the matching security archive.

    + sources: this machine's apt sources
    + suite: e.g. ``trixie``; a source must list it, or another Debian release, exactly
      (``cloud-sdk-bookworm`` is neither)
    + override: a mirror URI that wins over the sources

    A source listing ``suite`` itself wins; else the first source listing another Debian
    release (``DEBIAN_SUITES``) serves it too, and likewise for ``<suite>-security``. What
    was taken that way, or from ``override``, is marked unconfirmed for ``confirm``.
    """
    security = _first_uri_for(sources, [f"{suite}-security"])
    security_unconfirmed = False
    if security is None:
        security = _first_uri_for(sources, (f"{name}-security" for name in DEBIAN_SUITES))
        security_unconfirmed = security is not None
    if override:
        return Mirrors(
            archive=override.rstrip("/"),
            security=security,
            archive_unconfirmed=True,
            security_unconfirmed=security_unconfirmed,
        )
    archive = _first_uri_for(sources, [suite])
    archive_unconfirmed = False
    if archive is None:
        archive = _first_uri_for(sources, DEBIAN_SUITES)
        archive_unconfirmed = True
    if archive is None:
        raise LabError(
            f"no apt source of this machine serves {suite!r} or another Debian release; "
            f"set {MIRROR_ENV} or pass --mirror with a Debian mirror URI"
        )
    return Mirrors(
        archive=archive,
        security=security,
        archive_unconfirmed=archive_unconfirmed,
        security_unconfirmed=security_unconfirmed,
    )


def release_names(release_text: str) -> set[str]:
    """The ``Suite`` and ``Codename`` a ``Release`` file (or its first part) names."""
    names = set()
    for line in release_text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key in {"Suite", "Codename"} and value.strip():
            names.add(value.strip())
    return names


#: ``fetch(uri, suite)``: the start of ``<uri>/dists/<suite>/Release``, ``None`` when the
#: mirror has no such file; ``LabError`` when it cannot be asked.
ReleaseFetcher = Callable[[str, str], "str | None"]


def fetch_release(uri: str, suite: str) -> str | None:
    """The first ``PROBE_BYTES`` of ``<uri>/dists/<suite>/Release``; ``None`` on 404/410.

    Only ``uri`` is contacted; proxies come from the environment, as for debootstrap.
    """
    url = f"{uri.rstrip('/')}/dists/{suite}/Release"
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_S) as answer:
            return bytes(answer.read(PROBE_BYTES)).decode("utf-8", errors="replace")
    except urllib.error.HTTPError as exc:
        if exc.code in {404, 410}:
            return None
        raise LabError(f"mirror {uri} answered HTTP {exc.code} for {url}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise LabError(f"cannot reach mirror {uri} ({url}): {reason}") from exc


def _serves(uri: str, suite: str, fetch: ReleaseFetcher) -> tuple[bool, str]:
    """Whether the mirror at ``uri`` serves ``suite``, and what it answered if not."""
    text = fetch(uri, suite)
    if text is None:
        return False, "no such file"
    if suite not in release_names(text):
        return False, "a Release file of another suite"
    return True, ""


def confirm(mirrors: Mirrors, suite: str, fetch: ReleaseFetcher = fetch_release) -> Mirrors:
    """``mirrors`` once its unconfirmed archives are shown to serve ``suite``.

    An archive that does not is refused (``LabError`` naming URI and suite); a security
    archive that does not is dropped (``security`` becomes ``None``): hosts then get no
    security source, as on a machine whose own sources have none.
    """
    if mirrors.archive_unconfirmed:
        served, answer = _serves(mirrors.archive, suite, fetch)
        if not served:
            raise LabError(
                f"the mirror {mirrors.archive} does not serve {suite!r} "
                f"(dists/{suite}/Release: {answer}); check the release's spelling, "
                f"or set {MIRROR_ENV} or --mirror to a mirror that serves it"
            )
    security = mirrors.security
    if security is not None and mirrors.security_unconfirmed:
        served, _ = _serves(security, f"{suite}-security", fetch)
        security = security if served else None
    return Mirrors(archive=mirrors.archive, security=security)


def system_mirrors(
    suite: str, override: str | None = None, fetch: ReleaseFetcher = fetch_release
) -> Mirrors:
    """``pick_mirrors`` over this machine's sources, honouring ``FKS_LAB_MIRROR``, then
    ``confirm``-ed with the mirrors themselves."""
    picked = pick_mirrors(read_system_sources(), suite, override or os.environ.get(MIRROR_ENV))
    return confirm(picked, suite, fetch)
