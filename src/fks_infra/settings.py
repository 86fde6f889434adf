"""The settings an inventory may give a host, as one typed model.

Every setting is a flat ``fks_*`` key (pyinfra merges data one top-level key at a time, so
nested dicts would be replaced whole, not merged). Keys starting with ``fks_`` that the model
does not know are errors: a typo must not silently read as the default. The documented
defaults live in ``group_data/all.py``; a test keeps the two in step.
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

    model_config = ConfigDict(extra="forbid", frozen=True)

    fks_services_extra: tuple[str, ...] = ()
    fks_services_skip: tuple[str, ...] = ()
    fks_port_overrides: dict[str, int] = Field(default_factory=dict)
    fks_secrets_file: str = "secrets/fks.toml"
    fks_private_address: IPvAnyAddress | None = None
    fks_bind_address: IPvAnyAddress | None = None
    fks_service_user: str = Field("fks", pattern=r"^[a-z_][a-z0-9_-]{0,31}$")
    fks_release_source: str = "demo"
    fks_release_sources: dict[str, str] = Field(default_factory=dict)
    fks_releases_keep: int = Field(3, ge=2, le=20)
    fks_health_timeout: int = Field(60, ge=1, le=900)
    fks_preflight_min_free_mib: int = Field(1024, ge=0)
    fks_preflight_max_clock_skew: int = Field(30, ge=1)
    fks_memory_max: str = Field("1G", pattern=r"^([1-9][0-9]*[KMGT]?|([1-9][0-9]?|100)%|infinity)$")
    fks_tasks_max: int = Field(512, ge=16)
    fks_write_execute_services: tuple[str, ...] = ("ai", "training")
    fks_tailscale_enabled: bool = True
    fks_tailscale_repository: str = Field(
        "https://pkgs.tailscale.com/stable/debian", pattern=r"^(https?|file)://\S+$"
    )
    fks_tailscale_suite: str = Field("bookworm", pattern=r"^[a-z0-9][a-z0-9._-]*$")
    fks_tailscale_keyring_url: str = Field(
        "https://pkgs.tailscale.com/stable/debian/bookworm.noarmor.gpg",
        pattern=r"^(https?|file)://\S+$",
    )
    fks_tailscale_keyring_file: str | None = None
    fks_tailscale_keyring_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    fks_tailscale_version: str | None = Field(None, pattern=r"^[0-9][0-9A-Za-z.+~:-]*$")
    fks_tailscale_hostname: str | None = Field(
        None, pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
    )
    fks_tailscale_login_server: str | None = Field(None, pattern=r"^https?://\S+$")
    fks_tailscale_up_extra_args: tuple[str, ...] = ()
    fks_tailscale_port: int = Field(41641, ge=1, le=65535)
    fks_tailscale_tag_owners: tuple[str, ...] = Field(("autogroup:admin",), min_length=1)
    fks_tailscale_admins: tuple[str, ...] = Field(("autogroup:admin",), min_length=1)

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
    fks_nginx_server_name: str = Field("_", pattern=r"^(_|[A-Za-z0-9*][A-Za-z0-9.*-]*)$")
    fks_tls_certificate: str | None = Field(None, min_length=1)
    fks_tls_key: str | None = Field(None, min_length=1)
    fks_nginx_client_max_body_size: str = Field("10m", pattern=r"^[1-9][0-9]*[km]?$")
    fks_nginx_proxy_timeout: int = Field(60, ge=1, le=3600)
    fks_nginx_api_rate: int = Field(10, ge=1, le=100000)
    fks_nginx_api_burst: int = Field(20, ge=0, le=100000)
    fks_firewall_enabled: bool = True
    fks_firewall_open_services: tuple[str, ...] = ()
    fks_firewall_public_tcp_ports: tuple[int, ...] = ()
    fks_firewall_public_udp_ports: tuple[int, ...] = ()
    fks_ssh_permit_root_login: Literal["prohibit-password", "no"] | None = None
    fks_ssh_max_auth_tries: int = Field(3, ge=1, le=10)
    fks_ssh_login_grace_time: int = Field(30, ge=5, le=600)
    fks_ntp_pools: tuple[str, ...] = ("2.debian.pool.ntp.org",)
    fks_ntp_servers: tuple[str, ...] = ()
    fks_time_adjust_clock: bool = True

    # GPU nodes: the NVIDIA driver and GPU assignment (fks_infra.gpu, deploys/gpu.py).
    fks_gpu_driver_source: Literal["cuda", "debian"] = "cuda"
    fks_gpu_driver_branch: str = Field("535", pattern=r"^[1-9][0-9]{2}$")
    fks_gpu_kernel_module: bool = True
    fks_gpu_reboot: bool = False
    fks_gpu_reboot_timeout: int = Field(900, ge=60, le=3600)
    fks_gpu_cuda_toolkit: bool = False
    fks_gpu_cuda_version: str = Field("12.2", pattern=r"^[1-9][0-9]?\.[0-9]{1,2}$")
    fks_gpu_cuda_repository: str = Field(
        "https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/",
        pattern=r"^(https?|file)://\S+/$",
    )
    fks_gpu_cuda_keyring_url: str = Field(
        "https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/"
        "cuda-keyring_1.1-1_all.deb",
        pattern=r"^(https?|file)://\S+\.deb$",
    )
    fks_gpu_cuda_keyring_file: str | None = None
    fks_gpu_cuda_keyring_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    fks_gpu_debian_mirror: str = Field(
        "http://deb.debian.org/debian", pattern=r"^(https?|file)://\S+$"
    )
    fks_gpu_debian_security_mirror: str = Field(
        "http://deb.debian.org/debian-security", pattern=r"^(https?|file)://\S+$"
    )
    fks_gpu_debian_suite: str = Field("bookworm", pattern=r"^[a-z][a-z0-9-]*$")
    fks_gpu_count: int | None = Field(None, ge=0, le=64)
    fks_gpu_indices: dict[str, tuple[int, ...]] = Field(default_factory=dict)
    # Bridges: the Windows side's endpoints (fks_infra.bridges). No defaults on purpose.
    fks_ninjatrader_host: IPvAnyAddress | None = None
    fks_ninjatrader_port: int | None = Field(None, ge=1, le=65535)
    fks_mt5_bridge_url: str | None = Field(None, pattern=r"^https?://\S+$")
    fks_windows_endpoints_checked: bool = True
    fks_windows_winrm_host: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9.:-]*$")
    fks_windows_winrm_port: int = Field(5986, ge=1, le=65535)
    fks_windows_winrm_user: str = Field("fks", pattern=r"^[^\s:/]+$")
    fks_windows_winrm_verify_tls: bool = True

    # Datastores (fks_infra.datastores) and monitoring (fks_infra.monitoring).
    fks_postgres_database: str = Field("fks", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    fks_postgres_user: str = Field("fks", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    fks_postgres_extensions: tuple[Literal["vector", "timescaledb"], ...] = ()
    fks_redis_maxmemory: str = Field("512mb", pattern=r"^[1-9][0-9]*(kb|mb|gb)$")
    fks_prometheus_retention: str = Field("15d", pattern=r"^[1-9][0-9]*[hdwy]$")
    fks_prometheus_scrape_interval: int = Field(15, ge=1, le=300)
    # Left to promtool, the program that reads it: a Prometheus duration such as 1m or 90s.
    fks_alert_for: str = Field("1m", pattern=r"^[0-9][0-9a-z]*$")
    fks_alert_disk_free_percent: int = Field(10, ge=1, le=99)
    fks_alertmanager_webhook_url: str | None = Field(None, pattern=r"^https?://\S+$")

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
        hint = _close_known_key(key)
        return "unknown setting" + (f"; did you mean {hint}?" if hint else "")
    location = "".join(f"[{part!r}]" for part in item["loc"][1:])
    if key in _NOT_ECHOED:
        return f"{location} {item['msg']}".strip()
    return f"{location} {item['msg']} (got {item['input']!r})".strip()
