"""The Tailscale templates, rendered as the deploy renders them and read by the real tools."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from checkers import apt_policy

from fks_infra.tailscale.deploy import KEYRING
from fks_infra.templating import render

APT_CACHE = shutil.which("apt-cache")


def sources() -> str:
    return render(
        "etc/apt/sources.list.d/tailscale.list.j2",
        {
            "keyring": KEYRING,
            "repository": "https://mirror.example.net/tailscale/debian",
            "suite": "bookworm",
        },
    )


def test_sources_line_is_signed_by_the_keyring() -> None:
    lines = [line for line in sources().splitlines() if not line.startswith("#")]
    assert lines == [
        f"deb [signed-by={KEYRING}] https://mirror.example.net/tailscale/debian bookworm main"
    ]
    assert sources().startswith("# /etc/apt/sources.list.d/tailscale.list: managed by fks-infra")


@pytest.mark.skipif(APT_CACHE is None, reason="apt-cache is not installed")
def test_apt_reads_the_rendered_sources_and_pin(tmp_path: Path) -> None:
    pin = render("etc/apt/preferences.d/tailscale.j2", {"version": "1.76.6"})
    assert "Pin: version 1.76.6\nPin-Priority: 1001\n" in pin
    result = apt_policy(tmp_path, "tailscale", {"tailscale.list": sources()}, {"tailscale": pin})
    assert result.returncode == 0, result.stderr
    assert "E:" not in result.stderr


@pytest.mark.skipif(APT_CACHE is None, reason="apt-cache is not installed")
def test_apt_check_catches_a_broken_pin(tmp_path: Path) -> None:
    # The check above can fail: apt rejects a preferences record without Package.
    result = apt_policy(
        tmp_path,
        "tailscale",
        {"tailscale.list": sources()},
        {"tailscale": "Pin: version 1.76.6\nPin-Priority: 1001\n"},
    )
    assert result.returncode != 0 and "preferences" in result.stderr


def test_tailscaled_defaults_set_the_port(tmp_path: Path) -> None:
    text = render("etc/default/tailscaled.j2", {"port": 41642})
    assert text.startswith("# /etc/default/tailscaled: managed by fks-infra")
    defaults = tmp_path / "tailscaled"
    defaults.write_text(text)
    # The unit reads it as an EnvironmentFile; sh reads the same KEY="value" lines.
    result = subprocess.run(
        ["sh", "-c", f'. {defaults} && echo "$PORT|$FLAGS"'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout == "41642|\n"
