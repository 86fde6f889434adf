"""``up``, ``down`` and ``status``: the lab's life cycle, composed from the single-job modules.

``up`` refuses to start over leftovers and undoes its own partial work when it
fails, so there is never a half lab; ``down`` works from the state file when it
exists and from the naming convention when it does not.
"""

from __future__ import annotations

import fcntl
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import IPv4Network
from pathlib import Path

from fks_infra.lab import cgroups, cis, health, machine, network
from fks_infra.lab.capabilities import require_capabilities
from fks_infra.lab.errors import LabError
from fks_infra.lab.guest import GuestIdentity, prepare_guest
from fks_infra.lab.keys import (
    ensure_lab_key,
    host_keys,
    known_hosts_file,
    known_hosts_lines,
    write_known_hosts,
)
from fks_infra.lab.mirror import Mirrors, system_mirrors
from fks_infra.lab.mounts import mount_overlay, mounts_under, remove_tree, unmount_all_under
from fks_infra.lab.names import BRIDGE, netns_name, veth_name
from fks_infra.lab.paths import LabPaths, cache_dir
from fks_infra.lab.rootfs import ensure_rootfs, purge_cache
from fks_infra.lab.spec import (
    HostSpec,
    Release,
    format_hosts,
    parse_hosts,
    parse_release,
    releases_of,
)
from fks_infra.lab.state import HostState, LabState, NetworkState, load_state, save_state
from fks_infra.lab.subnet import choose_subnet, gateway_address, host_address, system_taken_networks

Report = Callable[[str], None]

#: Threads for per-host work; boots are mostly waiting, so more than the 2 cores helps.
MAX_PARALLEL = 8

BOOT_TIMEOUT_S = 120.0


#: Held by ``up`` and ``down``: the lab's names are machine-wide, so are its commands.
LOCK_FILE = Path("/run/lock/fks-infra-lab.lock")


@contextmanager
def _exclusive() -> Iterator[None]:
    """Refuse to run beside another ``up``/``down``, whose rollback would remove our work."""
    LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK_FILE, "w", encoding="ascii") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise LabError(
                "another `fks-infra lab up` or `down` is running on this machine"
            ) from exc
        yield


def _quiet(_: str) -> None:
    """The default ``Report``: say nothing."""


@dataclass(frozen=True)
class UpResult:
    """What ``up`` did: the lab, each host's systemd state, and where the time went."""

    state: LabState
    host_states: dict[str, str]
    built_rootfs: bool
    reused: bool
    seconds: float


def _console_tail(paths: LabPaths, host: str, lines: int = 15) -> str:
    try:
        text = paths.console_log(host).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no console log)"
    return "\n".join(text.splitlines()[-lines:])


def _leftovers(paths: LabPaths) -> list[str]:
    found = []
    net = network.find_leftovers()
    if net:
        found.append(net.describe())
    found += [f"nspawn pid {pid}" for pid in machine.find_nspawn(paths)]
    found += [f"guest pid {pid}" for pid in machine.find_guest_processes()]
    found += [f"mount {point}" for point in mounts_under(paths.root)]
    found += [f"cgroup {path}" for path in cgroups.leftovers()]
    return found


def _existing_lab(paths: LabPaths, spec: str) -> UpResult | None:
    """The running lab if it is the one asked for and healthy; ``LabError`` for any other lab."""
    state = load_state(paths.state_file)
    if state is None:
        return None
    if state.spec != spec:
        raise LabError(f"a different lab is up ({state.spec}); run `fks-infra lab down` first")
    live = status_of(state, paths)
    unhealthy = {name: s for name, s in live.items() if s not in health.READY_STATES}
    if unhealthy:
        detail = ", ".join(f"{name}: {s}" for name, s in unhealthy.items())
        raise LabError(
            f"the lab is recorded as up but not healthy ({detail}); run `fks-infra lab down`"
        )
    return UpResult(state=state, host_states=live, built_rootfs=False, reused=True, seconds=0.0)


