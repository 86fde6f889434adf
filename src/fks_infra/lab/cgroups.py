"""Each guest's own cgroups: its units' limits enforced, its units apart from its neighbours'.

This machine's PID 1 is not systemd and its cgroups are hybrid: the ``memory`` and ``pids``
controllers are bound to cgroup v1 hierarchies, and the v2 tree (``/sys/fs/cgroup/unified``)
offers none of them. A guest's systemd therefore runs hybrid too, and applies

- ``MemoryMax=`` as v1 ``memory.limit_in_bytes`` and ``TasksMax=`` as v1 ``pids.max``; but
  systemd-nspawn mounts those hierarchies *read-only* in the guest (a read-only bind mount
  over a writable superblock), so every write failed and the limits were silently absent.
  Each guest now gets its own subtree in both hierarchies (``fkslab-<host>``, below the cgroup
  the lab runs in, which also becomes the root of the guest's cgroup namespace) and, once
  booted, its two mounts are made writable. Nothing of this machine's own setup changes:
  the subtrees are removed with the lab.
- ``IPAddressDeny=``/``IPAddressAllow=`` as BPF programs attached to the unit's cgroup in the
  v2 tree; nspawn's seccomp filter refuses ``bpf()`` and the guest lacked ``CAP_BPF``, so
  systemd found the BPF firewall "not supported" and dropped it (``machine.nspawn_args``).

The guest's units started at boot, before its mounts became writable, stay without a v1
memory/pids cgroup of their own; everything started after the guest's systemd re-executed
(every deployed service) has one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from fks_infra.lab import proc
from fks_infra.lab.errors import LabError
from fks_infra.lab.names import CGROUP_PREFIX, cgroup_name

V1_ROOT = Path("/sys/fs/cgroup")
#: The v1 hierarchies whose limits the guests' units set.
CONTROLLERS = ("memory", "pids")
#: Every hierarchy a guest gets a cgroup of its own in: mount directory below ``V1_ROOT``
#: -> how ``/proc/self/cgroup`` names it (v2's line has no controller). Besides the limits,
#: the two trees systemd tracks units in: nspawn puts a guest's ``payload`` below the cgroup
#: it started in, and guests that start in one cgroup share one ``payload``; each guest's
#: ``system.slice/chrony.service`` was then the same cgroup as its neighbours'. A guest
#: that stopped its chrony read the neighbours' processes as pid 0 ("Failed to kill control
#: group ... Input/output error") and could not attach the restarted one (219/CGROUP).
HIERARCHIES = {"memory": "memory", "pids": "pids", "systemd": "name=systemd", "unified": ""}


def own_cgroup(hierarchy: str, proc_cgroup: str | None = None) -> str:
    """This process's cgroup path in ``hierarchy`` (a key of ``HIERARCHIES``; ``/`` at its
    root).

    + proc_cgroup: the text of ``/proc/self/cgroup`` (read when not given)

    Raises ``LookupError`` when this machine has no such hierarchy.
    """
    name = HIERARCHIES[hierarchy]
    text = proc_cgroup if proc_cgroup is not None else Path("/proc/self/cgroup").read_text()
    for line in text.splitlines():
        number, controllers, path = line.split(":", 2)
        if (name and name in controllers.split(",")) or (not name and number == "0"):
            return path
    raise LookupError(f"no cgroup hierarchy {name or 'v2'} on this machine")


def _lab_parent(hierarchy: str) -> Path:
    """The directory the guests' cgroups go in: this process's own cgroup in ``hierarchy``."""
    return V1_ROOT / hierarchy / own_cgroup(hierarchy).lstrip("/")


def guest_cgroup(host: str, hierarchy: str) -> Path:
    """The directory of ``host``'s own cgroup in ``hierarchy`` (a key of ``HIERARCHIES``)."""
    return _lab_parent(hierarchy) / cgroup_name(host)


def guest_cgroups(host: str) -> list[Path]:
    """The directories of ``host``'s own cgroup in every one of ``HIERARCHIES``."""
    return [guest_cgroup(host, hierarchy) for hierarchy in HIERARCHIES]


def available() -> bool:
    """Whether this machine has every hierarchy of ``HIERARCHIES``, writable, to give out
    (its hybrid layout; a pure v2 machine gives nspawn what it needs by itself)."""
    try:
        return all(os.access(_lab_parent(hierarchy), os.W_OK) for hierarchy in HIERARCHIES)
    except (LookupError, OSError):
        return False


def create(host: str) -> list[Path]:
    """Make ``host``'s cgroups exist (empty); returns them for ``machine.start``."""
    paths = guest_cgroups(host)
    for path in paths:
        path.mkdir(exist_ok=True)
    return paths


def make_writable(guest_init: int) -> None:
    """Remount the guest's read-only v1 memory and pids mounts read-write, then make its
    systemd re-execute so that it takes them up.

    + guest_init: the guest's PID 1, as this machine sees it

    systemd decides once, when it starts, which controllers it can use; at boot the mounts
    were read-only, so without the re-execution it would keep leaving them alone. SIGTERM is
    systemd's own "serialize, re-execute, deserialize" (systemd(1), SIGNALS): units keep
    running. The caller waits for the guest to answer again.
    Raises ``LabError`` naming the command when ``nsenter``/``mount`` fails.
    """
    for controller in CONTROLLERS:
        proc.run(
            ["nsenter", f"--target={guest_init}", "--mount", "--", "mount", "-o",
             "remount,bind,rw", str(V1_ROOT / controller)],
            timeout=30,
        )  # fmt: skip
    os.kill(guest_init, signal.SIGTERM)


def wait_applied(host: str, timeout: float = 30.0) -> None:
    """Wait until ``host``'s re-executed systemd has taken up both hierarchies: from then on
    its units get their limits. Raises ``LabError`` after ``timeout`` seconds.

    The sign is its own ``init.scope`` in each, which it could not create while the mounts
    were read-only. (Not ``system.slice``: systemd 252, Debian 12's, creates every slice at
    once, but 257, Debian 13's, only when a unit in it next starts.)
    """
    deadline = time.monotonic() + timeout
    wanted = [guest_cgroup(host, hierarchy) / "init.scope" for hierarchy in CONTROLLERS]
    while not all(path.is_dir() for path in wanted):
        if time.monotonic() > deadline:
            missing = ", ".join(str(path) for path in wanted if not path.is_dir())
            raise LabError(f"{host}: its systemd did not take up its cgroups ({missing})")
        time.sleep(0.2)


def _remove(path: Path) -> None:
    """``rmdir`` a cgroup and every cgroup below it, deepest first (v1 needs them empty)."""
    for child in sorted((p for p in path.iterdir() if p.is_dir()), reverse=True):
        _remove(child)
    with contextlib.suppress(FileNotFoundError):
        path.rmdir()


def leftovers() -> list[Path]:
    """Every lab cgroup still there (below this process's own cgroups)."""
    found: list[Path] = []
    for hierarchy in HIERARCHIES:
        try:
            base = _lab_parent(hierarchy)
        except LookupError:
            continue
        if base.is_dir():
            found += sorted(base.glob(f"{CGROUP_PREFIX}*"))
    return found


def remove_all() -> list[Path]:
    """Remove every lab cgroup (the guests must be gone); returns what was removed."""
    removed = leftovers()
    for path in removed:
        _remove(path)
    return removed
