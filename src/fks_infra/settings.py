"""The settings an inventory may give a host, as one typed model.

Every setting is a flat ``fks_*`` key (pyinfra merges data one top-level key at a time, so
nested dicts would be replaced whole, not merged). Keys starting with ``fks_`` that the model
does not know are errors: a typo must not silently read as the default. The documented
defaults live in ``group_data/all.py``; a test keeps the two in step.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, IPvAnyAddress, ValidationError

from fks_infra.errors import Problem

PREFIX = "fks_"


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
    fks_memory_max: str = Field("1G", pattern=r"^([1-9][0-9]*[KMGT]?|([1-9][0-9]?|100)%|infinity)$")
    fks_tasks_max: int = Field(512, ge=16)
    fks_write_execute_services: tuple[str, ...] = ("ai", "training")


KNOWN_KEYS: tuple[str, ...] = tuple(HostSettings.model_fields)


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
    return f"{location} {item['msg']} (got {item['input']!r})".strip()
