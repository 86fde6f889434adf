"""The lab's known_hosts: every host key ``lab up`` makes, recorded as OpenSSH and paramiko
read it, so a lab connection checks the key as a production one does."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import paramiko

from fks_infra.lab.keys import host_keys, known_hosts_file, known_hosts_lines, write_known_hosts


def test_every_host_key_is_recorded_under_the_hosts_address(tmp_path: Path) -> None:
    keys = host_keys("core-1")
    path = known_hosts_file(tmp_path / "id_ed25519")
    assert path == tmp_path / "known_hosts"
    write_known_hosts(path, known_hosts_lines("10.213.0.10", keys))
    recorded = paramiko.HostKeys(str(path)).lookup("10.213.0.10")
    assert recorded is not None
    for pair in keys.values():
        private = _load(pair.private)
        assert recorded[private.get_name()] == private  # the key sshd will offer
    assert paramiko.HostKeys(str(path)).lookup("10.213.0.11") is None
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_a_new_lab_replaces_the_old_labs_keys(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    write_known_hosts(path, known_hosts_lines("10.213.0.10", host_keys("core-1")))
    fresh = host_keys("core-1")
    write_known_hosts(path, known_hosts_lines("10.213.0.10", fresh))
    assert len(path.read_text().splitlines()) == 3
    assert fresh["ed25519"].public.split()[1] in path.read_text()


def _load(pem: str) -> paramiko.PKey:
    for kind in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return kind.from_private_key(io.StringIO(pem))
        except paramiko.SSHException:
            continue
    raise AssertionError("no paramiko key type reads it")
