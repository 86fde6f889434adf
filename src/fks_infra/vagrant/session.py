"""A Vagrant session on this machine: LXC containers up, used, and destroyed without a trace.

:func:`lxc_session` builds the boxes the hosts need (``boxes.ensure_box``), creates the
containers' bridge (``lxcnet.create_network``), runs ``vagrant up --provider=lxc`` and,
however the body ends, ``vagrant destroy -f``, ``lxc-destroy`` of any container Vagrant
lost track of, and the removal of the bridge and NAT table. :func:`demo` is
``make vagrant-demo``: the real ``pyinfra``, ``fks-infra verify`` and ``fks-infra status``
against ``inventory/vagrant.py`` inside such a session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from fks_infra.lab import network as lab_network
from fks_infra.lab import proc
from fks_infra.lab.errors import LabError
from fks_infra.lab.paths import repo_root
from fks_infra.lab.spec import Release, parse_release
from fks_infra.vagrant import (
    HOSTS_ENV,
    SUBNET_ENV,
    VagrantError,
    boxes,
    default_hosts_spec,
    host_releases,
    lxcnet,
)

Report = Callable[[str], None]

#: Prefix of every container the Vagrantfile's lxc block names (``lxc.container_name``).
CONTAINER_PREFIX: Final = "fksv-"

#: Seconds ``vagrant up`` may take: creating a container from a box (unpacking ~100 MB)
#: and booting it takes about 30 s per machine here.
UP_TIMEOUT_S: Final = 900.0
DESTROY_TIMEOUT_S: Final = 300.0
#: Seconds one deploy, verify or status run may take.
STEP_TIMEOUT_S: Final = 1800.0

INVENTORY: Final = "inventory/vagrant.py"


@dataclass(frozen=True)
class Session:
    """A running Vagrant LXC session: where Vagrant runs and the environment every command
    against its machines needs (``FKS_VAGRANT_HOSTS``, ``FKS_VAGRANT_SUBNET``, provider)."""

    root: Path
    env: dict[str, str]
    network: lxcnet.LxcNetwork

    def run(self, args: Sequence[str], timeout: float = STEP_TIMEOUT_S) -> int:
        """Run ``args`` in the repository with the session's environment, output passed
        through; its exit status."""
        try:
            return subprocess.run(
                list(args), cwd=self.root, env=self.env, timeout=timeout, check=False
            ).returncode
        except subprocess.TimeoutExpired as exc:
            raise LabError(f"{' '.join(args)} ran longer than {timeout:.0f}s") from exc


def containers() -> list[str]:
    """LXC containers on this machine that a Vagrant session of this project made."""
    out = proc.run(["lxc-ls", "-1"])
    return sorted(name for name in out.split() if name.startswith(CONTAINER_PREFIX))


def leftovers() -> list[str]:
    """Everything a session leaves when it is not cleaned up: containers, bridge, nft table."""
    found = [f"container {name}" for name in containers()]
    net = lxcnet.find_leftovers()
    if net:
        found.append(net.describe())
    return found


def _restore_forwarding(before: str | None) -> str | None:
    """``ip_forward``'s earlier value to restore, or None while the nspawn lab (which turned
    it on for itself) is up: turning it off would cut the lab's hosts off."""
    return None if lab_network.find_leftovers() else before


