"""Turn the machines of the project's Vagrantfile into pyinfra inventory groups.

pyinfra's own ``@vagrant`` connector may leave pyinfra core, knows nothing of
roles and names hosts ``@vagrant/<name>``. Here Vagrant's own output
(``vagrant status --machine-readable`` and ``vagrant ssh-config``) is parsed
into plain SSH host data, and each machine's roles come from
``FKS_VAGRANT_HOSTS``: the variable the Vagrantfile defines its machines from.

Everything above :func:`run_vagrant` is pure and unit-tested with recordings;
:func:`run_vagrant` and :func:`load_groups` are the thin edge that runs Vagrant.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from fks_infra.catalogue import Role

#: The roles fks-infra knows, also the pyinfra group names. The Vagrantfile's
#: ``ROLES`` line must list the same; tests/unit/test_vagrant.py checks it.
ROLES: Final = tuple(role.value for role in Role)

#: Environment variable both the Vagrantfile and this module read.
HOSTS_ENV: Final = "FKS_VAGRANT_HOSTS"

#: Environment variable (and default) of the private network's first three octets.
SUBNET_ENV: Final = "FKS_VAGRANT_SUBNET"
DEFAULT_SUBNET: Final = "192.168.56"

#: The release of every machine whose entry names none (the Vagrantfile's ``DEFAULT_RELEASE``).
DEFAULT_RELEASE: Final = "debian:bookworm"

#: Group holding every Vagrant machine, whatever its roles.
ALL_GROUP: Final = "vagrant"

#: Seconds one Vagrant command may take: Vagrant needs one to three seconds
#: just to load itself and its plugins; a minute means something hangs.
VAGRANT_TIMEOUT_S: Final = 60.0

_KNOWN_ROLES: Final = ", ".join(ROLES)
_MACHINE_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
_RELEASE = re.compile(r"debian:[a-z][a-z0-9-]*")
_DEFAULT_HOSTS_LINE = re.compile(r'^DEFAULT_HOSTS = "([^"]*)"$', re.MULTILINE)

# ssh-config keys with no pyinfra counterpart that change nothing for pyinfra:
# it never sends a password, ignores agent and default keys once ``ssh_key`` is
# set, has its own log level, forwards no X11, and paramiko accepts the
# ssh-rsa host keys newer Vagrant releases enable.
_IGNORED_SSH_KEYS: Final = frozenset(
    {
        "passwordauthentication",
        "identitiesonly",
        "loglevel",
        "forwardx11",
        "pubkeyacceptedkeytypes",
        "hostkeyalgorithms",
    }
)

# ssh-config key (lower case, as OpenSSH matches them) -> pyinfra SSH connector data key.
_SSH_DATA_KEYS: Final = {
    "hostname": "ssh_hostname",
    "port": "ssh_port",
    "user": "ssh_user",
    "identityfile": "ssh_key",
    "userknownhostsfile": "ssh_known_hosts_file",
    "stricthostkeychecking": "ssh_strict_host_key_checking",
    "forwardagent": "ssh_forward_agent",
}

HostData = dict[str, str | int | bool | list[str]]

#: Host data of every machine of the LXC provider, where it differs from a VM's, each for the
#: same reason as in the nspawn lab (group_data/lab.py). A container shares this machine's
#: kernel and clock: the Vagrantfile drops CAP_SYS_TIME, so chrony only measures; and it
#: reaches no NTP server (only the package mirror), so chrony gets no sources.
LXC_HOST_DATA: Final[HostData] = {"fks_time_adjust_clock": False, "fks_ntp_pools": []}
Groups = dict[str, list[tuple[str, HostData]]]


class VagrantError(Exception):
    """Vagrant's state cannot become an inventory; the message says why and what to do."""


@dataclass(frozen=True)
class SshHost:
    """One ``Host`` block of ``vagrant ssh-config``, as pyinfra host data."""

    name: str
    data: HostData


