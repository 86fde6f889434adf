"""End to end on the lab: the edge as seen from outside and from inside the inventory.

The control machine is not an inventory host: it reaches SSH and HTTPS, never a service
port. Hosts reach exactly the service ports their plan needs. A broken nginx value never
goes live.
"""

from __future__ import annotations

import json
import shlex
import socket
import ssl

import pytest
from deploying import Run, deploy, deploy_broken

from fks_infra.lab.testing import Lab

pytestmark = pytest.mark.lab


def reachable(address: str, port: int) -> bool:
    """One bounded TCP connect from the control machine (to a lab address only)."""
    try:
        with socket.create_connection((address, port), timeout=3):
            return True
    except OSError:
        return False


def test_control_machine_gets_ssh_and_https_but_no_service_port(lab: Lab, deployed: Run) -> None:
    core, gpu = lab.addresses["core-1"], lab.addresses["gpu-1"]
    assert reachable(core, 22)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the lab's certificate is self-signed
    with (
        socket.create_connection((core, 443), timeout=5) as raw,
        context.wrap_socket(raw) as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    assert not reachable(core, 8001), "api's port answers the control machine"
    assert not reachable(gpu, 8007), "ai's port answers the control machine"


def http_code(lab: Lab, host: str, url: str) -> str:
    done = lab.ssh(host, f"curl -sk -m 5 -o /dev/null -w '%{{http_code}}' {url}")
    return done.stdout.strip()


def test_hosts_reach_the_service_ports_their_plan_needs_only(lab: Lab, deployed: Run) -> None:
    gpu = lab.addresses["gpu-1"]
    # nginx on core-1 proxies to ai on gpu-1 ...
    assert http_code(lab, "core-1", f"http://{gpu}:8007/health") == "200"
    assert http_code(lab, "core-1", "https://127.0.0.1/health/ai") == "200"
    # ... while the bridge host has no business there.
    assert http_code(lab, "bridge-1", f"http://{gpu}:8007/health") == "000"


NGINX_FILES = "/etc/nginx/nginx.conf /etc/nginx/fks/*"


def test_a_broken_nginx_value_never_goes_live(lab: Lab, deployed: Run) -> None:
    before = lab.ssh("core-1", f"sha256sum {NGINX_FILES}").stdout
    assert before

    bad = deploy("--data", f"fks_nginx_server_name={json.dumps('*a')}")

    assert bad.returncode != 0
    assert 'server name "*a" is invalid' in bad.stdout + bad.stderr
    assert lab.ssh("core-1", f"sha256sum {NGINX_FILES}").stdout == before
    assert lab.ssh("core-1", "systemctl is-active nginx").stdout.strip() == "active"
    assert http_code(lab, "core-1", "https://127.0.0.1/health/api") == "200"
    assert deploy().changed() == []


# --- the firewall's unit owns one table ---------------------------------------------------

OWN_TABLE = "nft list table inet fks_infra"
TABLES = "nft list tables"
#: Another tool's table, with a base chain as Tailscale's has (accepting: it changes nothing).
OTHER = (
    "nft add table inet other && nft add chain inet other input "
    "'{ type filter hook input priority 10; policy accept; }'"
)


def nft_tables(lab: Lab, host: str) -> list[str]:
    return lab.ssh(host, TABLES).stdout.splitlines()


def test_another_tools_table_survives_the_firewall_unit_and_a_redeploy(
    lab: Lab, deployed: Run
) -> None:
    host = "core-1"
    assert lab.ssh(host, OTHER).returncode == 0
    try:
        for action in ("reload", "restart", "stop"):
            done = lab.ssh(host, f"systemctl {action} fks-firewall.service")
            assert done.returncode == 0, (action, done.stderr)
            assert "table inet other" in nft_tables(lab, host), action
        assert "table inet fks_infra" not in nft_tables(lab, host)  # stop: its own table only
        again = deploy()
        assert again.returncode == 0, again.why()
        assert again.changed() == [("Firewall | Keep fks-firewall.service active", host)]
        assert {"table inet other", "table inet fks_infra"} <= set(nft_tables(lab, host))
        assert "policy drop" in lab.ssh(host, OWN_TABLE).stdout
        assert deploy().changed() == []
    finally:
        lab.ssh(host, "nft delete table inet other")


def conffile_md5(lab: Lab, host: str) -> tuple[str, str]:
    """(MD5 dpkg recorded for nftables' /etc/nftables.conf, MD5 of the file on the host)."""
    done = lab.ssh(
        host,
        "dpkg-query -W -f='${Conffiles}' nftables | awk '$1 == \"/etc/nftables.conf\" {print $2}';"
        " md5sum < /etc/nftables.conf | cut -d' ' -f1",
    )
    recorded, live = done.stdout.split()
    return recorded, live


#: /etc/nftables.conf as fks-infra wrote it before it had its own file and unit.
OLD_RULESET = (
    "#!/usr/sbin/nft -f\n# /etc/nftables.conf: managed by fks-infra; do not edit\n"
    "table inet fks_infra\ndelete table inet fks_infra\n"
    "table inet fks_infra {\n    chain input {\n"
    "        type filter hook input priority filter; policy drop;\n"
    '        iif "lo" accept\n        ct state established,related accept\n'
    "        tcp dport 22 accept\n    }\n}\n"
)


def test_a_host_of_the_old_layout_gets_debians_nftables_back_and_keeps_other_tables(
    lab: Lab, deployed: Run
) -> None:
    for host in lab.hosts:  # each release's stock file is the package's own
        assert lab.ssh(host.name, "systemctl is-enabled nftables.service").stdout.strip() in (
            "disabled",
            "",
        ), host.name
        recorded, live = conffile_md5(lab, host.name)
        assert recorded == live, f"{host.name}: /etc/nftables.conf is not Debian's stock file"
    host = "core-1"
    # The old layout: fks-infra's ruleset in Debian's file, loaded by nftables.service.
    old = lab.ssh(
        host,
        "systemctl disable --now fks-firewall.service && rm -f /etc/fks-infra/firewall.nft "
        f"/etc/systemd/system/fks-firewall.service && systemctl daemon-reload && "
        f"printf %s {shlex.quote(OLD_RULESET)} > /etc/nftables.conf && "
        f"systemctl enable --now nftables.service && {OTHER}",
    )
    try:
        assert old.returncode == 0, old.stderr
        migrated = deploy()
        assert migrated.returncode == 0, migrated.why()
        assert {"table inet other", "table inet fks_infra"} <= set(nft_tables(lab, host))
        assert "policy drop" in lab.ssh(host, OWN_TABLE).stdout
        states = lab.ssh(host, "systemctl is-enabled nftables.service; systemctl is-active "
                         "nftables.service fks-firewall.service").stdout.split()  # fmt: skip
        assert states == ["disabled", "inactive", "active"], states
        recorded, live = conffile_md5(lab, host)
        assert recorded == live
        assert deploy().changed() == []
    finally:
        lab.ssh(host, "nft delete table inet other")


def test_a_deploy_failing_after_the_firewall_stage_leaves_the_firewall_up(
    lab: Lab, deployed: Run
) -> None:
    """As on a fresh host whose first deploy fails: no fks-infra table yet when it starts."""
    core = lab.addresses["core-1"]
    bare = lab.ssh("core-1", f"systemctl stop fks-firewall.service && ! {OWN_TABLE}")
    assert bare.returncode == 0, bare.stderr
    assert reachable(core, 5432), "PostgreSQL is not listening on core-1's address"
    # sshd's stage comes after the firewall's: its check fails on every host.
    run = deploy_broken("fks_infra.sshd.config", "render_sshd", "MaxAuthTries many\n")
    assert run.returncode != 0
    assert "MaxAuthTries integer value invalid" in run.stderr, run.why()
    assert "policy drop" in lab.ssh("core-1", OWN_TABLE).stdout
    for port, what in ((5432, "PostgreSQL"), (6379, "Redis"), (9100, "node exporter")):
        assert not reachable(core, port), f"{what} answers a host the plan does not name"
    assert reachable(core, 22)
    assert deploy().changed() == []
