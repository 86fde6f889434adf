"""``GET /probe/sandbox``: does the unit's sandbox allow what real FKS services need?

Each check does once what the libraries of the real services do (issue #16): write and
read a cache file (pip, numba, PyTorch, Hugging Face, matplotlib), write into ``HOME``
(``~/.config``), pin the process to CPUs (``sched_setaffinity``: NCCL, OpenMP, PyTorch) and
list the network interfaces (``if_nameindex``, over netlink: torch.distributed, NCCL).
The answer is ``{check: {"ok": bool, "error": str}}``; ``error`` is empty when ``ok``, else
``"[Errno N] text"`` as Python words an ``OSError`` (``[Errno 1]`` is EPERM, what a call
denied by ``SystemCallFilter=`` returns under the unit's ``SystemCallErrorNumber=EPERM``).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

#: The file each writing check leaves behind, overwritten by the next probe.
PROBE_FILE = "fks-demo-sandbox-probe"


def report() -> dict[str, dict[str, bool | str]]:
    """Run every check; never raises (a failing check reports its error)."""
    checks: dict[str, Callable[[], None]] = {
        "cache": lambda: _write_and_read(_cache_dir()),
        "home": lambda: _write_and_read(_home_dir()),
        "affinity": _pin_to_own_cpus,
        "interfaces": _list_interfaces,
    }
    return {name: _outcome(check) for name, check in checks.items()}


def _outcome(check: Callable[[], None]) -> dict[str, bool | str]:
    try:
        check()
    except (OSError, LookupError) as error:
        return {"ok": False, "error": str(error)}
    return {"ok": True, "error": ""}


def _cache_dir() -> Path:
    """systemd's ``$CACHE_DIRECTORY`` (``CacheDirectory=``), else ``$XDG_CACHE_HOME``."""
    for variable in ("CACHE_DIRECTORY", "XDG_CACHE_HOME"):
        if os.environ.get(variable):
            return Path(os.environ[variable].split(":")[0])
    raise LookupError("neither CACHE_DIRECTORY nor XDG_CACHE_HOME is set")


def _home_dir() -> Path:
    if not os.environ.get("HOME"):
        raise LookupError("HOME is not set")
    return Path(os.environ["HOME"])


def _write_and_read(directory: Path) -> None:
    """Write a file into ``directory`` and read it back; raises OSError when it cannot."""
    path = directory / PROBE_FILE
    content = f"written by pid {os.getpid()}\n"
    path.write_text(content, encoding="utf-8")
    if path.read_text(encoding="utf-8") != content:
        raise OSError(f"{path} did not read back what was written")


def _pin_to_own_cpus() -> None:
    """Pin this thread to the CPUs it may already use: a no-op the filter still sees."""
    os.sched_setaffinity(0, os.sched_getaffinity(0))


def _list_interfaces() -> None:
    if not socket.if_nameindex():
        raise OSError("if_nameindex() listed no interface")
