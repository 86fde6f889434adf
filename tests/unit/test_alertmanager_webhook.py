"""The Alertmanager webhook URL is a secret: required where enabled, rendered exactly into a
root:prometheus 0640 alertmanager.yml that amtool accepts, and never shown."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from checkers import run, tool
from pydantic import SecretStr
from windows_side import ENDPOINTS

from fks_infra.errors import MissingSecret, Problem, ProblemsError
from fks_infra.monitoring.config import (
    ALERTMANAGER_CONFIG_GROUP,
    ALERTMANAGER_CONFIG_MODE,
    render_alertmanager,
)
from fks_infra.plan import HostSpec, InventoryPlan, plan_inventory
from fks_infra.secrets import ALERTMANAGER_WEBHOOK_URL, SecretStore
from fks_infra.settings import HostSettings

#: A webhook URL with what YAML and shells read specially: '#', ':', '&', '%', '@'.
WEBHOOK = "https://hooks.example.org:8443/services/T0/B1/canary-hook#x?token=a%20b&x=1:@"


def plan(webhook: str | None, **data: Any) -> InventoryPlan:
    def secrets(name: str, settings: HostSettings) -> tuple[SecretStr | None, list[Problem]]:
        if name == ALERTMANAGER_WEBHOOK_URL:
            return (SecretStr(webhook) if webhook else None), []
        return SecretStr(f"value-of-{name}"), []

    return plan_inventory(
        [
            HostSpec("core-1", ("core",), {"ssh_hostname": "10.0.0.10", **data}),
            HostSpec("gpu-1", ("gpu",), {"ssh_hostname": "10.0.0.20"}),
            HostSpec("bridge-1", ("bridge",), {"ssh_hostname": "10.0.0.30", **ENDPOINTS}),
        ],
        secrets=secrets,
    )


def test_enabled_without_the_secret_is_a_missing_secret() -> None:
    with pytest.raises(ProblemsError) as caught:
        plan(None, fks_alertmanager_webhook_enabled=True)
    (problem,) = caught.value.problems
    assert isinstance(problem, MissingSecret)
    assert "missing secret ALERTMANAGER_WEBHOOK_URL (needed by alertmanager (monitor))" in str(
        problem
    )


def test_not_enabled_needs_no_secret_and_sends_nothing() -> None:
    inventory = plan(None)
    text = render_alertmanager(inventory.host("core-1"), inventory)
    assert "receiver: none" in text and "webhook_configs" not in text


def test_the_url_is_neither_a_setting_nor_in_the_plan_repr() -> None:
    assert "fks_alertmanager_webhook_url" not in HostSettings.model_fields
    inventory = plan(WEBHOOK, fks_alertmanager_webhook_enabled=True)
    assert "canary-hook" not in repr(inventory) and "canary-hook" not in repr(inventory.hosts)


def test_amtool_reads_the_url_exactly_from_a_private_file(tmp_path: Path) -> None:
    amtool = tool("amtool")
    inventory = plan(WEBHOOK, fks_alertmanager_webhook_enabled=True)
    path = tmp_path / "alertmanager.yml"
    path.write_text(render_alertmanager(inventory.host("core-1"), inventory))
    result = run([amtool, "check-config", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Found:" in result.stdout and "2 receivers" in result.stdout
    # A YAML double-quoted scalar (JSON's escapes are YAML's): '#' is no comment in it.
    assert f"      - url: {json.dumps(WEBHOOK)}\n" in path.read_text()
    assert (ALERTMANAGER_CONFIG_MODE, ALERTMANAGER_CONFIG_GROUP) == ("640", "prometheus")


def test_a_webhook_url_in_the_secrets_file_is_checked_like_the_others(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text(f"{ALERTMANAGER_WEBHOOK_URL} = 'not a url canary'\n")
    (tmp_path / "s.toml").chmod(0o600)
    _, (problem,) = SecretStore(tmp_path, {}).lookup(ALERTMANAGER_WEBHOOK_URL, "s.toml")
    assert "must be an http:// or https:// URL" in str(problem) and "canary" not in str(problem)
