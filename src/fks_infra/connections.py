"""Connecting testinfra to the hosts of an inventory, with pyinfra's connection data.

``fks-infra verify`` and ``fks-infra status`` reach each host as the deploy did: the same
address, port, user, key and elevation (from the host's pyinfra data), and the same host key
policy. testinfra's own paramiko backend never loads a known_hosts file (it accepts any host
key), so its client is made here (``PinnedParamikoBackend``) with pyinfra 3.10's rules for
the same data (``pyinfra/connectors/sshuserclient/client.py``):

- ``ssh_strict_host_key_checking`` (pyinfra's default when the data does not set it:
  ``accept-new``): ``yes`` refuses a host whose key is not recorded; ``accept-new`` records
  it (appending to the known_hosts file) and connects; ``no``/``off`` connects with a
  warning; ``ask`` (and ``None``) would prompt in pyinfra: verify and status never prompt, so
  they refuse as ``yes`` does and say so. Any other value is refused.
- the known_hosts file: ``ssh_known_hosts_file`` when set, else the ``UserKnownHostsFile``
  of the host's block in ``ssh_config_file`` (default ``~/.ssh/config``), else
  ``~/.ssh/known_hosts``; ``~`` expanded.
- a recorded key that differs from the server's is refused whatever the policy (paramiko's
  ``BadHostKeyException``, as in pyinfra).

Both refusals are ``HostKeyError``, naming the inventory host, the address and the file.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko
from paramiko.hostkeys import HostKeyEntry
from testinfra.backend.paramiko import ParamikoBackend

logger = logging.getLogger(__name__)

#: pyinfra host data key -> ssh_config keyword (what testinfra reads from the ssh_config)
_SSH_KEYS = {
    "ssh_hostname": "HostName",
    "ssh_port": "Port",
    "ssh_user": "User",
    "ssh_key": "IdentityFile",
}

#: pyinfra's default ``ssh_strict_host_key_checking`` (``connectors/ssh.py``, DataMeta)
PYINFRA_DEFAULT_POLICY = "accept-new"
#: what each ``ssh_strict_host_key_checking`` value does to a host whose key is not recorded
POLICIES = {"yes": "refuse", "accept-new": "record", "no": "warn", "off": "warn", "ask": "refuse"}

# An ssh_config value: nothing that ends the line (a new directive), quotes (paramiko
# strips one pair), '%' (paramiko expands tokens and has no escape), nor other control
# characters. Whitespace is allowed inside a value, which is then written quoted.
_UNSAFE_VALUE = re.compile(r'[\x00-\x1f\x7f"%]')
# A Host alias is a list of patterns: no whitespace, pattern characters or quotes either.
_UNSAFE_ALIAS = re.compile(r'[\x00-\x20\x7f"%*?!,#]')


class HostKeyError(paramiko.SSHException):
    """A host's SSH key was refused: it differs from the recorded one, or none is recorded
    and the policy (``ssh_strict_host_key_checking``) does not accept new ones."""


class UnsafeSSHConfigValue(ValueError):
    """A value of a host's data that an ssh_config line cannot hold as one value."""


@dataclass(frozen=True)
class HostKeyPolicy:
    """How one host's SSH key is checked: pyinfra's rules for its data (module docstring).

    + strict: the ``ssh_strict_host_key_checking`` value in force (``yes``, ``accept-new``...)
    + known_hosts: the known_hosts file read, and appended to under ``accept-new``
    """

    strict: str | None
    known_hosts: Path

    @property
    def missing(self) -> str:
        """``refuse``, ``record`` or ``warn``: what happens to a host with no recorded key."""
        return POLICIES.get(str(self.strict), "invalid")


def host_key_policy(name: str, data: Mapping[str, Any]) -> HostKeyPolicy:
    """The host key policy of inventory host ``name`` from its pyinfra ``data``.

    Raises ``HostKeyError`` for an ``ssh_strict_host_key_checking`` pyinfra does not accept
    (pyinfra raises ``Invalid value StrictHostKeyChecking=...`` for it).
    """
    strict = data.get("ssh_strict_host_key_checking", PYINFRA_DEFAULT_POLICY)
    if strict is not None and str(strict) not in POLICIES:
        raise HostKeyError(
            f"{name}: ssh_strict_host_key_checking={strict!r} is not one of "
            f"{', '.join(POLICIES)} (pyinfra's values)"
        )
    known_hosts = data.get("ssh_known_hosts_file")
    if not known_hosts:
        known_hosts = _ssh_config_known_hosts(
            str(data.get("ssh_config_file") or "~/.ssh/config"),
            str(data.get("ssh_hostname") or name),
        )
    return HostKeyPolicy(strict, Path(os.path.expanduser(str(known_hosts))))


def _ssh_config_known_hosts(config_file: str, hostname: str) -> str:
    """The first ``UserKnownHostsFile`` the user's ssh_config gives ``hostname`` (pyinfra
    writes new keys to the first), else ``~/.ssh/known_hosts``."""
    path = Path(os.path.expanduser(config_file))
    if path.is_file():
        found = paramiko.SSHConfig.from_path(str(path)).lookup(hostname)
        if found.get("userknownhostsfile"):
            return str(found["userknownhostsfile"]).split()[0]
    return "~/.ssh/known_hosts"


_append_lock = threading.Lock()


