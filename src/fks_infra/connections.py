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
    """``ssh_config(hosts)`` written to ``path``, readable by this user only."""
    path.write_text(ssh_config(hosts), encoding="utf-8")
    path.chmod(0o600)
    return path


def elevation(data: Mapping[str, Any]) -> dict[str, Any]:
    """testinfra's ``sudo``/``sudo_user`` for a host from its pyinfra data (``_sudo``,
    ``_sudo_user``): its checks run as the deploy's commands do, as root through sudo where
    the inventory logs in as another user."""
    if not data.get("_sudo"):
        return {}
    user = data.get("_sudo_user")
    return {"sudo": True, **({"sudo_user": str(user)} if user else {})}


def remote_host(name: str, data: Mapping[str, Any], config: Path, **options: Any) -> Any:
    """The testinfra host for inventory host ``name``: connected by ``config`` (see
    ``write_ssh_config``), elevated as ``data`` says, Nagle off on its socket.

    + options: further ``testinfra.get_host`` options (``timeout``, seconds)
    """
    import testinfra

    from fks_infra.transport import set_nodelay

    found = testinfra.get_host(
        f"paramiko://{name}", ssh_config=str(config), **elevation(data), **options
    )
    # testinfra has no transport_factory: the live socket gets it (fks_infra/transport.py).
    set_nodelay(found.backend.client.get_transport().sock)
    return found