def _start_host(
    paths: LabPaths, state: LabState, host: HostState, identity: GuestIdentity, mirrors: Mirrors
) -> subprocess.Popen[bytes]:
    """Network, overlay (on the host's release's tree), identity and boot of one host."""
    subnet = IPv4Network(state.network.subnet)
    network.attach_host(host.name, identity.address, subnet, gateway_address(subnet))
    mount_overlay(
        lower=Path(host.rootfs),
        upper=paths.upper(host.name),
        work=paths.work(host.name),
        target=paths.merged(host.name),
    )
    prepare_guest(paths.merged(host.name), identity, mirrors, parse_release(host.release).suite)
    if "cis" in host.options:
        cis.harden(paths.merged(host.name))
    limits = cgroups.create(host.name) if cgroups.available() else []
    return machine.start(paths, host.name, limits)


def up(
    hosts_text: str,
    release_text: str,
    paths: LabPaths,
    mirror: str | None = None,
    report: Report = _quiet,
) -> UpResult:
    """Bring up the lab described by ``hosts_text``; see ``docs/LAB.md``.

    + hosts_text: the hosts spec, ``name:role[+role...][@distro:suite]`` comma-separated
    + release_text: ``distro:suite`` of every host whose spec names no release
    + paths: the state directory to use
    + mirror: a Debian mirror URI instead of the one this machine's apt uses
    + report: receives one line per step, for the CLI's progress output

    A bad spec is refused before the lock is even asked for.
    """
    started = time.monotonic()
    hosts = parse_hosts(hosts_text, release_text)
    with _exclusive():
        return _up(hosts, paths, mirror, report, started)


def _up(
    hosts: tuple[HostSpec, ...],
    paths: LabPaths,
    mirror: str | None,
    report: Report,
    started: float,
) -> UpResult:
    spec = format_hosts(hosts)
    require_capabilities()
    existing = _existing_lab(paths, spec)
    if existing is not None:
        return existing
    leftovers = _leftovers(paths)
    if leftovers:
        raise LabError(
            "leftovers of an earlier lab exist (" + "; ".join(leftovers) + "); "
            "run `fks-infra lab down` first"
        )

    mirrors: dict[Release, Mirrors] = {}
    trees: dict[Release, Path] = {}
    built = False
    for release in releases_of(hosts):
        found = mirrors[release] = system_mirrors(release.suite, mirror)
        report(f"base rootfs for {release} (mirror {found.archive}, security {found.security})")
        trees[release], built_now = ensure_rootfs(release, found, cache_dir())
        built = built or built_now
    public_key = ensure_lab_key(paths.key)
    subnet = choose_subnet(system_taken_networks())
    gateway = gateway_address(subnet)
    records = tuple(
        HostState(
            name=host.name,
            roles=host.roles,
            release=str(host.release),
            rootfs=str(trees[host.release]),
            options=host.options,
            address=str(host_address(subnet, index)),
            netns=netns_name(host.name),
            veth=veth_name(host.name),
        )
        for index, host in enumerate(hosts)
    )
    peers = tuple((record.name, host_address(subnet, i)) for i, record in enumerate(records))
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(records))) as pool:
        names = [record.name for record in records]
        keys = dict(zip(names, pool.map(host_keys, names), strict=True))
    identities = [
        GuestIdentity(record.name, address, peers, public_key, keys[record.name])
        for record, (_, address) in zip(records, peers, strict=True)
    ]
    # Recorded before any host boots: every connection to the lab is checked against it.
    write_known_hosts(
        known_hosts_file(paths.key),
        "".join(known_hosts_lines(r.address, keys[r.name]) for r in records),
    )
    try:
        report(f"network {subnet} on bridge {BRIDGE}")
        forward_before = network.create_bridge(subnet, gateway)
        state = LabState(
            spec=spec,
            key=str(paths.key),
            network=NetworkState(
                subnet=str(subnet),
                gateway=str(gateway),
                bridge=BRIDGE,
                ip_forward_before=forward_before,
            ),
            hosts=records,
        )
        save_state(paths.state_file, state)
        report(f"booting {len(records)} host(s)")
        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(records))) as pool:
            processes = list(
                pool.map(
                    lambda pair: _start_host(
                        paths,
                        state,
                        pair[0],
                        pair[1],
                        mirrors[parse_release(pair[0].release)],
                    ),
                    zip(records, identities, strict=True),
                )
            )
            state = state.model_copy(
                update={
                    "hosts": tuple(
                        record.model_copy(update={"pid": process.pid})
                        for record, process in zip(records, processes, strict=True)
                    )
                }
            )
            save_state(paths.state_file, state)
            states = list(
                pool.map(
                    lambda pair: _wait_host(paths, pair[0], pair[1]),
                    zip(state.hosts, processes, strict=True),
                )
            )
    except BaseException:
        report("start failed; removing what was created")
        _down(paths, purge=False)
        raise
    host_states = {record.name: s for record, s in zip(state.hosts, states, strict=True)}
    return UpResult(
        state=state,
        host_states=host_states,
        built_rootfs=built,
        reused=False,
        seconds=time.monotonic() - started,
    )


