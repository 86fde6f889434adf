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
from pyinfra.context import host, state

from fks_infra.deploys.facts import FileDigest, FileDigests

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
)

_cache: dict[tuple[int, str], dict[tuple[Any, ...], Any]] = {}


def _host_cache() -> dict[tuple[Any, ...], Any]:
    return _cache.setdefault((id(state._get_module()), host.name), {})  # type: ignore[attr-defined]


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


def file_digest(path: str) -> dict[str, str] | None:
    """Digest, mode and owner of a file; managed files come from one batched fact."""
    if any(fnmatch.fnmatchcase(path, pattern) for pattern in MANAGED_FILES):
        return fact(FileDigests, patterns=MANAGED_FILES).get(path)
    return fact(FileDigest, path=path)
