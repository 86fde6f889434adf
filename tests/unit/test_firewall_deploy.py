"""The firewall's own operations as data (recorded facts in, commands out), and the stock
``/etc/nftables.conf`` fks-infra gives back to Debian on hosts it deployed before."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from typing import Any

import pytest
from pyinfra.facts.files import FindInFile
from test_operations import commands

from fks_infra.firewall import deploy as firewall
from fks_infra.firewall.ruleset import RULESET_PATH, UNIT_PATH
from fks_infra.operations.facts import FileDigest
from fks_infra.package_data import host_file

OLD_HEADER = "# /etc/nftables.conf: managed by fks-infra; do not edit"


def facts(present: set[str], debian_ruleset: list[str] | None = None) -> dict[Any, Any]:
    def digest(path: str) -> dict[str, str] | None:
        return (
            {"sha256": "0" * 64, "mode": "644", "user": "root", "group": "root"}
            if (path in present)
            else None
        )

    return {FileDigest: digest, FindInFile: lambda path, pattern: debian_ruleset}


def test_a_disabled_firewall_with_nothing_left_yields_nothing() -> None:
    assert commands(firewall.firewall_removed, facts(set())) == []


def test_a_disabled_firewall_removes_its_unit_file_and_table_only() -> None:
    out = commands(firewall.firewall_removed, facts({UNIT_PATH, RULESET_PATH}))
    assert out == [
        "systemctl disable --now fks-firewall.service",
        f"rm -f {UNIT_PATH} {RULESET_PATH}",
        "systemctl daemon-reload",
        "nft 'add table inet fks_infra; delete table inet fks_infra'",
    ]
    assert not any("flush" in line or "nftables.service" in line for line in out)


@pytest.mark.parametrize("found", [None, []], ids=["no file", "not fks-infra's"])
def test_a_debian_ruleset_fks_infra_did_not_write_is_left_alone(found: list[str] | None) -> None:
    assert commands(firewall.debian_nftables_restored, facts(set(), found)) == []


def test_fks_infras_old_ruleset_goes_back_to_debian_without_a_flush() -> None:
    out = commands(firewall.debian_nftables_restored, facts(set(), [OLD_HEADER]))
    assert OLD_HEADER.endswith(firewall.LEGACY_MARK + "; do not edit")
    stop, *write = out
    # nftables.service's ExecStop (nft flush ruleset) is emptied for the stop that disables it.
    assert stop.startswith(
        "mkdir -p /run/systemd/system/nftables.service.d && printf '[Service]\\nExecStop=\\n' > "
        "/run/systemd/system/nftables.service.d/fks-infra-no-flush.conf && systemctl "
        "daemon-reload && systemctl disable --now nftables.service; "
    ), stop
    assert stop.endswith("systemctl daemon-reload && exit $status")
    assert write[-1] == "mv -f /var/lib/fks-infra/staging/{} /etc/nftables.conf".format(
        hashlib.sha256(host_file("/etc/nftables.conf").read_bytes()).hexdigest()[:16]
    )
    assert "chmod 755 /var/lib/fks-infra/staging/" in " ".join(write)


def test_the_stock_file_is_the_nftables_packages_own() -> None:
    """dpkg records the MD5 of each conffile as shipped; skipped where nftables is not
    installed (a Debian 13 host is checked on the lab, test_edge.py)."""
    dpkg_query = shutil.which("dpkg-query")
    if dpkg_query is None:
        pytest.skip("no dpkg-query here")
    done = subprocess.run(
        [dpkg_query, "-W", "-f=${Conffiles}", "nftables"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip("the nftables package is not installed here")
    recorded = dict(line.split()[:2] for line in done.stdout.strip().splitlines())
    shipped = hashlib.md5(host_file("/etc/nftables.conf").read_bytes()).hexdigest()
    assert recorded["/etc/nftables.conf"] == shipped
