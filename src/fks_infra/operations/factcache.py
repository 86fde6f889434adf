"""Facts read once per host and reused until fks-infra changes that host.

pyinfra 3 runs a fact's command again every time an operation asks for it; a no-op deploy
asked the same few facts hundreds of times (e.g. DeployedServices once per service). Every
fks-infra operation reads facts through ``fact()`` and calls ``changing()`` before it yields
a command, so a cached value never outlives a change fks-infra makes. Facts that pyinfra's
own operations could change (packages, users) are not read through here.
"""

from __future__ import annotations

import fnmatch
from typing import Any, TypeVar

from pyinfra.api.facts import FactBase
from pyinfra.context import host

from fks_infra.operations.facts import FileDigest, FileDigests, UnitStates
from fks_infra.pyinfra_internals import current_state

T = TypeVar("T")

#: Every file fks-infra writes with its own operations, digested in one command per host.
MANAGED_FILES: tuple[str, ...] = (
    "/etc/fks/*",
    "/etc/systemd/system/fks-*",
    "/opt/fks/*/artifacts/*",
    "/usr/local/lib/fks-infra/*",
    "/var/lib/fks-infra/*",
    "/etc/nginx/nginx.conf",
    "/etc/nginx/fks/*",
    "/etc/nftables.conf",
    "/etc/ssh/sshd_config.d/*",
    "/etc/chrony/chrony.conf",
    "/etc/systemd/system/*.d/fks-*",
    "/etc/apt/apt.conf.d/90fks-infra",
    "/etc/systemd/journald.conf.d/fks-infra.conf",
    "/etc/nginx/tls/*",
    "/etc/postgresql/*/main/conf.d/fks-infra.conf",
    "/etc/postgresql/*/main/pg_hba.conf",
    "/etc/redis/redis.conf",
    "/etc/default/prometheus*",
    "/etc/default/tailscaled",
    "/etc/prometheus/*.yml",
    "/etc/prometheus/rules/*",
    "/etc/fks-infra/grafana/*/*",
    "/etc/fks-infra/grafana/*/*/*",
    "/etc/apt/sources.list.d/fks-*",
    "/etc/apt/preferences.d/fks-*",
    "/etc/modprobe.d/fks-*",
)

#: Every service unit fks-infra starts or enables, read in one command per host.
MANAGED_UNITS: tuple[str, ...] = (
    "fks-*",
    "chrony.service",
    "nginx.service",
    "nftables.service",
    "postgresql*",
    "redis-server.service",
    "prometheus*",
    "tailscaled.service",
    "nvidia-persistenced.service",
)

_cache: dict[tuple[int, str], dict[tuple[Any, ...], Any]] = {}


def _host_cache() -> dict[tuple[Any, ...], Any]:
    return _cache.setdefault((id(current_state()), host.name), {})


def fact(cls: type[FactBase[T]], **kwargs: Any) -> T:
    """``host.get_fact(cls, **kwargs)``, run at most once until ``changing()``."""
    key = (cls, tuple(sorted(kwargs.items())))
    cache = _host_cache()
    if key not in cache:
        cache[key] = host.get_fact(cls, **kwargs)
    value: T = cache[key]
    return value


def changing() -> None:
    """The current operation is about to change the host: forget what was read of it."""
    _host_cache().clear()


def matches(path: str, pattern: str) -> bool:
    """Whether the shell expands ``pattern`` to ``path``: a ``*`` never crosses a ``/``."""
    parts, wanted = path.split("/"), pattern.split("/")
    return len(parts) == len(wanted) and all(
        fnmatch.fnmatchcase(part, glob) for part, glob in zip(parts, wanted, strict=True)
    )


def file_digest(path: str) -> dict[str, str] | None:
    """Digest, mode and owner of a file; managed files come from one batched fact."""
    if any(matches(path, pattern) for pattern in MANAGED_FILES):
        return fact(FileDigests, patterns=MANAGED_FILES).get(path)
    return fact(FileDigest, path=path)


def unit_state(unit: str) -> dict[str, str]:
    """``active`` and ``enabled`` of a service unit; managed units come from one batched fact."""
    if any(fnmatch.fnmatchcase(unit, pattern) for pattern in MANAGED_UNITS):
        return fact(UnitStates, patterns=MANAGED_UNITS).get(unit, {})
    return fact(UnitStates, patterns=(unit,)).get(unit, {})
