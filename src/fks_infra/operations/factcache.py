"""Facts read once per host and reused until the host changes; the one rule, enforced here.

pyinfra 3 runs a fact's command again every time an operation asks for it; a no-op deploy
would ask the same few facts hundreds of times (e.g. DeployedServices once per service).
fks-infra's operations are declared with ``@host_operation`` (not pyinfra's ``@operation``)
and read facts with ``fact()``. The rule, kept by this module and not by the operations:

- ``fact()`` answers from the host's cache, reading the fact once when it is not there;
- ``@host_operation`` drops the host's cache before every command its operation yields (a
  command changes the host, and pyinfra runs each one as it is yielded), and when it starts
  after any other operation ran on the host since (a stock pyinfra operation such as
  ``apt.packages`` or ``server.reboot`` changes what the cache holds);
- ``fact()`` refuses to run outside an ``@host_operation``: deploy functions run while
  pyinfra plans, before any operation ran, and read facts with ``host.get_fact``.
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from pyinfra.api.facts import FactBase
from pyinfra.api.operation import operation
from pyinfra.context import host

from fks_infra.operations.facts import FileDigest, FileDigests, UnitStates
from fks_infra.paths import MANAGED_FILES
from fks_infra.pyinfra_internals import current_state, finished_operations

P = ParamSpec("P")
T = TypeVar("T")

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


@dataclass
class _HostFacts:
    """What ``fact()`` read of one host, and where the host was in the run when it did."""

    values: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    #: pyinfra's count of the host's finished operations when the last fks-infra operation
    #: ends (it counts that operation once it finished); None where pyinfra keeps no count
    expected_finished: int | None = None
    #: whether an ``@host_operation`` of this host is running its commands now
    in_operation: bool = False
    #: what was done once on this host in this run (``first_time``); kept across changes
    done: set[str] = field(default_factory=set)


_hosts: dict[tuple[int, str], _HostFacts] = {}


def _host_facts() -> _HostFacts:
    return _hosts.setdefault((id(current_state()), host.name), _HostFacts())


def forget_all() -> None:
    """Drop every host's cache (tests start from nothing)."""
    _hosts.clear()


def fact(cls: type[FactBase[T]], **kwargs: Any) -> T:
    """``host.get_fact(cls, **kwargs)``, read at most once until the host changes.

    Raises ``RuntimeError`` outside an ``@host_operation``.
    """
    facts = _host_facts()
    if not facts.in_operation:
        raise RuntimeError(
            f"fact({cls.__name__}) outside an @host_operation: deploy functions read facts "
            "with host.get_fact (see operations/factcache.py)"
        )
    key = (cls, tuple(sorted(kwargs.items())))
    if key not in facts.values:
        facts.values[key] = host.get_fact(cls, **kwargs)
    value: T = facts.values[key]
    return value


def first_time(what: str) -> bool:
    """Whether ``what`` is yet to be done on the current host in this run; marks it done.

    For what a run needs once per host however many operations ask (``apt-get update``).
    """
    facts = _host_facts()
    if what in facts.done:
        return False
    facts.done.add(what)
    return True


def host_operation(
    function: Callable[P, Generator[Any, None, None]],
) -> Any:
    """pyinfra's ``@operation()`` for an fks-infra operation that reads facts with ``fact()``.

    The operation's generator yields commands as pyinfra's do; this wrapper keeps the
    cache's rule (module docstring) around it.
    """

    @functools.wraps(function)
    def commands(*args: P.args, **kwargs: P.kwargs) -> Generator[Any, None, None]:
        facts = _host_facts()
        finished = finished_operations(current_state(), host)
        if finished is not None and finished != facts.expected_finished:
            facts.values.clear()  # another operation ran since: it may have changed anything
        facts.in_operation = True
        try:
            for command in function(*args, **kwargs):
                facts.values.clear()
                yield command
        finally:
            facts.in_operation = False
            facts.expected_finished = None if finished is None else finished + 1

    return operation()(commands)


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
