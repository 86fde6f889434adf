"""The edge of every host works as planned: nginx on edge hosts, firewall, sshd, chrony.

Checks are generated from the same plan as the deploy; ids read ``<host>/<thing>/<check>``.
Requests go from the edge host to its own nginx (https://127.0.0.1, self-signed: not
verified), so they pass its firewall the way a client's would not need to.
"""

from __future__ import annotations

import hashlib
import shlex
import uuid

from fks_infra.checks import fleet
from fks_infra.checks.fleet import HostTarget, RouteTarget, connect
from fks_infra.firewall.ruleset import RULESET_PATH, TABLE, UNIT, UNIT_PATH, render_ruleset
from fks_infra.nginx.config import API, WEB
from fks_infra.package_data import host_file
from fks_infra.sshd.config import permit_root_login

#: Python on the host (installed by the deploy) fetching a URL N times without verifying
#: TLS and without following redirects; prints each status code.
FETCH = (
    "python3 -c 'import ssl, sys, urllib.request as u, urllib.error as e\n"
    "class Keep(u.HTTPRedirectHandler):\n"
    "    def redirect_request(self, *a, **k): return None\n"
    "o = u.build_opener(Keep, u.HTTPSHandler(context=ssl._create_unverified_context()))\n"
    "for _ in range(int(sys.argv[2])):\n"
    "    try: print(o.open(sys.argv[1], timeout=10).status)\n"
    "    except e.HTTPError as err: print(err.code)' "
)


def run(host_name: str, command: str) -> str:
    result = connect(host_name).run(command)
    assert result.rc == 0, f"{command!r} failed on {host_name}: {result.stderr}"
    return str(result.stdout)


def statuses(host_name: str, url: str, times: int = 1) -> list[int]:
    return [int(code) for code in run(host_name, f"{FETCH}{shlex.quote(url)} {times}").split()]


def status(host_name: str, url: str) -> int:
    return statuses(host_name, url)[0]


# --- nginx -------------------------------------------------------------------------------


def test_active(edge: HostTarget) -> None:
    service = connect(edge.host.name).service("nginx.service")
    assert service.is_enabled, "nginx.service is not enabled"
    assert service.is_running, "nginx.service is not running"


def test_config_ok(edge: HostTarget) -> None:
    result = connect(edge.host.name).run("nginx -t")
    assert result.rc == 0, result.stderr


def test_health_through_nginx(routes: RouteTarget) -> None:
    url = f"https://127.0.0.1/health/{routes.service.name}"
    assert status(routes.edge.name, url) == 200, url


def test_http_redirects_to_https(edge: HostTarget) -> None:
    assert status(edge.host.name, "http://127.0.0.1/health/web") == 301


def reached(service_name: str, path: str) -> bool:
    """Whether some host running the service logged a request for ``path`` (demo releases
    log one line per request)."""
    assert fleet.current is not None
    unit = fleet.current.plan.catalogue[service_name].unit
    return any(
        path in run(other.name, f"journalctl -u {unit} --no-pager -n 500 -o cat")
        for other in fleet.current.plan.hosts_running(service_name)
    )


def test_root_and_api_reach_web_and_api(edge: HostTarget) -> None:
    token = uuid.uuid4().hex
    status(edge.host.name, f"https://127.0.0.1/fks-verify-{token}")
    status(edge.host.name, f"https://127.0.0.1/api/fks-verify-{token}")
    assert reached(WEB, f"/fks-verify-{token}"), "/ did not reach web"
    assert reached(API, f"/api/fks-verify-{token}"), "/api/ did not reach api"


def test_api_is_rate_limited(edge: HostTarget) -> None:
    settings = edge.host.settings
    count = settings.fks_nginx_api_burst + settings.fks_nginx_api_rate + 20
    codes = statuses(edge.host.name, "https://127.0.0.1/api/fks-rate", count)
    assert 429 in codes, codes


def test_tls_1_1_refused(edge: HostTarget) -> None:
    host = connect(edge.host.name)
    old = host.run("openssl s_client -connect 127.0.0.1:443 -tls1_1 </dev/null")
    assert old.rc != 0, "TLS 1.1 handshake succeeded"
    modern = host.run("openssl s_client -connect 127.0.0.1:443 -tls1_2 </dev/null")
    assert modern.rc == 0, modern.stderr


