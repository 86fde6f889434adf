"""systemd EnvironmentFile text for a service's secrets.

Values are double-quoted with systemd's escapes (backslash before ``"``, ``\\``, ``$`` and
backquote), so quotes, dollars, spaces and newlines arrive in the service byte-exact.
"""

from __future__ import annotations

from collections.abc import Mapping

HEADER = "# managed by fks-infra; do not edit. Readable by root only: systemd reads it.\n"
_NEEDS_ESCAPE = '"\\$`'


def quote(value: str) -> str:
    return '"' + "".join(f"\\{c}" if c in _NEEDS_ESCAPE else c for c in value) + '"'


def render_env(values: Mapping[str, str]) -> str:
    return HEADER + "".join(f"{key}={quote(values[key])}\n" for key in sorted(values))
