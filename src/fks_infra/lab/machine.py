"""Starting and stopping the systemd-nspawn process that boots one lab host.

This machine's PID 1 is not systemd, so nspawn runs with ``--register=no
--keep-unit`` and is detached into its own session: the lab outlives the
command that started it. Teardown finds lab processes two ways, so it works
even without the state file: nspawn processes whose command line names the
state directory, and any process living in one of the lab's network namespaces.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from fks_infra.lab import names
from fks_infra.lab.errors import LabError
from fks_infra.lab.network import NETNS_DIR
from fks_infra.lab.paths import LabPaths


def nspawn_args(paths: LabPaths, host: str) -> list[str]:
    """The systemd-nspawn command line that boots ``host`` from its overlay tree."""
    return [
        "systemd-nspawn",
        f"--directory={paths.merged(host)}",
        f"--machine={host}",
        "--boot",
        "--register=no",
        "--keep-unit",
        f"--network-namespace-path={NETNS_DIR / names.netns_name(host)}",
        # Like a VM, a guest manages its own firewall (nftables); the capability reaches only
        # the guest's own network namespace. CAP_SYS_TIME stays out: the clock is the host's.
        # bpf() and CAP_BPF let the guest's systemd attach its units' IPAddressDeny= filters
        # (cgroup BPF programs); without them it drops the filters as "not supported".
        "--capability=CAP_NET_ADMIN,CAP_BPF",
        "--system-call-filter=bpf",
        "--console=read-only",
        # The lab writes the guest's resolv.conf itself; the host's may name a loopback stub.
        "--resolv-conf=off",
        "--timezone=off",
        "--link-journal=no",
        "--settings=no",
    ]


def start(paths: LabPaths, host: str, cgroup_dirs: Sequence[Path] = ()) -> subprocess.Popen[bytes]:
    """Boot ``host`` detached (own session), its console going to a log file.

    + cgroup_dirs: the host's own cgroups, one per hierarchy, that nspawn (and so the guest)
      starts in (see ``cgroups.py``)
    """
    args = nspawn_args(paths, host)
    if cgroup_dirs:
        # A shell joins the cgroups, then becomes nspawn (same pid): nspawn is in them before
        # it starts the guest. (Popen's preexec_fn is unsafe beside the threads of ``up``.)
        joins = " && ".join(
            f"echo $$ > {shlex.quote(str(d / 'cgroup.procs'))}" for d in cgroup_dirs
        )
        args = ["sh", "-c", f'{joins} && exec "$@"', "fks-lab-enter", *args]
    paths.logs.mkdir(parents=True, exist_ok=True)
    with open(paths.console_log(host), "wb") as log:
        return subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def guest_init(nspawn_pid: int) -> int | None:
    """The guest's PID 1 as this machine sees it: nspawn's child; ``None`` if there is none."""
    try:
        children = Path(f"/proc/{nspawn_pid}/task/{nspawn_pid}/children").read_text("ascii")
    except OSError:
        return None
    pids = [int(pid) for pid in children.split()]
    return pids[0] if pids else None


def is_alive(pid: int) -> bool:
    """Whether ``pid`` runs (zombies count as gone; our own children are reaped here)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def cmdline(pid: int) -> list[str]:
    """The arguments of process ``pid``; empty if it is gone or unreadable."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _netns_inodes() -> set[int]:
    if not NETNS_DIR.is_dir():
        return set()
    inodes = set()
    for entry in NETNS_DIR.glob(f"{names.NETNS_PREFIX}*"):
        try:
            inodes.add(entry.stat().st_ino)
        except OSError:
            continue
    return inodes


def _all_pids() -> Iterable[int]:
    return (int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit())


def find_nspawn(paths: LabPaths) -> list[int]:
    """nspawn processes booting a tree below this lab's state directory."""
    marker = str(paths.machines) + "/"
    return [
        pid
        for pid in _all_pids()
        if (cmd := cmdline(pid))
        and Path(cmd[0]).name == "systemd-nspawn"
        and any(marker in arg for arg in cmd)
    ]


def find_guest_processes() -> list[int]:
    """Processes inside any lab network namespace (container inits and all below them)."""
    inodes = _netns_inodes()
    if not inodes:
        return []
    found = []
    for pid in _all_pids():
        try:
            if os.stat(f"/proc/{pid}/ns/net").st_ino in inodes:
                found.append(pid)
        except OSError:
            continue
    return found


def _signal(pids: Iterable[int], sig: signal.Signals) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            continue


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    alive = [pid for pid in pids if is_alive(pid)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [pid for pid in alive if is_alive(pid)]
    return alive


def stop_all(paths: LabPaths, timeout: float = 30.0) -> list[int]:
    """Power off every lab machine, killing what does not stop in time.

    SIGTERM makes nspawn send its container's systemd SIGRTMIN+3, an orderly
    poweroff. What still runs after ``timeout`` seconds is killed, guests first.
    Processes are found afresh rather than taken from the state file, whose
    pids may since have been reused by unrelated programs.
    Returns the processes that had to be killed.
    """
    nspawns = find_nspawn(paths)
    _signal(nspawns, signal.SIGTERM)
    stubborn = _wait_gone(nspawns, timeout)
    guests = find_guest_processes()
    _signal(guests, signal.SIGKILL)
    killed = sorted({*stubborn, *guests, *find_nspawn(paths)})
    _signal(killed, signal.SIGKILL)
    survivors = _wait_gone(killed, 10.0)
    if survivors:
        raise LabError(f"lab processes survived SIGKILL: {', '.join(map(str, survivors))}")
    return killed
