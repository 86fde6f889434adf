"""Connecting testinfra to the hosts of an inventory, with pyinfra's connection data."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

#: pyinfra host data key -> ssh_config keyword
_SSH_KEYS = {
    "ssh_hostname": "HostName",
    "ssh_port": "Port",
    "ssh_user": "User",
    "ssh_key": "IdentityFile",
    "ssh_known_hosts_file": "UserKnownHostsFile",
}


def ssh_config(hosts: Iterable[tuple[str, Mapping[str, Any]]]) -> str:
    """An ssh_config with one ``Host`` block per inventory host, from its pyinfra data.

    testinfra's paramiko backend reads it, so verification connects exactly as pyinfra does.
    """
    blocks = []
    for name, data in hosts:
        lines = [f"Host {name}"]
        lines += [
            f"    {keyword} {data[key]}" for key, keyword in _SSH_KEYS.items() if data.get(key)
        ]
        if str(data.get("ssh_strict_host_key_checking", "")).lower() in {"no", "off", "false"}:
            lines.append("    StrictHostKeyChecking no")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def write_ssh_config(path: Path, hosts: Iterable[tuple[str, Mapping[str, Any]]]) -> Path:
    path.write_text(ssh_config(hosts), encoding="utf-8")
    path.chmod(0o600)
    return path
