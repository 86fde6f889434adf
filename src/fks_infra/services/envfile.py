"""systemd EnvironmentFile text for a service: its secrets and its per-host settings.

Settings that are not secret but belong to one service (the bridges' Windows endpoints) go
here too rather than into the unit's ``Environment=``: one root-only place per service for
what it is configured with, unreadable to other users (``systemctl show`` prints a unit's
Environment= to anyone), and part of the deployment id like the rest of the file.

Values are double-quoted with systemd's escapes (backslash before ``"``, ``\\``, ``$`` and
backquote), so quotes, dollars, spaces and newlines arrive in the service byte-exact.
"""

from __future__ import annotations

from collections.abc import Mapping

HEADER = "# managed by fks-infra; do not edit. Readable by root only: systemd reads it.\n"
_NEEDS_ESCAPE = '"\\$`'


def quote(value: str) -> str:
    return '"' + "".join(f"\\{c}" if c in _NEEDS_ESCAPE else c for c in value) + '"'


def render_env(secrets: Mapping[str, str], environment: Mapping[str, str] | None = None) -> str:
    """The env file: every variable once, sorted by name.

    + secrets: the service's secrets, by variable name
    + environment: non-secret variables from settings; a name may not also be a secret's
    """
    environment = environment or {}
    both = sorted(set(secrets) & set(environment))
    if both:
        raise ValueError(f"set both as a secret and from settings: {', '.join(both)}")
    values = {**secrets, **environment}
    return HEADER + "".join(f"{key}={quote(values[key])}\n" for key in sorted(values))