def parse_hosts_spec(spec: str) -> dict[str, tuple[str, ...]]:
    """Parse ``name:role[+role...][@debian:suite],...`` into machine name -> roles, in order.

    Accepts and rejects exactly what the Vagrantfile's ``fks_hosts`` does, so a
    spec that boots machines also gives them their groups.

    + spec: the value of ``FKS_VAGRANT_HOSTS`` or the Vagrantfile's default

    >>> parse_hosts_spec("lab-1:core+bridge,gpu-1:gpu@debian:trixie")
    {'lab-1': ('core', 'bridge'), 'gpu-1': ('gpu',)}
    """
    return {name: roles for name, (roles, _) in _parse_entries(spec).items()}


def host_releases(spec: str) -> dict[str, str]:
    """Machine name -> its ``distro:suite`` (``DEFAULT_RELEASE`` unless the entry names one):
    the release of the box it boots, the lab's per-host syntax.

    >>> host_releases("lab-1:core,gpu-1:gpu@debian:trixie")
    {'lab-1': 'debian:bookworm', 'gpu-1': 'debian:trixie'}
    """
    return {name: release for name, (_, release) in _parse_entries(spec).items()}


def _parse_entries(spec: str) -> dict[str, tuple[tuple[str, ...], str]]:
    """name -> (roles, release) of every entry of ``spec``; VagrantError naming the bad one."""
    if not spec.strip():
        raise VagrantError(f"{HOSTS_ENV} is empty; expected e.g. 'core-1:core,gpu-1:gpu'")
    hosts: dict[str, tuple[tuple[str, ...], str]] = {}
    for raw_entry in spec.split(","):
        entry = raw_entry.strip()
        host_text, at, release_text = entry.partition("@")
        name, colon, roles_text = host_text.partition(":")
        if not colon or not _MACHINE_NAME.fullmatch(name):
            raise VagrantError(
                f"{HOSTS_ENV} entry {entry!r} is not name:role[+role][@debian:suite]"
            )
        release = release_text.strip() if at else DEFAULT_RELEASE
        if not _RELEASE.fullmatch(release):
            raise VagrantError(
                f"{HOSTS_ENV} gives {name} release {release!r}; "
                "expected debian:<suite>, e.g. debian:trixie"
            )
        if name in hosts:
            raise VagrantError(f"{HOSTS_ENV} names machine {name!r} twice")
        if not roles_text.strip():
            raise VagrantError(f"{HOSTS_ENV} gives {name} no role; known roles: {_KNOWN_ROLES}")
        roles = tuple(dict.fromkeys(role.strip() for role in roles_text.split("+")))
        unknown = [role for role in roles if role not in ROLES]
        if unknown:
            raise VagrantError(
                f"{HOSTS_ENV} gives {name} unknown role(s) {', '.join(map(repr, unknown))}; "
                f"known roles: {_KNOWN_ROLES}"
            )
        hosts[name] = (roles, release)
    return hosts


def default_hosts_spec(vagrantfile_text: str, vagrantfile: Path) -> str:
    """Read the ``DEFAULT_HOSTS = "..."`` line of the Vagrantfile.

    The default lives only in the Vagrantfile, so the machines Vagrant defines
    without ``FKS_VAGRANT_HOSTS`` and the roles pyinfra gives them cannot drift.

    + vagrantfile_text: the Vagrantfile's content
    + vagrantfile: its path, named in the error
    """
    matches = _DEFAULT_HOSTS_LINE.findall(vagrantfile_text)
    if len(matches) != 1:
        raise VagrantError(
            f'{vagrantfile}: expected exactly one line DEFAULT_HOSTS = "...", found {len(matches)}'
        )
    spec: str = matches[0]
    return spec


def parse_machine_states(status_output: str) -> dict[str, str]:
    """Map machine name -> state (``running``, ``poweroff``, ...) from ``vagrant status``.

    + status_output: stdout of ``vagrant status --machine-readable``, lines of
      ``timestamp,target,type,data``
    """
    states: dict[str, str] = {}
    for line in status_output.splitlines():
        if not line.strip():
            continue
        fields = line.split(",", 3)
        if len(fields) != 4:
            raise VagrantError(f"unexpected line in `vagrant status --machine-readable`: {line!r}")
        _, target, kind, data = fields
        if kind == "state":
            states[target] = data
    return states


