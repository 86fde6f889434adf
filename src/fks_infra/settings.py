"""The settings an inventory may give a host, as one typed model.

Every setting is a flat ``fks_*`` key (pyinfra merges data one top-level key at a time, so
nested dicts would be replaced whole, not merged). Keys starting with ``fks_`` that the model
does not know are errors: a typo must not silently read as the default.

Every string that reaches a host, a config file, a command or an ssh_config is checked
against what its consumer accepts, here, before anything runs: no control or invisible
characters anywhere, hosts are DNS names or IP addresses (``fks_infra.addresses``), URLs are
parsed (``urllib.parse``) and hold no quotes, spaces, shell syntax or credentials, file paths
on this machine hold only portable file name characters. pyinfra's own ``ssh_*`` connection
keys get the same treatment (``ConnectionData``).

This model is the one source of every setting's default and of its documentation (the
docstring under each field). ``group_data/all.py``, the documented defaults pyinfra loads for
every host, is generated from it (``fks_infra.group_data``; ``make docs``), and a test diffs it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from ipaddress import IPv4Address, IPv6Address
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyAddress,
    SecretStr,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from fks_infra.addresses import SCOPED, host_problem
from fks_infra.errors import Problem, shown

PREFIX = "fks_"
#: pyinfra's SSH connector keys (``pyinfra.connectors.ssh.ConnectorData``) start so.
SSH_PREFIX = "ssh_"
#: Longest string any setting or connection key may hold: PATH_MAX, the longest a
#: legitimate value (a file path) gets.
MAX_TEXT = 4096


def text_problem(value: object) -> str | None:
    """What makes a setting's value unsafe in any file or command, wherever it goes, or None.

    + value: a setting's raw value; strings inside lists, tuples and dicts (keys too) count

    Refused: characters Python's ``str.isprintable`` calls unprintable (controls such as NUL,
    CR and LF, U+0085, U+2028, format characters such as bidi overrides, separators other
    than the ASCII space) and strings over ``MAX_TEXT`` characters. The answer names the
    character's code point and position, never the value.
    """
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            return f"is {len(value)} characters long; at most {MAX_TEXT}"
        for index, char in enumerate(value):
            if not char.isprintable():
                return f"holds the unprintable character U+{ord(char):04X} at position {index}"
        return None
    if isinstance(value, Mapping):
        items: list[object] = [*value.keys(), *value.values()]
    elif isinstance(value, list | tuple | set | frozenset):
        items = list(value)
    else:
        return None
    return next((found for item in items if (found := text_problem(item))), None)


def _printable(value: Any) -> Any:
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _host(value: str) -> str:
    problem = host_problem(value)
    if problem:
        raise ValueError(f"not a host: {problem}")
    return value


def _unscoped(address: IPv4Address | IPv6Address) -> IPv4Address | IPv6Address:
    if isinstance(address, IPv6Address) and address.scope_id is not None:
        raise ValueError(SCOPED)
    return address


#: A file path on the control machine: portable file name characters (POSIX), ``/``, inner
#: spaces, ``+ @ : ,`` and a leading ``~``; nothing an ssh_config, a shell or a TOML
#: string would read as syntax.
_PATH = re.compile(r"~?[A-Za-z0-9._/+@:,=-]+( [A-Za-z0-9._/+@:,=-]+)*")


def _local_path(value: str) -> str:
    if not _PATH.fullmatch(value):
        raise ValueError(
            "a file path here may hold letters, digits, inner spaces and . _ - + @ : , = / "
            "(and a leading ~) only"
        )
    return value


#: What a URL here may hold: RFC 3986 unreserved characters, the delimiters an endpoint
#: needs (``: / ? @ [ ] & + , =``) and %XX escapes. No quotes, spaces, ``$ ; ( ) | < > \``
#: or backquotes (shell syntax), no ``#`` (a fragment never reaches a server), no bare ``%``
#: (a systemd specifier).
_URL = re.compile(r"([A-Za-z0-9\-._~:/?@\[\]&+,=]|%[0-9A-Fa-f]{2})+")


def _url(*schemes: str) -> Callable[[str], str]:
    """A validator of URLs of ``schemes``: parsed by ``urllib.parse.urlsplit``, with a host
    (DNS name or IP address) and a valid port where the scheme has a network location, no
    user or password (they would land in world-readable files and logs)."""

    def check(value: str) -> str:
        if not _URL.fullmatch(value):
            raise ValueError(
                "a URL here may hold letters, digits, - . _ ~ : / ? @ [ ] & + , = and %XX "
                "escapes only (no quotes, spaces, shell syntax or #fragment)"
            )
        parts = urlsplit(value)
        if parts.scheme not in schemes:
            raise ValueError(f"the URL's scheme must be {' or '.join(schemes)}")
        if parts.scheme == "file":
            if parts.netloc or not parts.path.startswith("/"):
                raise ValueError("a file: URL is file:///absolute/path")
            return value
        if "@" in parts.netloc:
            raise ValueError(
                "a URL here holds no user or password (they would be written into "
                "world-readable files): give credentials as a secret"
            )
        problem = host_problem(parts.hostname or "")
        if problem:
            raise ValueError(f"the URL's host {problem}")
        try:
            parts.port  # noqa: B018 (urllib checks the port when it is read)
        except ValueError:
            raise ValueError("the URL's port is not a number from 0 to 65535") from None
        return value

    return check


#: Tailscale's address ranges: an egress network must not cover them (the tailnet policy
#: would open every port of every node to the services' hosts).
TAILNET_NETWORKS = ("100.64.0.0/10", "fd7a:115c:a1e0::/48")
#: Variables set by systemd itself for a service; ``fks_service_environment`` may not set them.
SYSTEMD_VARIABLES = (
    "STATE_DIRECTORY",
    "CACHE_DIRECTORY",
    "RUNTIME_DIRECTORY",
    "LOGS_DIRECTORY",
    "CONFIGURATION_DIRECTORY",
    "CREDENTIALS_DIRECTORY",
    "INVOCATION_ID",
    "JOURNAL_STREAM",
    "NOTIFY_SOCKET",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
    "MAINPID",
)
#: Variables of the env file that fks-infra writes itself (``datastores.config.datastore_env``;
#: a test keeps them equal): EnvironmentFile= would silently win over the unit's value.
ENV_FILE_VARIABLES = (
    "DATABASE_URL",
    "POSTGRES_HOST",
    "POSTGRES_PORT",
    "POSTGRES_DB",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_PASSWORD",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    # The release id the rollout gives the service.
    "FKS_RELEASE_ID",
)
#: Names a secret goes by: their values must not be written into a world-readable unit.
_SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|(API|PRIVATE|ACCESS)_?KEY")
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def _catalogue_names() -> tuple[str, ...]:
    # Imported here: the catalogue module is loaded after this one by some entry points.
    from fks_infra.catalogue import CATALOGUE

    return CATALOGUE.names


def environment_name_problem(name: str) -> str | None:
    """Why ``name`` may not be set by ``fks_service_environment``, or None.

    Refused: names that are no shell variable name, names fks-infra or systemd set
    themselves (the unit's own, ``services.units.RESERVED_VARIABLES``; the proxy variables of
    ``access.PROXY_VARIABLES``; the env file's; the bridges' endpoints), the dynamic loader's
    (``LD_*``), and secrets' names: a catalogue secret's, or one that reads like a secret
    (``*PASSWORD*``, ``*TOKEN*``, ``*API_KEY*``...). The answer never holds a value.
    """
    # Imported here: both modules read this one.
    from fks_infra.access import PROXY_VARIABLES
    from fks_infra.catalogue import CATALOGUE
    from fks_infra.services.units import RESERVED_VARIABLES

    if not _VARIABLE_NAME.fullmatch(name):
        return f"{shown(name)} is not a variable name (letters, digits, _; not a digit first)"
    secrets = {secret for service in CATALOGUE for secret in service.secrets}
    if name in secrets or _SECRET_NAME.search(name.upper()):
        return (
            f"{name} names a secret: secrets go in the secrets file (fks_secrets_file), never "
            "in a unit, which every local user may read"
        )
    if name in PROXY_VARIABLES:
        return f"{name} is set from fks_egress_proxy"
    endpoints = {variable for service in CATALOGUE for variable, _ in service.environment}
    set_elsewhere = {*RESERVED_VARIABLES, *SYSTEMD_VARIABLES, *ENV_FILE_VARIABLES, *endpoints}
    if name in set_elsewhere:
        return f"{name} is set by fks-infra or systemd itself"
    if name.startswith("LD_"):
        return f"{name} is the dynamic loader's, not a service setting"
    return None


def egress_network_problem(text: str) -> str | None:
    """Why ``text`` is no egress network (``fks_egress_allow``), or None.

    An address or a CIDR network without host bits (``203.0.113.0/24``, ``2001:db8::/32``),
    outside loopback (always reachable) and Tailscale's ranges (``TAILNET_NETWORKS``).
    """
    import ipaddress

    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError as error:
        return f"is not an address or a network without host bits ({error})"
    if network.is_loopback:
        return "is loopback, which every unit reaches already"
    for tailnet in map(ipaddress.ip_network, TAILNET_NETWORKS):
        if network.version == tailnet.version and network.overlaps(tailnet):
            return (
                f"covers Tailscale's addresses ({tailnet}); to reach any address, leave "
                "fks_egress_allow unset"
            )
    return None


def _is_address(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


#: A host other programs are given: an RFC 1123 DNS name or an IP address without scope.
Host = Annotated[str, AfterValidator(_host)]
#: An IP address without an IPv6 scope (``fe80::1%eth0``: its % is a systemd specifier).
Address = Annotated[IPvAnyAddress, AfterValidator(_unscoped)]
#: A file on the control machine (relative to the project root, or absolute).
LocalPath = Annotated[str, StringConstraints(min_length=1), AfterValidator(_local_path)]
#: An HTTP(S) endpoint a service or check calls.
EndpointUrl = Annotated[str, AfterValidator(_url("http", "https"))]
#: An apt repository or a file it serves: HTTP(S), or file:/// for a local mirror.
RepositoryUrl = Annotated[str, AfterValidator(_url("http", "https", "file"))]
#: A catalogue service's name (``fks_infra.catalogue``; unknown ones are refused in plan).
_SERVICE_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")

#: ``tailscale up`` flags fks-infra sets itself; ``fks_tailscale_up_extra_args`` may not.
TAILSCALE_MANAGED_FLAGS = (
    "--auth-key",
    "--authkey",
    "--hostname",
    "--advertise-tags",
    "--login-server",
    "--reset",
    "--timeout",
)
#: Who a tailnet policy may name as tag owner or admin: an autogroup, group, tag or user.
_POLICY_PRINCIPAL = re.compile(
    r"autogroup:[a-z-]+|group:[A-Za-z0-9._-]+|tag:[a-z0-9-]+|[A-Za-z0-9._+-]+@[A-Za-z0-9.-]+"
)
#: One ``tailscale up`` flag: ``--name`` or ``--name=value``, the value of characters no
#: shell or tailscale's flag parser reads as syntax (routes, addresses, names, lists).
_UP_FLAG = re.compile(r"--[a-z][a-z0-9-]*(=[A-Za-z0-9._:/,@+-]*)?")
#: A login name: POSIX portable user name characters, at most 32 (useradd's limit).
_USER = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$"


class HostSettings(BaseModel):
    """Validated ``fks_*`` settings of one host (group data merged with host data)."""

    # The docstring under each field documents it: it becomes the comment above the setting
    # in the generated group_data/all.py. fks_infra.group_data reads it from this source when
    # it generates; pydantic's use_attribute_docstrings would parse this file in every process.
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _all_printable(cls, value: Any) -> Any:
        return _printable(value)

    fks_services_extra: tuple[str, ...] = ()
    """Catalogue services to run on a host in addition to those of its roles (names)."""
    fks_services_skip: tuple[str, ...] = ()
    """Catalogue services not to run on a host although its roles include them (names)."""
    fks_port_overrides: dict[str, int] = Field(default_factory=dict)
    """Move services to other ports, {name: port}; each stays within its category's range."""
    fks_secrets_file: LocalPath = "secrets/fks.toml"
    """TOML file of secrets (relative to the project root); FKS_SECRET_<NAME> env vars win."""
    fks_private_address: Address | None = None
    """Address other inventory hosts reach this host at (default: its ssh_hostname, an IP)."""
    fks_bind_address: Address | None = None
    """Address the services listen on (default: fks_private_address); "127.0.0.1" for one host."""
    fks_release_source: LocalPath = "demo"
    """Where releases come from: "demo", a checkout root holding services/<name>, or
    artifacts:DIR."""
    fks_release_sources: dict[str, str] = Field(default_factory=dict)
    """Per-service release sources, {name: source}, overriding fks_release_source."""
    fks_releases_keep: int = Field(3, ge=2, le=20)
    """Releases kept per service on a host (the live one and its predecessors), at least 2."""
    fks_health_timeout: int = Field(60, ge=1, le=900)
    """Seconds a (re)started service has to answer /health with 200 before it is rolled back."""
    fks_preflight_min_free_mib: int = Field(1024, ge=0)
    """Pre-flight: MiB that must be free on / before a deploy changes anything on a host."""
    fks_preflight_max_clock_skew: int = Field(30, ge=1)
    """Pre-flight: seconds a host's clock may differ from the control machine's (trading hosts)."""
    fks_memory_max: str = Field("1G", pattern=r"^([1-9][0-9]*[KMGT]?|([1-9][0-9]?|100)%|infinity)$")
    """MemoryMax= of every FKS unit (systemd size: 512M, 2G, a percentage, or infinity)."""
    fks_tasks_max: int = Field(512, ge=16)
    """TasksMax= of every FKS unit: processes plus threads a service may have."""
    fks_write_execute_services: tuple[str, ...] = ("ai", "training")
    """Services whose runtime JIT-compiles code (PyTorch, numba): MemoryDenyWriteExecute=no."""
    fks_service_environment: dict[str, dict[str, str]] = Field(default_factory=dict)
    """Extra variables per service, {name: {VARIABLE: value}}, set in its unit (Environment=):
    never secrets (the unit is world-readable; secrets go in the secrets file)."""

    # Egress (fks_infra.access.Egress): what the services that talk to the outside may reach.
    # Every other service reaches only localhost and the inventory's hosts.
    fks_egress_services: tuple[str, ...] | None = None
    """Services of this host that talk to the outside (names); None: the catalogue's
    (execution, data_ingestion, crypto, futures, stocks, analyze, ai); []: none."""
    fks_egress_allow: tuple[str, ...] | None = None
    """Networks egress services may reach (CIDRs, e.g. "203.0.113.0/24"), the host's DNS
    resolvers (/etc/resolv.conf) added; None: any address (IPAddressAllow=any), or only
    fks_egress_proxy when that is set; []: nothing outside."""
    fks_egress_proxy: EndpointUrl | None = None
    """HTTP(S) proxy egress services go through, http://ADDRESS:PORT (HTTPS_PROXY, HTTP_PROXY
    and NO_PROXY in their units; only it and fks_egress_allow reachable); a proxy named by
    DNS name needs fks_egress_allow to list its networks; None: no proxy."""

    @field_validator("fks_service_environment")
    @classmethod
    def _environment(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for service, variables in value.items():
            if service not in _catalogue_names():
                raise ValueError(f"key {shown(service)} is not a catalogue service")
            for name in variables:
                problem = environment_name_problem(name)
                if problem:
                    raise ValueError(f"{service}: {problem}")
        return value

    @field_validator("fks_egress_services")
    @classmethod
    def _egress_services(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for index, name in enumerate(value or ()):
            if name not in _catalogue_names():
                raise ValueError(f"item {index} ({shown(name)}) is not a catalogue service")
        return value

    @field_validator("fks_egress_allow")
    @classmethod
    def _egress_networks(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for index, item in enumerate(value or ()):
            problem = egress_network_problem(item)
            if problem:
                raise ValueError(f"item {index} ({shown(item)}) {problem}")
        return value

    @field_validator("fks_egress_proxy")
    @classmethod
    def _egress_proxy(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.path not in ("", "/") or parts.query:
            raise ValueError("a proxy URL is http(s)://ADDRESS:PORT, with no path or query")
        # A name: IPAddressAllow= takes addresses only, so fks_egress_allow must name the
        # networks the proxy is in (unless it failed its own check, reported apart).
        named = not _is_address(parts.hostname or "")
        if named and "fks_egress_allow" in info.data and not info.data["fks_egress_allow"]:
            raise ValueError(
                "the proxy is named by DNS name, which a unit's IPAddressAllow= cannot "
                "take: give its IP address, or list the networks its addresses are in "
                "in fks_egress_allow"
            )
        return value

    fks_tailscale_enabled: bool = True
    """Install Tailscale and join every host to the tailnet (needs secret TAILSCALE_AUTHKEY)."""
    fks_tailscale_repository: RepositoryUrl | None = None
    """apt repository Tailscale comes from; None: pkgs.tailscale.com/stable/<host's distro>."""
    fks_tailscale_suite: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    """Suite of that repository; None: the host's codename (another release's is refused)."""
    fks_tailscale_keyring_url: RepositoryUrl | None = None
    """URL of the repository's signing keyring (.gpg); None: <repository>/<suite>.noarmor.gpg."""
    fks_tailscale_keyring_file: LocalPath | None = None
    """Keyring file on this machine (relative to the project root) shipped instead of the URL."""
    fks_tailscale_keyring_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    """SHA-256 the downloaded keyring must have (hex); None trusts the URL's TLS alone."""
    fks_tailscale_version: str | None = Field(None, pattern=r"^[0-9][0-9A-Za-z.+~:-]*$")
    """Pin tailscale to this package version (apt preferences, e.g. "1.76.6"); None: latest."""
    fks_tailscale_hostname: str | None = Field(
        None, pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
    )
    """Tailscale machine name (DNS label); None: the first label of the host's inventory name."""
    fks_tailscale_login_server: EndpointUrl | None = None
    """Control server URL for headscale; None: Tailscale's own coordination server."""
    fks_tailscale_up_extra_args: tuple[str, ...] = ()
    """More `tailscale up` flags, each "--flag=value" (hostname, tags, key: set by fks-infra)."""
    fks_tailscale_port: int = Field(41641, ge=1, le=65535)
    """UDP port tailscaled listens on for WireGuard (/etc/default/tailscaled PORT)."""
    fks_tailscale_tag_owners: tuple[str, ...] = Field(("autogroup:admin",), min_length=1)
    """Policy: who may apply the fks tags (autogroup:admin, group:..., user@domain)."""
    fks_tailscale_admins: tuple[str, ...] = Field(("autogroup:admin",), min_length=1)
    """Policy: who may reach SSH (22) and HTTPS (443) on every fks host."""

    @field_validator("fks_tailscale_up_extra_args")
    @classmethod
    def _no_managed_flags(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for index, arg in enumerate(value):
            flag = arg.split("=", 1)[0]
            if flag in TAILSCALE_MANAGED_FLAGS:
                raise ValueError(f"{flag} is set by fks-infra from other settings, not here")
            # Not echoed: a bare value here may be a pasted auth key.
            if not arg.startswith("--"):
                raise ValueError(f"item {index} is not a --flag (write --flag=value as one item)")
            if not _UP_FLAG.fullmatch(arg):
                raise ValueError(
                    f"item {index} is not --flag or --flag=value with a value of letters, "
                    "digits and . _ : / , @ + - only"
                )
        return value

    @field_validator("fks_tailscale_tag_owners", "fks_tailscale_admins")
    @classmethod
    def _principals(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            if not _POLICY_PRINCIPAL.fullmatch(item):
                raise ValueError(
                    f"{shown(item)} is not an autogroup:, group:, tag: or user@domain "
                    "(no wildcards)"
                )
        return value

    # Validators of containers' items here, not Annotated item types: group_data/all.py
    # writes a container's type, and names only plain ones.
    @field_validator(
        "fks_services_extra",
        "fks_services_skip",
        "fks_write_execute_services",
        "fks_firewall_open_services",
        "fks_port_overrides",
        "fks_release_sources",
        "fks_gpu_indices",
    )
    @classmethod
    def _service_names(cls, value: Any) -> Any:
        for index, name in enumerate(value):
            if not _SERVICE_NAME.fullmatch(name):
                where = f"key {shown(name)}" if isinstance(value, dict) else f"item {index}"
                raise ValueError(f"{where} is not a service name (a-z, 0-9, _)")
        return value

    @field_validator("fks_release_sources")
    @classmethod
    def _release_source_paths(cls, value: dict[str, str]) -> dict[str, str]:
        for name, source in value.items():
            try:
                _local_path(source)
            except ValueError as error:
                raise ValueError(f"{name}: {error}") from None
        return value

    @field_validator("fks_ntp_pools", "fks_ntp_servers")
    @classmethod
    def _hosts(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        for index, name in enumerate(names):
            problem = host_problem(name)
            if problem:
                raise ValueError(f"not a host name or address: item {index} {problem}")
        return names

    # The edge: nginx, firewall, sshd, time (fks_infra.nginx, .firewall, .sshd, .chrony).
    fks_nginx_enabled: bool | None = None
    """Run nginx, the stack's HTTPS entry point, on this host (None: on hosts in the core role)."""
    fks_nginx_server_name: str = Field("_", pattern=r"^(_|[A-Za-z0-9*][A-Za-z0-9.*-]*)$")
    """nginx server_name of the HTTPS site ("_": any name); also the self-signed
    certificate's name."""
    fks_tls_certificate: LocalPath | None = None
    """PEM certificate (with chain) on the control machine; None: a self-signed one made on the
    host."""
    fks_tls_key: LocalPath | None = None
    """PEM private key of fks_tls_certificate on the control machine (a secret: never diffed)."""
    fks_nginx_client_max_body_size: str = Field("10m", pattern=r"^[1-9][0-9]*[km]?$")
    """Largest request body nginx accepts (nginx size: bytes, or with k or m)."""
    fks_nginx_proxy_timeout: int = Field(60, ge=1, le=3600)
    """Seconds nginx waits for a service to send or read a response before it gives up."""
    fks_nginx_api_rate: int = Field(10, ge=1, le=100000)
    """Requests per second one client address may make to /api/ (beyond the burst: 429)."""
    fks_nginx_api_burst: int = Field(20, ge=0, le=100000)
    """Requests above fks_nginx_api_rate one client may make at once before getting 429."""
    fks_firewall_enabled: bool = True
    """Manage the nftables firewall (default deny inbound); False removes fks-infra's table."""
    fks_firewall_open_services: tuple[str, ...] = ()
    """Services of this host every inventory host may call (beyond nginx and monitor), names."""
    fks_firewall_public_tcp_ports: tuple[int, ...] = ()
    """TCP ports of this host open to any address (SSH, and 80/443 on nginx hosts, are already)."""
    fks_firewall_public_udp_ports: tuple[int, ...] = ()
    """UDP ports of this host open to any address (e.g. 41641 for direct tailscale connections)."""
    fks_ssh_permit_root_login: Literal["prohibit-password", "no"] | None = None
    """sshd PermitRootLogin: "prohibit-password" (keys only) or "no"; None: "no" where the inventory
    logs in as another user (with sudo), "prohibit-password" where it logs in as root."""
    fks_ssh_max_auth_tries: int = Field(3, ge=1, le=10)
    """sshd MaxAuthTries: authentication attempts per connection."""
    fks_ssh_login_grace_time: int = Field(30, ge=5, le=600)
    """sshd LoginGraceTime: seconds a client has to authenticate."""
    fks_ntp_pools: tuple[str, ...] = ("2.debian.pool.ntp.org",)
    """NTP pools chrony takes several servers from (host names); empty with no servers:
    no sources."""
    fks_ntp_servers: tuple[str, ...] = ()
    """Single NTP servers chrony uses (host names or addresses), besides fks_ntp_pools."""
    fks_time_adjust_clock: bool = True
    """Let chrony set the clock; False: measure only (chronyd -x), for containers without
    CAP_SYS_TIME."""

    # GPU nodes: the NVIDIA driver and GPU assignment (fks_infra.gpu, deploys/gpu.py).
    fks_gpu_driver_source: Literal["cuda", "debian", "ubuntu"] = "cuda"
    """NVIDIA driver source: "cuda" (NVIDIA's CUDA repository) or the host's own archive
    ("debian": non-free, "ubuntu": restricted)."""
    fks_gpu_driver_branch: str | None = Field(None, pattern=r"^[1-9][0-9]{2}$")
    """Driver branch apt holds (<branch>.*); None: the host's release's (fks_infra/distro.py)."""
    fks_gpu_kernel_module: bool = True
    """Install the kernel module (DKMS, headers, nouveau out of the initramfs); False: userland
    only."""
    fks_gpu_reboot: bool = False
    """Reboot a GPU host when this run changed its driver packages (else reboot it yourself)."""
    fks_gpu_reboot_timeout: int = Field(900, ge=60, le=3600)
    """Seconds a driver reboot may take until SSH answers again before the run fails."""
    fks_gpu_cuda_toolkit: bool = False
    """Install the CUDA toolkit (cuda-toolkit-X-Y from NVIDIA, or Debian's nvidia-cuda-toolkit)."""
    fks_gpu_cuda_version: str = Field("12.2", pattern=r"^[1-9][0-9]?\.[0-9]{1,2}$")
    """CUDA version of the toolkit, major.minor ("12.2" from NVIDIA; Debian bookworm has "11.8")."""
    fks_gpu_cuda_repository: RepositoryUrl | None = Field(None, pattern=r"/$")
    """NVIDIA's CUDA apt repository (flat, ends in /); None: NVIDIA's for the host's release."""
    fks_gpu_cuda_keyring_url: RepositoryUrl | None = Field(None, pattern=r"\.deb$")
    """URL of NVIDIA's cuda-keyring .deb; None: cuda-keyring_1.1-1_all.deb in the repository."""
    fks_gpu_cuda_keyring_file: LocalPath | None = None
    """cuda-keyring .deb on this machine (relative to the project root) shipped instead
    of the URL."""
    fks_gpu_cuda_keyring_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    """SHA-256 the downloaded cuda-keyring .deb must have (hex); None trusts the URL's TLS alone."""
    fks_gpu_debian_mirror: RepositoryUrl = "http://deb.debian.org/debian"
    """Debian mirror for the "debian" driver source (contrib, non-free, non-free-firmware)."""
    fks_gpu_debian_security_mirror: RepositoryUrl = "http://deb.debian.org/debian-security"
    """Debian security mirror for the "debian" driver source."""
    fks_gpu_debian_suite: str | None = Field(None, pattern=r"^[a-z][a-z0-9-]*$")
    """Suite for the "debian" driver source; None: the host's codename (another's is refused)."""
    fks_gpu_count: int | None = Field(None, ge=0, le=64)
    """Number of GPUs of the host when known (indices are checked against it); None: unknown."""
    fks_gpu_indices: dict[str, tuple[int, ...]] = Field(default_factory=dict)
    """GPUs per GPU service, {name: [index, ...]} in nvidia-smi order; unlisted: all GPUs."""
    # Bridges: the Windows side's endpoints (fks_infra.bridges). No defaults on purpose.
    fks_ninjatrader_host: Address | None = None
    """NinjaTrader 8's address (an IP: units only reach addresses) where ninja runs; no default."""
    fks_ninjatrader_port: int | None = Field(None, ge=1, le=65535)
    """NinjaTrader 8's TCP port where ninja runs (NINJATRADER_PORT); no default."""
    fks_mt5_bridge_url: EndpointUrl | None = None
    """The MT5 HTTP bridge on the Windows side where meta runs (MT5_BRIDGE_URL, host an IP)."""
    fks_windows_endpoints_checked: bool = True
    """Check from the bridge host that the Windows endpoints answer (False: those checks skip)."""
    fks_windows_winrm_host: Host | None = None
    """Windows host to verify over WinRM (needs secret WINDOWS_WINRM_PASSWORD); None: no check."""
    fks_windows_winrm_port: int = Field(5986, ge=1, le=65535)
    """WinRM HTTPS port of the Windows host."""
    fks_windows_winrm_user: str = "fks"
    """WinRM user on the Windows host (user, or user@domain.example for a domain account)."""

    @field_validator("fks_windows_winrm_user")
    @classmethod
    def _winrm_user(cls, value: str) -> str:
        user, at, domain = value.partition("@")
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}", user) or (
            at and host_problem(domain)
        ):
            raise ValueError(
                "not a user name (letters, digits, . _ -), or user@domain with a DNS domain "
                r"(write DOMAIN\user as user@domain.example)"
            )
        return value

    fks_windows_winrm_verify_tls: bool = True
    """Verify the WinRM TLS certificate (False only for a self-signed one on a private network)."""

    # Host hardening beyond the edge (fks_infra.hardening, fks_infra.sshd): what Lynis checks.
    fks_ssh_client_alive_interval: int = Field(60, ge=5, le=600)
    """sshd ClientAliveInterval: seconds of silence before sshd probes the client; a client
    missing fks_ssh_client_alive_count_max + 1 probes in a row is dropped, its run lock too."""
    fks_ssh_client_alive_count_max: int = Field(2, ge=1, le=10)
    """sshd ClientAliveCountMax: unanswered probes tolerated (2: a dead client goes in 3 min)."""
    fks_ssh_max_sessions: int = Field(4, ge=3, le=64)
    """sshd MaxSessions: sessions open at once on one connection (a deploy holds 3: the run
    lock, SFTP and a command)."""
    fks_login_banner: str = Field(
        "Authorised access only. Activity on this private system is monitored and logged; "
        "unauthorised use is prohibited and may be reported to law enforcement.",
        min_length=1,
        max_length=1000,
        pattern=r"^[^\x00-\x1f\x7f\\]+$",
    )
    """Text of /etc/issue and /etc/issue.net, shown before a console or telnet-style login
    (one line; no backslash: getty expands those)."""
    fks_sysctl_skip: tuple[str, ...] = ()
    """Kernel parameters of the hardening set left as the host has them (e.g.
    net.ipv4.conf.all.forwarding on a Tailscale subnet router or exit node)."""
    fks_modules_allowed: tuple[str, ...] = ()
    """Kernel modules of the hardening blacklist (dccp, sctp, rds, tipc, usb-storage,
    firewire-core) this host may still load."""
    fks_unattended_upgrades: bool = True
    """Install the release's security updates daily (unattended-upgrades): never NVIDIA or
    PostgreSQL packages, never a reboot."""
    fks_fail2ban_ignore: tuple[str, ...] = ("100.64.0.0/10", "fd7a:115c:a1e0::/48")
    """Networks fail2ban never bans (besides loopback and the inventory's hosts); default:
    the tailnet's addresses, where operators come from."""

    @field_validator("fks_sysctl_skip")
    @classmethod
    def _known_parameters(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # Imported here: fks_infra.hardening.config reads this model.
        from fks_infra.hardening.config import KERNEL_PARAMETERS

        unknown = [key for key in value if key not in KERNEL_PARAMETERS]
        if unknown:
            raise ValueError(f"not in the hardening set: {', '.join(unknown)}")
        return value

    @field_validator("fks_fail2ban_ignore")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        import ipaddress

        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item[:60]!r} is not an address or network") from None
        return value

    @field_validator("fks_modules_allowed")
    @classmethod
    def _known_modules(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from fks_infra.hardening.config import BLOCKED_MODULES

        unknown = [name for name in value if name not in BLOCKED_MODULES]
        if unknown:
            raise ValueError(f"not in the blacklist ({', '.join(BLOCKED_MODULES)}): {unknown}")
        return value

    # Datastores (fks_infra.datastores) and monitoring (fks_infra.monitoring).
    fks_postgres_database: str = Field("fks", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    """Database and role PostgreSQL gives the FKS services (password: secret POSTGRES_PASSWORD)."""
    fks_postgres_user: str = Field("fks", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    """Login role of the FKS services in PostgreSQL, owner of fks_postgres_database."""
    fks_postgres_extensions: tuple[Literal["vector", "timescaledb"], ...] = ()
    """Extensions to install and create: "vector", "timescaledb" (need their apt repository)."""
    fks_redis_maxmemory: str = Field("512mb", pattern=r"^[1-9][0-9]*(kb|mb|gb)$")
    """Redis maxmemory (kb, mb or gb); beyond it Redis refuses writes instead of evicting data."""
    fks_prometheus_retention: str = Field("15d", pattern=r"^[1-9][0-9]*[hdwy]$")
    """How long Prometheus keeps samples (h, d, w or y)."""
    fks_prometheus_scrape_interval: int = Field(15, ge=1, le=300)
    """Seconds between two scrapes (and two rule evaluations) by Prometheus."""
    # Left to promtool, the program that reads it: a Prometheus duration such as 1m or 90s.
    fks_alert_for: str = Field("1m", pattern=r"^[0-9][0-9a-z]*$")
    """How long a failure lasts before its alert fires (Prometheus duration, checked
    by promtool)."""
    fks_alert_disk_free_percent: int = Field(10, ge=1, le=99)
    """Alert when a filesystem of a host has less than this many percent free."""
    fks_alertmanager_webhook_enabled: bool = False
    """Alertmanager sends alerts to the webhook URL in secret ALERTMANAGER_WEBHOOK_URL (a
    credential: root:prometheus 0640 on the host); False: alerts are only shown, not sent."""

    @field_validator("fks_firewall_public_tcp_ports", "fks_firewall_public_udp_ports")
    @classmethod
    def _ports(cls, ports: tuple[int, ...]) -> tuple[int, ...]:
        bad = [port for port in ports if not 1 <= port <= 65535]
        if bad:
            raise ValueError(f"not a port: {bad}")
        return ports


class ConnectionData(BaseModel):
    """pyinfra's SSH connector keys of one host (``pyinfra.connectors.ssh.ConnectorData``),
    checked before pyinfra, ``verify`` or ``status`` use them.

    pyinfra hands them to paramiko, and fks-infra writes them into the ssh_config that
    ``verify`` and ``status`` connect with (``fks_infra.connections``): a line break in one
    would add ssh_config options such as ``ProxyCommand``. A key pyinfra's connector does
    not know is an error, as a typo would silently connect elsewhere. The types are
    pyinfra's; strings are narrowed to what ssh accepts. None: pyinfra's default.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _all_printable(cls, value: Any) -> Any:
        return _printable(value)

    ssh_hostname: Host | None = None
    """Host to connect to (DNS name or IP address); None: the inventory name."""
    ssh_port: Annotated[StrictInt, Field(ge=1, le=65535)] | None = None
    """TCP port of sshd."""
    ssh_user: Annotated[str, StringConstraints(pattern=_USER)] | None = None
    """User to log in as; None: the local user's name."""
    ssh_password: SecretStr | None = None
    """Password to log in with (never echoed)."""
    ssh_key: LocalPath | None = None
    """Private key file on this machine."""
    ssh_key_password: SecretStr | None = None
    """Passphrase of ssh_key (never echoed)."""
    ssh_allow_agent: StrictBool | None = None
    """Use a running SSH agent."""
    ssh_look_for_keys: StrictBool | None = None
    """Try the keys in ~/.ssh."""
    ssh_forward_agent: StrictBool | None = None
    """Forward the SSH agent to the host."""
    ssh_config_file: LocalPath | None = None
    """ssh_config file to read; None: ~/.ssh/config."""
    ssh_known_hosts_file: LocalPath | None = None
    """known_hosts file to check host keys against."""
    ssh_strict_host_key_checking: Literal["yes", "no", "off", "ask", "accept-new"] | None = None
    """What to do with an unknown host key (pyinfra's values; default "accept-new")."""
    ssh_paramiko_connect_kwargs: dict[str, Any] | None = None
    """Keyword arguments for paramiko's SSHClient.connect (group_data/all.py sets one)."""
    ssh_connect_retries: Annotated[StrictInt, Field(ge=0, le=100)] | None = None
    """Further connection attempts after a failed one."""
    ssh_connect_retry_min_delay: Annotated[float, Field(ge=0, le=3600)] | None = None
    """Seconds, lower bound of the random delay between attempts."""
    ssh_connect_retry_max_delay: Annotated[float, Field(ge=0, le=3600)] | None = None
    """Seconds, upper bound of the random delay between attempts."""
    ssh_file_transfer_protocol: Literal["sftp", "scp"] | None = None
    """How files are copied to the host."""


KNOWN_KEYS: tuple[str, ...] = tuple(HostSettings.model_fields)
CONNECTION_KEYS: tuple[str, ...] = tuple(ConnectionData.model_fields)
#: Keys whose rejected value is not repeated in errors: an auth key pasted by mistake, a
#: password, a URL (it may carry a token in its query) must not end up in a terminal or a
#: CI log. The messages say what is wrong without the value.
_NOT_ECHOED = frozenset(
    {
        "fks_tailscale_up_extra_args",
        "ssh_password",
        "ssh_key_password",
        "fks_mt5_bridge_url",
        "fks_tailscale_login_server",
        "fks_egress_proxy",
        # Values may be anything; one under a secret's name may be the secret.
        "fks_service_environment",
        "fks_tailscale_repository",
        "fks_tailscale_keyring_url",
        "fks_gpu_cuda_repository",
        "fks_gpu_cuda_keyring_url",
        "fks_gpu_debian_mirror",
        "fks_gpu_debian_security_mirror",
    }
)
#: Settings that are gone, with what replaced them: a key left in an inventory says why.
_REMOVED_KEYS = {
    "fks_service_user": "each service now runs as its own system user, fks-<name> "
    "(catalogue.Service.user); remove this key",
}


def parse_settings(
    data: Mapping[str, Any], source_of: Mapping[str, str]
) -> tuple[HostSettings | None, list[Problem]]:
    """Validate the ``fks_*`` part of a host's data.

    + data: the host's merged data (pyinfra's ``ssh_*`` keys: see ``parse_connection``)
    + source_of: where each key was set, for error messages
    """
    problems = [
        Problem(f"unknown setting; did you mean {hint}?", source_of.get(key, ""), key=key)
        for key in data
        if not key.startswith((PREFIX, SSH_PREFIX)) and (hint := _close_known_key(key))
    ]
    ours = {key: value for key, value in data.items() if key.startswith(PREFIX)}
    try:
        settings = HostSettings.model_validate(ours)
    except ValidationError as error:
        for item in error.errors():
            key = str(item["loc"][0]) if item["loc"] else ""
            problems.append(Problem(_describe(item, key), source_of.get(key, ""), key=key))
        return None, problems
    return (None if problems else settings), problems


def parse_connection(
    data: Mapping[str, Any], source_of: Mapping[str, str]
) -> tuple[ConnectionData | None, list[Problem]]:
    """Validate the ``ssh_*`` part of a host's data (pyinfra's SSH connector keys).

    + data: the host's merged data (other keys are ignored)
    + source_of: where each key was set, for error messages

    Returns the connection data, or None and a problem naming each bad key.
    """
    ours = {key: value for key, value in data.items() if key.startswith(SSH_PREFIX)}
    try:
        return ConnectionData.model_validate(ours), []
    except ValidationError as error:
        problems = []
        for item in error.errors():
            key = str(item["loc"][0]) if item["loc"] else ""
            problems.append(
                Problem(_describe(item, key, CONNECTION_KEYS), source_of.get(key, ""), key=key)
            )
        return None, problems


def _close_known_key(key: str, known: tuple[str, ...] = KNOWN_KEYS) -> str | None:
    matches = difflib.get_close_matches(key, known, n=1, cutoff=0.85)
    return matches[0] if matches else None


def _describe(item: Mapping[str, Any], key: str, known: tuple[str, ...] = KNOWN_KEYS) -> str:
    if item["type"] == "extra_forbidden":
        if key in _REMOVED_KEYS:
            return f"unknown setting: {_REMOVED_KEYS[key]}"
        hint = _close_known_key(key, known)
        what = "unknown setting" if known is KNOWN_KEYS else "unknown pyinfra SSH connector key"
        return what + (f"; did you mean {hint}?" if hint else "")
    location = "".join(f"[{shown(part)}]" for part in item["loc"][1:])
    message = str(item["msg"]).removeprefix("Value error, ")
    if key in _NOT_ECHOED:
        return f"{location} {message}".strip()
    return f"{location} {message} (got {shown(item['input'])})".strip()