def test_no_server_version(edge: HostTarget) -> None:
    headers = run(
        edge.host.name,
        "python3 -c 'import ssl, urllib.request as u; "
        'print(u.urlopen("https://127.0.0.1/health/web", '
        "context=ssl._create_unverified_context()).headers)'",
    )
    assert "Server: nginx\n" in headers, headers
    assert "X-Content-Type-Options: nosniff" in headers


# --- firewall ----------------------------------------------------------------------------


def test_ruleset_is_the_rendered_one(firewall: HostTarget) -> None:
    assert fleet.current is not None
    plan = firewall.host
    if not plan.settings.fks_firewall_enabled:
        return
    sshd_ports = run(plan.name, "sshd -T | awk '$1 == \"port\" {print $2}'").split()
    ports = {fleet.current.ssh_port(plan.name), *map(int, sshd_ports)}
    expected = render_ruleset(plan, fleet.current.plan, sorted(ports))
    live = run(plan.name, f"sha256sum {RULESET_PATH}").split()[0]
    assert live == hashlib.sha256(expected.encode()).hexdigest(), f"{RULESET_PATH} differs"


def test_table_loaded(firewall: HostTarget) -> None:
    plan = firewall.host
    result = connect(plan.name).run(f"nft list table inet {TABLE}")
    if not plan.settings.fks_firewall_enabled:
        assert result.rc != 0, f"table inet {TABLE} is loaded although disabled"
        return
    assert result.rc == 0, result.stderr
    assert "policy drop" in result.stdout
    assert fleet.current is not None
    for service in plan.services:
        if f'comment "fks {service.name}"' in render_ruleset(plan, fleet.current.plan):
            assert f"tcp dport {service.port} accept" in result.stdout, service.name


def test_enabled_at_boot(firewall: HostTarget) -> None:
    """fks-infra's own unit loads the table at boot; Debian's nftables.service, whose stop
    flushes every table (Tailscale's too), is not fks-infra's to enable."""
    host = connect(firewall.host.name)
    if not firewall.host.settings.fks_firewall_enabled:
        assert not host.file(UNIT_PATH).exists, f"{UNIT_PATH} is there although disabled"
        return
    assert host.service(UNIT).is_enabled, f"{UNIT} is not enabled"
    assert host.service(UNIT).is_running, f"{UNIT} is not active"
    live = run(firewall.host.name, f"sha256sum {UNIT_PATH}").split()[0]
    shipped = hashlib.sha256(host_file(UNIT_PATH).read_bytes()).hexdigest()
    assert live == shipped, f"{UNIT_PATH} differs"


def test_debian_nftables_conf_is_not_fks_infras(firewall: HostTarget) -> None:
    text = connect(firewall.host.name).file("/etc/nftables.conf")
    if text.exists:
        assert "managed by fks-infra" not in text.content_string, "still fks-infra's ruleset"


# --- sshd and chrony ---------------------------------------------------------------------


def test_config_valid(sshd: HostTarget) -> None:
    result = connect(sshd.host.name).run("sshd -t")
    assert result.rc == 0, result.stderr


def test_hardened(sshd: HostTarget) -> None:
    values = dict(
        line.split(" ", 1) for line in run(sshd.host.name, "sshd -T").splitlines() if " " in line
    )
    root_login = permit_root_login(sshd.host.settings, sshd.host.login_user)
    assert values["permitrootlogin"] in (
        {root_login, "without-password"} if root_login == "prohibit-password" else {root_login}
    )
    assert values["passwordauthentication"] == "no"
    assert values["kbdinteractiveauthentication"] == "no"
    assert values["maxauthtries"] == str(sshd.host.settings.fks_ssh_max_auth_tries)


def test_running(chrony: HostTarget) -> None:
    service = connect(chrony.host.name).service("chrony.service")
    assert service.is_enabled, "chrony.service is not enabled"
    assert service.is_running, "chrony.service is not running"
    run(chrony.host.name, "chronyc -n tracking")
