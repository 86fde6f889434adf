"""The settings an inventory may give a host, as one typed model.

Every setting is a flat ``fks_*`` key (pyinfra merges data one top-level key at a time, so
nested dicts would be replaced whole, not merged). Keys starting with ``fks_`` that the model
does not know are errors: a typo must not silently read as the default.

This model is the one source of every setting's default and of its documentation (the
docstring under each field). ``group_data/all.py``, the documented defaults pyinfra loads for
every host, is generated from it (``fks_infra.group_data``; ``make docs``), and a test diffs it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyAddress,
    ValidationError,
    field_validator,
)

from fks_infra.errors import Problem

PREFIX = "fks_"
_NTP_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:-]*")

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
_POLICY_PRINCIPAL = r"^(autogroup:[a-z-]+|group:[A-Za-z0-9._-]+|tag:[a-z0-9-]+|[^@\s*]+@[^@\s*]+)$"


class HostSettings(BaseModel):
    """Validated ``fks_*`` settings of one host (group data merged with host data)."""

    # The docstring under each field documents it: it becomes the comment above the setting
    # in the generated group_data/all.py. fks_infra.group_data reads it from this source when
    # it generates; pydantic's use_attribute_docstrings would parse this file in every process.
    model_config = ConfigDict(extra="forbid", frozen=True)

    fks_services_extra: tuple[str, ...] = ()
    """Catalogue services to run on a host in addition to those of its roles (names)."""
    fks_services_skip: tuple[str, ...] = ()
    """Catalogue services not to run on a host although its roles include them (names)."""
    fks_port_overrides: dict[str, int] = Field(default_factory=dict)
    """Move services to other ports, {name: port}; each stays within its category's range."""
    fks_secrets_file: str = "secrets/fks.toml"
    """TOML file of secrets (relative to the project root); FKS_SECRET_<NAME> env vars win."""
    fks_private_address: IPvAnyAddress | None = None
    """Address other inventory hosts reach this host at (default: its ssh_hostname, an IP)."""
    fks_bind_address: IPvAnyAddress | None = None
    """Address the services listen on (default: fks_private_address); "127.0.0.1" for one host."""
    fks_release_source: str = "demo"
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
    fks_tailscale_enabled: bool = True
    """Install Tailscale and join every host to the tailnet (needs secret TAILSCALE_AUTHKEY)."""
    fks_tailscale_repository: str | None = Field(None, pattern=r"^(https?|file)://\S+$")
    """apt repository Tailscale comes from; None: pkgs.tailscale.com/stable/<host's distro>."""
    fks_tailscale_suite: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    """Suite of that repository; None: the host's codename (another release's is refused)."""
    fks_tailscale_keyring_url: str | None = Field(None, pattern=r"^(https?|file)://\S+$")
    """URL of the repository's signing keyring (.gpg); None: <repository>/<suite>.noarmor.gpg."""
    fks_tailscale_keyring_file: str | None = None
    """Keyring file on this machine (relative to the project root) shipped instead of the URL."""
    fks_tailscale_keyring_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    """SHA-256 the downloaded keyring must have (hex); None trusts the URL's TLS alone."""
    fks_tailscale_version: str | None = Field(None, pattern=r"^[0-9][0-9A-Za-z.+~:-]*$")
    """Pin tailscale to this package version (apt preferences, e.g. "1.76.6"); None: latest."""
    fks_tailscale_hostname: str | None = Field(
        None, pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
    )
    """Tailscale machine name (DNS label); None: the inventory name of the host."""
    fks_tailscale_login_server: str | None = Field(None, pattern=r"^https?://\S+$")
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
            if not arg.startswith("--"):
                # Not echoed: a bare value here may be a pasted auth key.
                raise ValueError(f"item {index} is not a --flag (write --flag=value as one item)")
        return value

    @field_validator("fks_tailscale_tag_owners", "fks_tailscale_admins")
    @classmethod
    def _principals(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            if not re.match(_POLICY_PRINCIPAL, item):
                raise ValueError(
                    f"{item!r} is not an autogroup:, group:, tag: or user@domain (no wildcards)"
                )
        return value

    # The edge: nginx, firewall, sshd, time (fks_infra.nginx, .firewall, .sshd, .chrony).
    fks_nginx_enabled: bool | None = None
    """Run nginx, the stack's HTTPS entry point, on this host (None: on hosts in the core role)."""
    fks_nginx_server_name: str = Field("_", pattern=r"^(_|[A-Za-z0-9*][A-Za-z0-9.*-]*)$")
    """nginx server_name of the HTTPS site ("_": any name); also the self-signed
    certificate's name."""
    fks_tls_certificate: str | None = Field(None, min_length=1)
    """PEM certificate (with chain) on the control machine; None: a self-signed one made on the
    host."""
    fks_tls_key: str | None = Field(None, min_length=1)
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
    fks_gpu_cuda_repository: str | None = Field(None, pattern=r"^(https?|file)://\S+/$")
    """NVIDIA's CUDA apt repository (flat, ends in /); None: NVIDIA's for the host's release."""
    fks_gpu_cuda_keyring_url: str | None = Field(None, pattern=r"^(https?|file)://\S+\.deb$")
    """URL of NVIDIA's cuda-keyring .deb; None: cuda-keyring_1.1-1_all.deb in the repository."""
    fks_gpu_cuda_keyring_file: str | None = None
    """cuda-keyring .deb on this machine (relative to the project root) shipped instead
    of the URL."""
    fks_gpu_cuda_keyring_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    """SHA-256 the downloaded cuda-keyring .deb must have (hex); None trusts the URL's TLS alone."""
    fks_gpu_debian_mirror: str = Field(
        "http://deb.debian.org/debian", pattern=r"^(https?|file)://\S+$"
    )
    """Debian mirror for the "debian" driver source (contrib, non-free, non-free-firmware)."""
    fks_gpu_debian_security_mirror: str = Field(
        "http://deb.debian.org/debian-security", pattern=r"^(https?|file)://\S+$"
    )
    """Debian security mirror for the "debian" driver source."""
    fks_gpu_debian_suite: str | None = Field(None, pattern=r"^[a-z][a-z0-9-]*$")
    """Suite for the "debian" driver source; None: the host's codename (another's is refused)."""
    fks_gpu_count: int | None = Field(None, ge=0, le=64)
    """Number of GPUs of the host when known (indices are checked against it); None: unknown."""
    fks_gpu_indices: dict[str, tuple[int, ...]] = Field(default_factory=dict)
    """GPUs per GPU service, {name: [index, ...]} in nvidia-smi order; unlisted: all GPUs."""
    # Bridges: the Windows side's endpoints (fks_infra.bridges). No defaults on purpose.
    fks_ninjatrader_host: IPvAnyAddress | None = None
    """NinjaTrader 8's address (an IP: units only reach addresses) where ninja runs; no default."""
    fks_ninjatrader_port: int | None = Field(None, ge=1, le=65535)
    """NinjaTrader 8's TCP port where ninja runs (NINJATRADER_PORT); no default."""
    fks_mt5_bridge_url: str | None = Field(None, pattern=r"^https?://\S+$")
    """The MT5 HTTP bridge on the Windows side where meta runs (MT5_BRIDGE_URL, host an IP)."""
    fks_windows_endpoints_checked: bool = True
    """Check from the bridge host that the Windows endpoints answer (False: those checks skip)."""
    fks_windows_winrm_host: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9.:-]*$")
    """Windows host to verify over WinRM (needs secret WINDOWS_WINRM_PASSWORD); None: no check."""
    fks_windows_winrm_port: int = Field(5986, ge=1, le=65535)
    """WinRM HTTPS port of the Windows host."""
    fks_windows_winrm_user: str = Field("fks", pattern=r"^[^\s:/]+$")
    """WinRM user on the Windows host."""
    fks_windows_winrm_verify_tls: bool = True
    """Verify the WinRM TLS certificate (False only for a self-signed one on a private network)."""

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
    fks_alertmanager_webhook_url: str | None = Field(None, pattern=r"^https?://\S+$")
    """Alertmanager sends alerts to this webhook URL; None: alerts are only shown, not sent."""

    @field_validator("fks_firewall_public_tcp_ports", "fks_firewall_public_udp_ports")
    @classmethod
    def _ports(cls, ports: tuple[int, ...]) -> tuple[int, ...]:
        bad = [port for port in ports if not 1 <= port <= 65535]
        if bad:
            raise ValueError(f"not a port: {bad}")
        return ports

    @field_validator("fks_ntp_pools", "fks_ntp_servers")
    @classmethod
    def _hosts(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        bad = [name for name in names if not _NTP_HOST.fullmatch(name)]
        if bad:
            raise ValueError(f"not a host name or address: {bad}")
        return names


KNOWN_KEYS: tuple[str, ...] = tuple(HostSettings.model_fields)
#: Settings that are gone, with what replaced them: a key left in an inventory says why.
_REMOVED_KEYS = {
    "fks_service_user": "each service now runs as its own system user, fks-<name> "
    "(catalogue.Service.user); remove this key",
}
#: Settings whose rejected value is not repeated in errors: an auth key pasted there by
#: mistake must not end up in a terminal or a CI log.
_NOT_ECHOED = frozenset({"fks_tailscale_up_extra_args"})


def parse_settings(
    data: Mapping[str, Any], source_of: Mapping[str, str]
) -> tuple[HostSettings | None, list[Problem]]:
    """Validate the ``fks_*`` part of a host's data.

    + data: the host's merged data (pyinfra keys such as ``ssh_user`` are ignored)
    + source_of: where each key was set, for error messages
    """
    problems = [
        Problem(f"unknown setting; did you mean {hint}?", source_of.get(key, ""), key=key)
        for key in data
        if not key.startswith(PREFIX) and (hint := _close_known_key(key))
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


def _close_known_key(key: str) -> str | None:
    matches = difflib.get_close_matches(key, KNOWN_KEYS, n=1, cutoff=0.85)
    return matches[0] if matches else None


def _describe(item: Mapping[str, Any], key: str) -> str:
    if item["type"] == "extra_forbidden":
        if key in _REMOVED_KEYS:
            return f"unknown setting: {_REMOVED_KEYS[key]}"
        hint = _close_known_key(key)
        return "unknown setting" + (f"; did you mean {hint}?" if hint else "")
    location = "".join(f"[{part!r}]" for part in item["loc"][1:])
    if key in _NOT_ECHOED:
        return f"{location} {item['msg']}".strip()
    return f"{location} {item['msg']} (got {item['input']!r})".strip()