def parse_machine_providers(status_output: str) -> dict[str, str]:
    """Map machine name -> provider (``virtualbox``, ``libvirt``, ``lxc``) from the
    ``provider-name`` lines of ``vagrant status --machine-readable``.

    + status_output: as for :func:`parse_machine_states` (which checks its lines)
    """
    providers: dict[str, str] = {}
    for line in status_output.splitlines():
        fields = line.split(",", 3)
        if len(fields) == 4 and fields[2] == "provider-name":
            providers[fields[1]] = fields[3]
    return providers


def parse_ssh_config(output: str) -> list[SshHost]:
    """Parse ``vagrant ssh-config`` output (one ``Host`` block per machine).

    Vagrant's settings map onto pyinfra's SSH connector data: ``HostName``,
    ``Port``, ``User``, ``IdentityFile`` (the first one: Vagrant lists the key it
    generated for the machine, and pyinfra takes a single key),
    ``UserKnownHostsFile``, ``StrictHostKeyChecking`` and ``ForwardAgent``.
    A setting pyinfra could not honour (``ProxyCommand``, ``Include``, anything
    unknown) is an error rather than a connection that silently differs.

    + output: stdout of ``vagrant ssh-config``
    """
    blocks: list[tuple[str, dict[str, str]]] = []
    for line in output.splitlines():
        if not line.strip():
            continue
        key, _, value = line.strip().partition(" ")
        key, value = key.lower(), _unquote(value.strip())
        if key == "host":
            blocks.append((value, {}))
        elif not blocks:
            raise VagrantError(f"`vagrant ssh-config` printed {line.strip()!r} before any Host")
        else:
            # Like OpenSSH, the first value of a key wins.
            blocks[-1][1].setdefault(key, value)
    if not blocks:
        raise VagrantError("`vagrant ssh-config` printed no Host block; is any machine running?")
    return [SshHost(name, _connection_data(name, settings)) for name, settings in blocks]


