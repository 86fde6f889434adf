"""A lab host whose SSH host key changed is refused, by pyinfra, verify and status alike.

``lab up`` records every host's keys in the lab's known_hosts file, which the lab inventory
checks strictly. Here one host gets new keys (as a reinstall, or an impostor at its address,
would present), every way in refuses it naming host and file, and the recorded keys are put
back.
"""

from __future__ import annotations

import io
import shlex
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from deploying import INVENTORY, fks_infra

from fks_infra.lab.keys import KeyPair, host_keys, known_hosts_lines, write_known_hosts
from fks_infra.lab.state import HostState
from fks_infra.lab.testing import Lab

pytestmark = pytest.mark.lab

#: Where the host's recorded keys wait while it presents others.
SAVED = "/root/fks-lab-host-keys"


def _tar(keys: dict[str, KeyPair]) -> bytes:
    """The host key files of ``keys`` as ``/etc/ssh`` holds them (root's, private 0600)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for kind, pair in keys.items():
            for name, text, mode in (
                (f"ssh_host_{kind}_key", pair.private, 0o600),
                (f"ssh_host_{kind}_key.pub", pair.public, 0o644),
            ):
                data = text.encode()
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.uid, info.gid = len(data), mode, 0, 0
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _ssh(lab: Lab, host: HostState, known_hosts: Path, command: str, stdin: bytes = b"") -> str:
    """``command`` as root (through sudo) on ``host``, checked against ``known_hosts``."""
    argv = lab.ssh_argv(host.name, f"sudo -n sh -c {shlex.quote(command)}", known_hosts=known_hosts)
    done = subprocess.run(argv, input=stdin, capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout.decode()


@pytest.fixture
def changed_key(lab: Lab, tmp_path: Path) -> Iterator[HostState]:
    """The lab's first host, presenting fresh host keys until the test ends."""
    host = lab.hosts[0]
    new = host_keys(host.name)
    impostor = tmp_path / "known_hosts"
    write_known_hosts(impostor, known_hosts_lines(host.address, new))
    _ssh(
        lab, host, lab.known_hosts,
        f"mkdir -m 0700 {SAVED} && cp -p /etc/ssh/ssh_host_* {SAVED}/ && "
        "tar -xf - -C /etc/ssh && systemctl restart ssh",
        stdin=_tar(new),
    )  # fmt: skip
    try:
        yield host
    finally:  # the recorded keys back, over a connection that knows the new ones
        _ssh(
            lab, host, impostor,
            f"cp -p {SAVED}/ssh_host_* /etc/ssh/ && rm -r {SAVED} && systemctl restart ssh",
        )  # fmt: skip
    assert lab.ssh(host.name, "true").returncode == 0


def test_a_changed_host_key_is_refused_everywhere_naming_host_and_file(
    lab: Lab, changed_key: HostState
) -> None:
    host = changed_key
    assert fks_infra("secrets", "init", INVENTORY).returncode == 0

    openssh = lab.ssh(host.name, "true")
    assert openssh.returncode == 255 and "Host key verification failed" in openssh.stderr

    pyinfra = lab.pyinfra("--limit", host.name, "exec", "--", "true")
    assert pyinfra.returncode != 0
    assert f"[{host.name}]" in pyinfra.stderr and "does not match" in pyinfra.stderr

    status = fks_infra("status", INVENTORY)
    assert status.returncode == 1
    refusal = f"error: {host.name} ({host.address}): the SSH host key changed"
    assert refusal in status.stderr and str(lab.known_hosts) in status.stderr, status.stderr
    assert "refused: host key" in status.stdout

    verify = fks_infra("verify", INVENTORY, "--limit", host.name, "--", "-x")
    assert verify.returncode != 0
    assert f"HostKeyError: {host.name} ({host.address}): the SSH host key changed" in verify.stdout
    assert str(lab.known_hosts) in verify.stdout


def test_every_lab_host_key_is_recorded_and_checked(lab: Lab) -> None:
    """No connection of the lab trusts a key it was not given: each host's recorded."""
    recorded = lab.known_hosts.read_text().splitlines()
    for host in lab.hosts:
        offered = lab.ssh(host.name, "cat /etc/ssh/ssh_host_*_key.pub").stdout.splitlines()
        assert {f"{host.address} {' '.join(line.split()[:2])}" for line in offered} <= set(recorded)
    done = lab.pyinfra("exec", "--", "true")
    assert done.returncode == 0, done.stderr
