"""The lab state file: what ``lab up`` created, for ``status``, ``ssh``, ``down`` and inventories.

It is written as soon as the network exists and rewritten as hosts start, so a
crash mid-way still leaves a record of what to undo (``down`` also sweeps by
naming convention for when even this file is missing).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from fks_infra.lab.errors import LabError

#: 2: each host records its own release and rootfs (one lab, several releases).
STATE_VERSION = 2


class NetworkState(BaseModel):
    """The lab network: a bridge in the root namespace with the gateway address of a /24."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subnet: str
    gateway: str
    bridge: str
    #: The value of net.ipv4.ip_forward before the lab set it, restored on ``down``.
    ip_forward_before: str


class HostState(BaseModel):
    """One lab host as started: its release, where it answers and which process runs it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    roles: tuple[str, ...]
    #: ``distro:suite``, e.g. ``debian:trixie``.
    release: str
    #: The cached base tree of that release the host's overlay lies on.
    rootfs: str
    #: ``spec.HOST_OPTIONS`` the host was built with, e.g. ``("cis",)``.
    options: tuple[str, ...] = ()
    address: str
    netns: str
    veth: str
    pid: int | None = None


class LabState(BaseModel):
    """Everything a running lab consists of."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = STATE_VERSION
    #: The canonical hosts spec, every host with its release (``spec.format_hosts``).
    spec: str
    key: str
    network: NetworkState
    hosts: tuple[HostState, ...]

    def host(self, name: str) -> HostState:
        """The host called ``name``; ``LabError`` listing the lab's hosts if there is none."""
        for host in self.hosts:
            if host.name == name:
                return host
        names = ", ".join(host.name for host in self.hosts)
        raise LabError(f"the lab has no host {name!r}; its hosts are: {names}")

    @property
    def releases(self) -> tuple[str, ...]:
        """The distinct releases of the lab's hosts, in host order."""
        return tuple(dict.fromkeys(host.release for host in self.hosts))


def save_state(path: Path, state: LabState) -> None:
    """Write ``state`` atomically: readers never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(state.model_dump_json(indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def load_state(path: Path) -> LabState | None:
    """The state in ``path``, or ``None`` when no lab was recorded there."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    version = _version_of(text)
    if version is not None and version != STATE_VERSION:
        raise LabError(
            f"lab state file {path} has version {version!r}, this fks-infra reads "
            f"{STATE_VERSION}; run `fks-infra lab down` to clean up by naming convention"
        )
    try:
        return LabState.model_validate_json(text)
    except ValidationError as exc:
        raise LabError(
            f"lab state file {path} is unreadable ({exc.error_count()} error(s)); "
            "run `fks-infra lab down` to clean up by naming convention"
        ) from exc


def _version_of(text: str) -> object:
    """The ``version`` of a state file's text; ``None`` when it has none or is no JSON."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data.get("version") if isinstance(data, dict) else None