class _Policy(paramiko.MissingHostKeyPolicy):
    """paramiko's missing-key hook with pyinfra's policies (``StrictPolicy``,
    ``AcceptNewPolicy``, ``WarningPolicy``), naming the inventory host and the file."""

    def __init__(self, name: str, policy: HostKeyPolicy) -> None:
        self.name = name
        self.policy = policy

    def missing_host_key(self, client: Any, hostname: str, key: paramiko.PKey) -> None:
        known_hosts = self.policy.known_hosts
        if self.policy.missing == "warn":
            logger.warning("%s: no host key for %s in %s", self.name, hostname, known_hosts)
            return
        if self.policy.missing == "record":
            with _append_lock, known_hosts.open("a", encoding="ascii") as handle:
                handle.write(HostKeyEntry([hostname], key).to_line() or "")
            logger.warning(
                "%s: recorded the new host key of %s (%s %s) in %s",
                self.name,
                hostname,
                key.get_name(),
                key.fingerprint,
                known_hosts,
            )
            return
        asked = " (pyinfra would ask; verify and status never do)" * (self.policy.strict != "yes")
        raise HostKeyError(
            f"{self.name} ({hostname}): no host key for {hostname} in {known_hosts}, and "
            f"ssh_strict_host_key_checking={self.policy.strict} does not accept new keys"
            f"{asked}; the server offered {key.get_name()} {key.fingerprint}. Refusing to "
            "connect: record the key after checking its fingerprint, or let it be recorded "
            "(ssh_strict_host_key_checking=accept-new)"
        )


class PinnedParamikoBackend(ParamikoBackend):  # type: ignore[misc]
    """testinfra's paramiko backend, with the host key checked as pyinfra checks it.

    + name: the inventory host (for messages)
    + policy: its ``HostKeyPolicy``
    Other arguments as ``ParamikoBackend`` (``ssh_config``, ``timeout``, ``sudo``...).
    testinfra reconnects by deleting ``client``; the new one is made here again.
    """

    NAME = "paramiko"

    def __init__(self, name: str, policy: HostKeyPolicy, **kwargs: Any) -> None:
        self.policy = policy
        super().__init__(name, **kwargs)

    @functools.cached_property
    def client(self) -> paramiko.SSHClient:
        from fks_infra.transport import set_nodelay

        client = paramiko.SSHClient()
        cfg: dict[str, Any] = {"hostname": self.host.name, "port": 22, "timeout": self.timeout}
        if self.ssh_config:
            config = paramiko.SSHConfig.from_path(self.ssh_config)
            self._load_ssh_config(client, cfg, config, os.path.dirname(self.ssh_config))
        # After the ssh_config, which could set testinfra's accept-anything policy.
        client.set_missing_host_key_policy(_Policy(self.host.name, self.policy))
        if self.policy.known_hosts.exists():
            client.load_host_keys(str(self.policy.known_hosts))
        try:
            client.connect(**cfg, allow_agent=False, look_for_keys=False)
        except paramiko.BadHostKeyException as error:
            client.close()
            port = int(cfg["port"])
            entry = error.hostname if port == 22 else f"[{error.hostname}]:{port}"
            raise HostKeyError(
                f"{self.host.name} ({entry}): the SSH host key changed: the server "
                f"offered {error.key.get_name()} {error.key.fingerprint}, "
                f"{self.policy.known_hosts} records {error.expected_key.fingerprint}; "
                "refusing to connect. If the host was reinstalled, remove the old key "
                f"(ssh-keygen -R '{entry}' -f {self.policy.known_hosts}) after "
                "checking the new one"
            ) from None
        except BaseException:
            client.close()
            raise
        transport = client.get_transport()
        if transport is not None:
            # testinfra has no transport_factory: the live socket gets it (transport.py).
            set_nodelay(transport.sock)
        return client


def _value(name: str, key: str, value: object) -> str:
    """``value`` as one ssh_config value; ``UnsafeSSHConfigValue`` naming host and key for
    one that would end the line, carry quotes or ``%`` tokens."""
    text = str(value)
    if _UNSAFE_VALUE.search(text):
        raise UnsafeSSHConfigValue(
            f"{name}: {key}={text!r} cannot be written to an ssh_config "
            "(control character, quote or '%')"
        )
    return f'"{text}"' if any(c.isspace() for c in text) else text


def ssh_config(hosts: Iterable[tuple[str, Mapping[str, Any]]]) -> str:
    """An ssh_config with one ``Host`` block per inventory host, from its pyinfra data.

    testinfra's paramiko backend reads it (address, port, user, key; the host key policy
    is applied by ``PinnedParamikoBackend``). Every line holds exactly one directive:
    ``UnsafeSSHConfigValue`` for a host name or value that could add another.
    """
    blocks = []
    for name, data in hosts:
        if not name or _UNSAFE_ALIAS.search(name):
            raise UnsafeSSHConfigValue(f"host name {name!r} cannot be an ssh_config Host")
        lines = [f"Host {name}"]
        lines += [
            f"    {keyword} {_value(name, key, data[key])}"
            for key, keyword in _SSH_KEYS.items()
            if data.get(key)
        ]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def write_ssh_config(path: Path, hosts: Iterable[tuple[str, Mapping[str, Any]]]) -> Path:
    """``ssh_config(hosts)`` written to ``path``, readable by this user only."""
    text = ssh_config(hosts)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)
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
    ``write_ssh_config``) on its first command, host key checked as pyinfra would
    (``HostKeyError`` otherwise), elevated as ``data`` says, Nagle off on its socket.

    + options: further ``ParamikoBackend`` options (``timeout``, seconds)
    """
    from testinfra.host import Host

    backend = PinnedParamikoBackend(
        name, host_key_policy(name, data), ssh_config=str(config), **elevation(data), **options
    )
    host = Host(backend)
    backend.set_host(host)
    return host