def roles_of(name: str, spec: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Roles of one machine: its ``FKS_VAGRANT_HOSTS`` entry, else its name prefix.

    The prefix rule (``core-*`` is core, ``gpu-*`` gpu, ``bridge-*`` bridge)
    covers machines started with another spec than the current one; any other
    name is an error, so a machine never lands in no group unnoticed.
    """
    if name in spec:
        return spec[name]
    prefix, dash, _ = name.partition("-")
    if dash and prefix in ROLES:
        return (prefix,)
    raise VagrantError(
        f"Vagrant machine {name!r} has no role: it is not in {HOSTS_ENV} "
        f"({','.join(spec) or 'empty'}) and its name does not start with "
        f"{', '.join(role + '-' for role in ROLES)}"
    )


def build_groups(
    hosts: Sequence[SshHost],
    spec: Mapping[str, tuple[str, ...]],
    subnet: str | None = None,
    providers: Mapping[str, str] | None = None,
) -> Groups:
    """Group hosts by role, plus :data:`ALL_GROUP` with every host.

    Every role group exists even when empty, so an inventory file can bind all
    of them unconditionally. With ``subnet``, each host in the spec gets
    ``fks_private_address``: the private-network address the Vagrantfile gives
    it (``<subnet>.<10 + position in the spec>``), because its ssh_hostname is a
    port forward on 127.0.0.1 that peers cannot use. A host whose provider (from
    ``providers``, machine name -> provider) is ``lxc`` also gets :data:`LXC_HOST_DATA`.
    """
    providers = providers or {}
    groups: Groups = {role: [] for role in (*ROLES, ALL_GROUP)}
    seen: set[str] = set()
    for host in hosts:
        if host.name in seen:
            raise VagrantError(f"`vagrant ssh-config` lists machine {host.name!r} twice")
        seen.add(host.name)
        data = dict(host.data)
        if subnet is not None and host.name in spec:
            data["fks_private_address"] = f"{subnet}.{10 + list(spec).index(host.name)}"
        if providers.get(host.name) == "lxc":
            data.update(LXC_HOST_DATA)
        for group in (*roles_of(host.name, spec), ALL_GROUP):
            groups[group].append((host.name, data))
    return groups


def run_vagrant(
    args: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float = VAGRANT_TIMEOUT_S
) -> str:
    """Run ``vagrant <args>`` in ``cwd`` and return its stdout; any failure is a VagrantError."""
    command = shlex.join(["vagrant", *args])
    try:
        result = subprocess.run(
            ["vagrant", *args],
            cwd=cwd,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise VagrantError(
            "`vagrant` is not installed or not on PATH (Debian: apt-get install vagrant)"
        ) from None
    except subprocess.TimeoutExpired:
        raise VagrantError(f"`{command}` in {cwd} did not finish within {timeout:g}s") from None
    if result.returncode != 0:
        raise VagrantError(
            f"`{command}` in {cwd} failed with exit status {result.returncode}: "
            f"{result.stderr.strip() or result.stdout.strip()}"
        )
    return result.stdout


def load_groups(
    vagrant_dir: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = VAGRANT_TIMEOUT_S,
) -> Groups:
    """Inventory groups for the running machines of ``vagrant_dir/Vagrantfile``.

    Asks ``vagrant status`` first because ``vagrant ssh-config`` fails as a
    whole when any machine is not running, and bringing up only ``core-1`` is a
    normal way to work.

    + vagrant_dir: directory of the Vagrantfile (Vagrant keeps its state there)
    + env: environment for Vagrant and the source of ``FKS_VAGRANT_HOSTS``;
      the process environment when omitted
    + timeout: seconds each Vagrant command may take
    """
    env = os.environ if env is None else env
    vagrantfile = vagrant_dir / "Vagrantfile"
    try:
        vagrantfile_text = vagrantfile.read_text(encoding="utf-8")
    except OSError as error:
        raise VagrantError(f"cannot read {vagrantfile}: {error.strerror}") from None
    spec_text = env.get(HOSTS_ENV)
    if spec_text is None:
        spec_text = default_hosts_spec(vagrantfile_text, vagrantfile)
    spec = parse_hosts_spec(spec_text)

    status = run_vagrant(["status", "--machine-readable"], vagrant_dir, env, timeout)
    states = parse_machine_states(status)
    running = [name for name, state in states.items() if state == "running"]
    if not running:
        summary = ", ".join(f"{name}={state}" for name, state in states.items()) or "none"
        raise VagrantError(
            f"no Vagrant machine is running in {vagrant_dir} (states: {summary}); "
            "start them with `vagrant up`"
        )
    hosts = parse_ssh_config(run_vagrant(["ssh-config", *running], vagrant_dir, env, timeout))
    return build_groups(
        hosts, spec, env.get(SUBNET_ENV, DEFAULT_SUBNET), parse_machine_providers(status)
    )


def _connection_data(name: str, settings: Mapping[str, str]) -> HostData:
    """pyinfra SSH connector data for one ``Host`` block of ``vagrant ssh-config``."""
    unsupported = sorted(set(settings) - _IGNORED_SSH_KEYS - set(_SSH_DATA_KEYS))
    if unsupported:
        raise VagrantError(
            f"`vagrant ssh-config` gives {name} setting(s) {', '.join(unsupported)} "
            "that this inventory cannot pass on to pyinfra"
        )
    for required in ("hostname", "port", "user"):
        if required not in settings:
            raise VagrantError(f"`vagrant ssh-config` gives {name} no {required} setting")
    if not settings["port"].isdigit():
        raise VagrantError(f"`vagrant ssh-config` gives {name} port {settings['port']!r}")

    data: HostData = {}
    for key, value in settings.items():
        if key in _SSH_DATA_KEYS:
            data[_SSH_DATA_KEYS[key]] = value
    data["ssh_port"] = int(settings["port"])
    # Vagrant logs in as its box's user (``vagrant``), which reaches root through
    # passwordless sudo, as an operator on a real host does.
    if settings["user"] != "root":
        data["_sudo"] = True
    if "ssh_forward_agent" in data:
        data["ssh_forward_agent"] = settings["forwardagent"] == "yes"
    return data


def _unquote(value: str) -> str:
    """Drop the double quotes Vagrant puts around an IdentityFile path with spaces."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value