def _wait_host(paths: LabPaths, host: HostState, process: subprocess.Popen[bytes]) -> str:
    """Wait for ``host`` to be ready, let its units' memory and tasks limits apply (which
    re-executes its systemd), and wait for it again."""

    def ready() -> str:
        try:
            return health.wait_ready(
                host.name,
                host.address,
                paths.key,
                still_booting=lambda: process.poll() is None,
                timeout=BOOT_TIMEOUT_S,
            )
        except LabError as exc:
            tail = _console_tail(paths, host.name)
            raise LabError(f"{exc}\nconsole of {host.name}:\n{tail}") from exc

    booted = ready()
    init = machine.guest_init(process.pid)
    if init is None or not cgroups.available():
        return booted
    cgroups.make_writable(init)
    cgroups.wait_applied(host.name)
    return ready()


def status_of(state: LabState, paths: LabPaths) -> dict[str, str]:
    """Each host's live state: systemd's answer over SSH, ``stopped`` if its machine is gone."""
    running = {
        arg.removeprefix("--machine=")
        for pid in machine.find_nspawn(paths)
        for arg in machine.cmdline(pid)
        if arg.startswith("--machine=")
    }

    def one(host: HostState) -> str:
        if host.name not in running:
            return "stopped"
        return health.live_state(host.address, paths.key)

    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(state.hosts))) as pool:
        return dict(zip((h.name for h in state.hosts), pool.map(one, state.hosts), strict=True))


@dataclass(frozen=True)
class DownResult:
    """What ``down`` found and removed."""

    killed: list[int]
    unmounted: list[Path]
    network: network.NetworkLeftovers
    purged: list[Path]


def down(paths: LabPaths, purge: bool = False) -> DownResult:
    """Stop and remove everything of the lab; with ``purge`` also the cached base rootfs.

    Works without (or with a corrupt) state file: processes, mounts and network
    objects are found by the naming convention of ``names`` and the state directory.
    """
    with _exclusive():
        return _down(paths, purge)


def _down(paths: LabPaths, purge: bool) -> DownResult:
    try:
        state = load_state(paths.state_file)
    except LabError:
        state = None
    killed = machine.stop_all(paths)
    unmounted = unmount_all_under(paths.root)
    cgroups.remove_all()
    net = network.remove_network(state.network.ip_forward_before if state else None)
    remove_tree(paths.machines)
    # Its hosts' keys go with them; the next ``up`` records new ones.
    known_hosts_file(paths.key).unlink(missing_ok=True)
    paths.state_file.unlink(missing_ok=True)
    purged = purge_cache(cache_dir()) if purge else []
    left = _leftovers(paths)
    if left:
        raise LabError("`lab down` could not remove: " + "; ".join(left))
    return DownResult(killed=killed, unmounted=unmounted, network=net, purged=purged)
