"""The running lab as tests see it; shared by the lab's own tests and later testinfra suites."""

from __future__ import annotations

import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from fks_infra.lab.keys import known_hosts_file
from fks_infra.lab.paths import LabPaths, repo_root
from fks_infra.lab.rootfs import OPERATORS
from fks_infra.lab.state import HostState, LabState


def lab_inventory() -> Path:
    """The pyinfra inventory file of the lab in this checkout."""
    return repo_root() / "inventory" / "lab.py"


def ssh_options(known_hosts: Path) -> tuple[str, ...]:
    """OpenSSH options for a lab host: its key checked against the lab's ``known_hosts``
    (``keys.known_hosts_file``), the lab key only, never a prompt."""
    return (
        "-o", "StrictHostKeyChecking=yes",
        "-o", f"UserKnownHostsFile={known_hosts}",
        "-o", "LogLevel=ERROR",
        "-o", "IdentitiesOnly=yes",
        "-o", "BatchMode=yes",
    )  # fmt: skip


@dataclass
class Lab:
    """A running lab: its hosts, their addresses, the SSH key and the inventory file."""

    state: LabState
    paths: LabPaths

    @property
    def hosts(self) -> tuple[HostState, ...]:
        return self.state.hosts

    @property
    def addresses(self) -> dict[str, str]:
        return {host.name: host.address for host in self.state.hosts}

    @property
    def key(self) -> Path:
        return Path(self.state.key)

    @property
    def known_hosts(self) -> Path:
        """The lab's known_hosts file: every host's keys as ``lab up`` made them."""
        return known_hosts_file(self.key)

    @property
    def inventory(self) -> Path:
        return lab_inventory()

    def ssh_argv(
        self, host: str, remote: str, user: str = OPERATORS[0], known_hosts: Path | None = None
    ) -> list[str]:
        """The OpenSSH command line running the shell line ``remote`` on ``host`` as ``user``,
        the host key checked against ``known_hosts`` (default: the lab's)."""
        options = ssh_options(known_hosts or self.known_hosts)
        return ["ssh", "-i", str(self.key), *options, f"{user}@{self.addresses[host]}", remote]

    def ssh(
        self, host: str, command: str, timeout: float = 120.0, user: str = OPERATORS[0]
    ) -> subprocess.CompletedProcess[str]:
        """Run the shell line ``command`` on ``host`` as root, logged in as ``user`` (through
        ``sudo`` unless ``user`` is root, as an operator works); the result, never an
        exception."""
        remote = command if user == "root" else f"sudo -n sh -c {shlex.quote(command)}"
        args = self.ssh_argv(host, remote, user)
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)

    def pyinfra(self, *args: str, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
        """Run this venv's real pyinfra CLI against the lab inventory, with ``-y``."""
        pyinfra_bin = Path(sys.executable).with_name("pyinfra")
        return subprocess.run(
            [str(pyinfra_bin), "-y", str(self.inventory), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=repo_root(),
        )