def remove_all(root: Path, env: Mapping[str, str], ip_forward_before: str | None) -> None:
    """``vagrant destroy -f``, then ``lxc-destroy`` of any ``fksv-*`` container left, then the
    network. Raises ``LabError`` if anything survives."""
    problems = []
    # Throwaway containers need no orderly shutdown: killed first, `vagrant destroy`
    # finds them stopped and only deletes them (30 s less per machine here).
    for name in containers():
        proc.succeeds(["lxc-stop", "-k", "-n", name], timeout=60.0)
    try:
        subprocess.run(
            ["vagrant", "destroy", "-f"], cwd=root, env=dict(env), capture_output=True,
            text=True, timeout=DESTROY_TIMEOUT_S, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        problems.append(f"vagrant destroy -f ran longer than {DESTROY_TIMEOUT_S:.0f}s")
    for name in containers():
        if not proc.succeeds(["lxc-destroy", "-f", "-n", name], timeout=120.0):
            problems.append(f"lxc-destroy -f -n {name} failed")
    lxcnet.remove_network(_restore_forwarding(ip_forward_before))
    left = leftovers()
    if left or problems:
        raise LabError("the Vagrant session left " + "; ".join([*problems, *left]))


def _require_tools() -> None:
    if os.geteuid() != 0:
        raise LabError("the Vagrant LXC session needs root (lxc-create, ip, nft)")
    missing = [tool for tool in ("vagrant", "lxc-create", "ip", "nft") if not shutil.which(tool)]
    if missing:
        raise LabError(f"missing {', '.join(missing)}: run scripts/install-deps")
    plugins = subprocess.run(
        ["vagrant", "plugin", "list"], capture_output=True, text=True, timeout=60, check=False
    ).stdout
    if "vagrant-lxc" not in plugins:
        raise LabError("Vagrant has no vagrant-lxc plugin: run scripts/install-deps")


def hosts_spec(env: Mapping[str, str], root: Path) -> str:
    """``FKS_VAGRANT_HOSTS`` from ``env``, else the Vagrantfile's ``DEFAULT_HOSTS``."""
    spec = env.get(HOSTS_ENV)
    if spec is None:
        vagrantfile = root / "Vagrantfile"
        spec = default_hosts_spec(vagrantfile.read_text(encoding="utf-8"), vagrantfile)
    return spec


def releases(spec: str) -> tuple[Release, ...]:
    """The distinct releases of the hosts in ``spec``, in order; a bad spec is a LabError."""
    try:
        per_host = host_releases(spec)
    except VagrantError as exc:
        raise LabError(str(exc)) from exc
    return tuple(dict.fromkeys(parse_release(text) for text in per_host.values()))


@contextmanager
def lxc_session(
    spec: str | None = None, report: Report = print, root: Path | None = None
) -> Iterator[Session]:
    """Vagrant machines of ``spec`` (default: ``$FKS_VAGRANT_HOSTS`` or the Vagrantfile's)
    up as LXC containers for the body; destroyed with their network afterwards, always.

    Raises ``LabError`` before creating anything when a tool is missing or an earlier
    session left something (``python -m fks_infra.vagrant down`` removes it), and when
    ``vagrant up`` fails (after cleaning up).
    """
    root = root or repo_root()
    base = dict(os.environ)
    spec = spec or hosts_spec(base, root)
    _require_tools()
    left = leftovers()
    if left:
        raise LabError(
            f"an earlier Vagrant session left {', '.join(left)}; "
            "`python -m fks_infra.vagrant down` removes it"
        )
    for release in releases(spec):
        if boxes.ensure_box(release, report, base):
            report(f"box {boxes.box_name(release)} built and added")
    net = lxcnet.create_network()
    env = {
        **base,
        HOSTS_ENV: spec,
        SUBNET_ENV: net.prefix,
        "VAGRANT_DEFAULT_PROVIDER": "lxc",
        "VAGRANT_CHECKPOINT_DISABLE": "1",
    }
    report(f"containers' network: bridge {lxcnet.BRIDGE}, {net.subnet}")
    try:
        session = Session(root=root, env=env, network=net)
        status = session.run(["vagrant", "up", "--provider=lxc"], timeout=UP_TIMEOUT_S)
        if status != 0:
            raise LabError(f"vagrant up --provider=lxc failed with exit status {status}")
        yield session
    finally:
        report("vagrant destroy -f, and the containers' network removed")
        remove_all(root, env, net.ip_forward_before)


def demo(report: Report = print) -> int:
    """``make vagrant-demo``: up, secrets, deploy, verify, status, destroy. Exit status 0 when
    every step passed."""
    bin_dir = Path(sys.executable).parent
    fks = str(bin_dir / "fks-infra")
    steps = (
        [fks, "secrets", "init", INVENTORY],
        [str(bin_dir / "pyinfra"), "-y", INVENTORY, "deploy/all.py"],
        [fks, "verify", INVENTORY],
        [fks, "status", INVENTORY],
    )
    with lxc_session(report=report) as session:
        for step in steps:
            report("$ " + " ".join(Path(step[0]).name if i == 0 else a for i, a in enumerate(step)))
            status = session.run(step)
            if status != 0:
                report(f"failed with exit status {status}: {' '.join(step[1:])}")
                return status
    return 0
