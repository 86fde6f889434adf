"""nginx, nftables, sshd and chrony configs, rendered from realistic plans and judged by the
real programs: ``nginx -t``, ``nft -c``, ``sshd -t``, ``chronyd -p``.

The text checked is byte for byte what a deploy writes (production Jinja settings); only the
TLS file paths point into a temporary directory. Each program is also shown to refuse a
deliberately broken file, so a passing check means something. Without a program its tests
skip, except under ``CI=true`` where that is a failure. Nothing here starts a daemon: nft
runs in its own network namespace, sshd in its own mount namespace (for ``/run/sshd``).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from checkers import run, tool
from pydantic import SecretStr
from windows_side import ENDPOINTS

from fks_infra.catalogue import CATALOGUE
from fks_infra.chrony import config as chrony
from fks_infra.distro import SUPPORTED
from fks_infra.errors import Problem, ProblemsError
from fks_infra.firewall.ruleset import RULESET_PATH, TABLE, UNIT_PATH, render_ruleset
from fks_infra.nginx.config import MAIN_CONFIG, edge_hosts, render_nginx
from fks_infra.nginx.tls import SELF_SIGNED_TLS, TlsFiles, configured_tls
from fks_infra.operations.checked import candidate_path
from fks_infra.package_data import host_file
from fks_infra.plan import HostSpec, InventoryPlan, plan_inventory
from fks_infra.settings import HostSettings
from fks_infra.sshd import config as sshd

# --- plans -------------------------------------------------------------------------------

BOOKWORM = SUPPORTED[0]


def all_secrets(name: str, settings: HostSettings) -> tuple[SecretStr | None, list[Problem]]:
    return SecretStr(f"value-of-{name}"), []


def spec(name: str, groups: Sequence[str], address: str, **data: Any) -> HostSpec:
    data = {"ssh_hostname": address, **ENDPOINTS, **data}
    return HostSpec(name, tuple(groups), data, {key: "inventory/test.py" for key in data})


UNIQUE_CORE = [s.name for s in CATALOGUE if s.unique and s.role.value == "core"]


def single() -> InventoryPlan:
    """One host with every role, services on localhost (the all-in-one lab)."""
    return plan_inventory(
        [spec("aio-1", ["core", "gpu", "bridge"], "127.0.0.1")], secrets=all_secrets
    )


def three() -> InventoryPlan:
    """One host per role; the bridge is reached over IPv6."""
    return plan_inventory(
        [
            spec("core-1", ["core"], "10.0.0.10"),
            spec("gpu-1", ["gpu"], "10.0.0.20"),
            spec("bridge-1", ["bridge"], "fd00::30"),
        ],
        secrets=all_secrets,
    )


def nine() -> InventoryPlan:
    """Three of each role; unique services on the first core host, a fourth core host that
    runs no nginx, and one gpu host whose services every host may call."""
    specs = [spec("core-1", ["core", "datastore"], "10.0.1.1")]
    specs += [
        spec(f"core-{i}", ["core"], f"10.0.1.{i}", fks_services_skip=UNIQUE_CORE) for i in (2, 3)
    ]
    specs += [
        spec("gpu-1", ["gpu"], "10.0.2.1", fks_firewall_open_services=["ai"]),
        spec("gpu-2", ["gpu"], "10.0.2.2", fks_port_overrides={"ai": 8013, "monitor": 8007}),
        spec("gpu-3", ["gpu"], "10.0.2.3"),
    ]
    specs += [
        spec("bridge-1", ["bridge"], "10.0.3.1"),
        spec(
            "bridge-2",
            ["bridge", "core"],
            "10.0.3.2",
            fks_services_skip=[*UNIQUE_CORE, "meta", "ninja"],
            fks_nginx_enabled=False,
        ),
        spec(
            "bridge-3",
            ["bridge"],
            "10.0.3.3",
            fks_services_skip=["meta", "ninja"],
            fks_services_extra=["crypto"],
        ),
    ]
    return plan_inventory(specs, secrets=all_secrets)


PLANS = {"single": single, "three": three, "nine": nine}


def every_host() -> list[tuple[str, str]]:
    return [(layout, host.name) for layout, make in PLANS.items() for host in make().hosts]


def every_edge_host() -> list[tuple[str, str]]:
    return [(layout, host.name) for layout, make in PLANS.items() for host in edge_hosts(make())]


# --- tools -------------------------------------------------------------------------------


def isolated(argv: list[str], *, mounts: bool = False) -> list[str]:
    """``argv`` in a fresh network (and mount) namespace where this machine allows it."""
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        return argv
    return [unshare, "--net", *(["--mount"] if mounts else []), "--", *argv]


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A self-signed pair made the way the deploy makes one (same openssl arguments)."""
    folder = tmp_path_factory.mktemp("tls")
    files = TlsFiles(str(folder / "fks.crt"), str(folder / "fks.key"))
    result = run(
        [
            tool("openssl"), "req", "-x509", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-sha256", "-days", "2",
            "-subj", "/CN=core-1", "-addext", "subjectAltName=DNS:core-1,IP:10.0.0.10",
            "-keyout", files.key, "-out", files.certificate,
        ]
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return files


def write_tree(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


# --- nginx -------------------------------------------------------------------------------


def nginx_test(root: Path) -> subprocess.CompletedProcess[str]:
    """The deploy's check, run on a candidate tree: ``nginx -t -q -c <root>/etc/nginx/...``."""
    return run([tool("nginx"), "-t", "-q", "-c", f"{root}{MAIN_CONFIG}"])


@pytest.mark.parametrize(("layout", "host"), every_edge_host())
def test_nginx_accepts_the_rendered_config(
    tmp_path: Path, tls: TlsFiles, layout: str, host: str
) -> None:
    inventory = PLANS[layout]()
    write_tree(tmp_path, render_nginx(inventory.host(host), inventory, tls, BOOKWORM))
    result = nginx_test(tmp_path)
    assert (result.returncode, result.stderr) == (0, "")


def test_nginx_refuses_a_broken_candidate(tmp_path: Path, tls: TlsFiles) -> None:
    inventory = three()
    files = render_nginx(inventory.host("core-1"), inventory, tls, BOOKWORM)
    site = "/etc/nginx/fks/site.conf"
    files[site] = files[site].replace("proxy_pass http://fks_api;", "proxy_pas http://fks_api;")
    write_tree(tmp_path, files)
    result = nginx_test(tmp_path)
    assert result.returncode != 0
    # nginx names the candidate's own file: its includes are relative to the candidate.
    assert f'unknown directive "proxy_pas" in {tmp_path}{site}' in result.stderr


def test_nginx_refuses_a_key_that_does_not_match(
    tmp_path: Path, tls: TlsFiles, tmp_path_factory: pytest.TempPathFactory
) -> None:
    other = tmp_path_factory.mktemp("other") / "other.key"
    assert run([tool("openssl"), "genpkey", "-algorithm", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-out", str(other)]).returncode == 0  # fmt: skip
    inventory = three()
    mismatched = TlsFiles(tls.certificate, str(other))
    write_tree(tmp_path, render_nginx(inventory.host("core-1"), inventory, mismatched, BOOKWORM))
    result = nginx_test(tmp_path)
    assert result.returncode != 0
    assert "key values mismatch" in result.stderr


def test_upstreams_list_every_host_running_the_service_at_its_port() -> None:
    inventory = nine()
    upstreams = render_nginx(inventory.host("core-1"), inventory, SELF_SIGNED_TLS, BOOKWORM)[
        "/etc/nginx/fks/upstreams.conf"
    ]
    blocks = dict(re.findall(r"upstream (fks_\w+) \{\n(.*?)\n\}", upstreams, re.S))
    assert len(blocks) == len(CATALOGUE)

    def servers(name: str) -> list[str]:
        return re.findall(r"server (\S+) ", blocks[name])

    # Literal expectations from the nine-host layout above, not read back from the plan.
    assert servers("fks_ai") == ["10.0.2.1:8007", "10.0.2.2:8013", "10.0.2.3:8007"]
    assert servers("fks_monitor") == ["10.0.1.1:8013"]
    assert servers("fks_web") == ["10.0.1.1:8000", "10.0.1.2:8000", "10.0.1.3:8000",
                                  "10.0.3.2:8000"]  # fmt: skip
    assert servers("fks_crypto")[-1] == "10.0.3.3:8014"
    assert servers("fks_meta") == ["10.0.3.1:8005"]


def test_ipv6_upstream_servers_are_bracketed() -> None:
    inventory = three()
    text = render_nginx(inventory.host("core-1"), inventory, SELF_SIGNED_TLS, BOOKWORM)[
        "/etc/nginx/fks/upstreams.conf"
    ]
    assert "server [fd00::30]:8005 " in text


def test_site_routes_health_api_and_web() -> None:
    inventory = three()
    site = render_nginx(inventory.host("core-1"), inventory, SELF_SIGNED_TLS, BOOKWORM)[
        "/etc/nginx/fks/site.conf"
    ]
    for service in CATALOGUE:
        assert (
            f"location = /health/{service.name} {{\n"
            f"        proxy_pass http://fks_{service.name}/health;\n"
        ) in site
    assert "location / {\n        proxy_pass http://fks_web;\n" in site
    assert re.search(r"location /api/ \{\n\s+limit_req zone=fks_api burst=20 nodelay;\n"
                     r"\s+proxy_pass http://fks_api;\n", site)  # fmt: skip
    assert "limit_req_status 429;" in site
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in site
    assert "return 301 https://$host$request_uri;" in site
    assert "\n\n\n" not in site


def test_every_nginx_file_has_the_managed_header() -> None:
    inventory = single()
    for path, text in render_nginx(
        inventory.hosts[0], inventory, SELF_SIGNED_TLS, BOOKWORM
    ).items():
        assert text.startswith(f"# {path}: managed by fks-infra; do not edit\n")


def test_a_configured_pair_gets_paths_named_by_its_digest() -> None:
    first = configured_tls(b"cert", b"key")
    assert first.certificate.startswith("/etc/nginx/tls/fks-")
    assert first != configured_tls(b"cert", b"other key")
    assert first == configured_tls(b"cert", b"key")


# --- nftables ----------------------------------------------------------------------------


def nft_check(path: Path) -> subprocess.CompletedProcess[str]:
    return run(isolated([tool("nft"), "-c", "-f", str(path)]))


@pytest.mark.parametrize(("layout", "host"), every_host())
def test_nft_accepts_the_rendered_ruleset(tmp_path: Path, layout: str, host: str) -> None:
    inventory = PLANS[layout]()
    ruleset = tmp_path / "nftables.conf"
    ruleset.write_text(render_ruleset(inventory.host(host), inventory, (22, 2222)))
    result = nft_check(ruleset)
    assert (result.returncode, result.stderr) == (0, "")


def test_the_ruleset_is_fks_infras_own_file_not_debians() -> None:
    inventory = three()
    text = render_ruleset(inventory.host("core-1"), inventory)
    assert RULESET_PATH == "/etc/fks-infra/firewall.nft"
    assert text.splitlines()[1] == f"# {RULESET_PATH}: managed by fks-infra; do not edit"
    assert "flush" not in text.replace('no "flush ruleset"', "")
    assert f"table inet {TABLE}\ndelete table inet {TABLE}\n" in text


def unit_commands(ruleset: Path) -> dict[str, list[str]]:
    """ExecStart, ExecReload and ExecStop of fks-firewall.service, reading ``ruleset``."""
    commands = {}
    for line in host_file(UNIT_PATH).read_text().splitlines():
        key, _, value = line.partition("=")
        if key in ("ExecStart", "ExecReload", "ExecStop"):
            commands[key] = shlex.split(value.replace(RULESET_PATH, str(ruleset)))
    return commands


def test_the_firewall_unit_adds_replaces_and_deletes_its_own_table_only(tmp_path: Path) -> None:
    """Debian's nftables.service flushes every table when stopped (Tailscale's too); the
    unit fks-infra enables must leave other tables alone, here in a private namespace."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("loading rulesets needs root and unshare (a private network namespace)")
    inventory = three()
    ruleset = tmp_path / "firewall.nft"
    ruleset.write_text(render_ruleset(inventory.host("gpu-1"), inventory, (22,)))
    unit = unit_commands(ruleset)
    assert unit["ExecStart"] == unit["ExecReload"] == [tool("nft"), "-f", str(ruleset)]
    stop = unit["ExecStop"]
    assert len(stop) == 2 and stop[0] == tool("nft"), stop
    # Another tool's table (as Tailscale adds one); start, a redeploy's reload; stop twice
    # (stopping a stopped firewall is no error).
    script = (
        'nft add table inet other && nft -f "$1" && nft -f "$1" && nft list tables && echo -- '
        '&& nft "$2" && nft "$2" && nft list tables'
    )
    result = run(isolated(["sh", "-c", script, "sh", str(ruleset), stop[1]]))
    assert result.returncode == 0, result.stderr
    running, stopped = result.stdout.split("--\n")
    assert running.split("\n")[:-1] == ["table inet other", f"table inet {TABLE}"]
    assert stopped == "table inet other\n"


def test_nft_accepts_the_disabled_ruleset(tmp_path: Path) -> None:
    inventory = plan_inventory(
        [spec("aio-1", ["core", "gpu", "bridge"], "127.0.0.1", fks_firewall_enabled=False)],
        secrets=all_secrets,
    )
    text = render_ruleset(inventory.hosts[0], inventory)
    assert "policy drop" not in text
    assert text.rstrip().endswith("delete table inet fks_infra")
    ruleset = tmp_path / "nftables.conf"
    ruleset.write_text(text)
    assert nft_check(ruleset).returncode == 0


def test_nft_refuses_a_broken_ruleset(tmp_path: Path) -> None:
    inventory = three()
    text = render_ruleset(inventory.host("gpu-1"), inventory)
    ruleset = tmp_path / "nftables.conf"
    ruleset.write_text(text.replace("tcp dport 8007 accept", "tcp dport 8007 acept"))
    result = nft_check(ruleset)
    assert result.returncode != 0
    assert "syntax error" in result.stderr


def rules(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if "dport" in line]


def test_service_ports_only_from_the_hosts_that_call_them() -> None:
    inventory = three()
    gpu = rules(render_ruleset(inventory.host("gpu-1"), inventory))
    bridge = rules(render_ruleset(inventory.host("bridge-1"), inventory))
    core = rules(render_ruleset(inventory.host("core-1"), inventory, (2222,)))
    # core-1 runs nginx and monitor: it reaches everything else; other hosts reach only
    # its datastores, and only those whose services read them (ai: Redis, training: PostgreSQL).
    assert 'ip saddr { 10.0.0.10 } tcp dport 8007 accept comment "fks ai"' in gpu
    assert 'ip saddr { 10.0.0.10 } tcp dport 8011 accept comment "fks training"' in gpu
    assert 'ip saddr { 10.0.0.10 } tcp dport 9100 accept comment "fks node-exporter"' in gpu
    assert 'ip saddr { 10.0.0.10 } tcp dport 8005 accept comment "fks meta"' in bridge
    assert 'ip saddr { 10.0.0.10 } tcp dport 9100 accept comment "fks node-exporter"' in bridge
    assert core == [
        'ip6 saddr fe80::/10 udp dport 546 accept comment "DHCPv6 replies"',
        'tcp dport { 2222 } accept comment "ssh"',
        'tcp dport { 80, 443 } accept comment "nginx"',
        'ip saddr { 10.0.0.20 } tcp dport 5432 accept comment "fks postgresql"',
        'ip saddr { 10.0.0.20 } tcp dport 6379 accept comment "fks redis"',
    ]
    assert not any("80, 443" in line for line in gpu + bridge)


def test_nine_hosts_sources_by_family_and_setting() -> None:
    inventory = nine()
    gpu1 = rules(render_ruleset(inventory.host("gpu-1"), inventory))
    gpu2 = rules(render_ruleset(inventory.host("gpu-2"), inventory))
    edges = "10.0.1.1, 10.0.1.2, 10.0.1.3"  # bridge-2 is core but fks_nginx_enabled = False
    assert f'ip saddr {{ {edges} }} tcp dport 8011 accept comment "fks training"' in gpu2
    # ai moved to 8013 on gpu-2: its rule follows the port of that host.
    assert f'ip saddr {{ {edges} }} tcp dport 8013 accept comment "fks ai"' in gpu2
    # fks_firewall_open_services = ["ai"] on gpu-1: every other inventory host may call it.
    everyone = "10.0.1.1, 10.0.1.2, 10.0.1.3, 10.0.2.2, 10.0.2.3, 10.0.3.1, 10.0.3.2, 10.0.3.3"
    assert f'ip saddr {{ {everyone} }} tcp dport 8007 accept comment "fks ai"' in gpu1


def test_single_host_opens_no_service_port() -> None:
    inventory = single()
    text = render_ruleset(inventory.hosts[0], inventory)
    assert "8000" not in text and "saddr { 127" not in text
    assert 'iif "lo" accept' in text


# --- sshd --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def host_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    key = tmp_path_factory.mktemp("sshd") / "ssh_host_ed25519_key"
    result = run([tool("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-f", str(key)])
    assert result.returncode == 0, result.stderr
    return key


def run_sshd(config: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    """``sshd <flags> -f config`` with a private, empty /run (sshd -t wants /run/sshd)."""
    script = 'mount -t tmpfs tmpfs /run && mkdir -m 755 /run/sshd && exec "$@"'
    argv = ["sh", "-c", script, "sh", tool("sshd"), *flags, "-f", str(config)]
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("sshd -t needs root and unshare here (for a private /run/sshd)")
    return run(isolated(argv, mounts=True))


def effective(output: str) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in output.splitlines() if " " in line)


@pytest.mark.parametrize("root_login", ["prohibit-password", "no"])
def test_sshd_accepts_the_drop_in_and_its_values_win(
    tmp_path: Path, host_key: Path, root_login: str
) -> None:
    settings = HostSettings(fks_ssh_permit_root_login=root_login, fks_ssh_max_auth_tries=4)
    drop_in = tmp_path / "00-fks-infra.conf"
    drop_in.write_text(sshd.render_sshd(settings, "deploy"))
    # Another drop-in that sshd reads later, as cloud-init's would: ours must still win.
    later = tmp_path / "50-cloud-init.conf"
    later.write_text("PasswordAuthentication yes\nPermitRootLogin yes\n")
    main = tmp_path / "sshd_config"
    main.write_text(f"HostKey {host_key}\nInclude {drop_in}\nInclude {later}\n")
    result = run_sshd(main, "-t")
    assert (result.returncode, result.stderr) == (0, "")
    values = effective(run_sshd(main, "-T").stdout)
    # sshd -T prints prohibit-password under its older name.
    assert values["permitrootlogin"] == {"prohibit-password": "without-password"}.get(
        root_login, root_login
    )
    assert values["passwordauthentication"] == "no"
    assert values["kbdinteractiveauthentication"] == "no"
    assert values["maxauthtries"] == "4"
    assert values["logingracetime"] == "30"
    # Lynis SSH-7408: a dead client dropped in 3 minutes, nothing forwarded, logins logged
    # with their key; MaxSessions leaves room for a deploy's 3 (run lock, SFTP, command).
    assert {key: values[key] for key in LYNIS_SSHD} == LYNIS_SSHD


LYNIS_SSHD = {
    "clientaliveinterval": "60",
    "clientalivecountmax": "2",
    "tcpkeepalive": "no",
    "maxsessions": "4",
    "allowtcpforwarding": "no",
    "allowagentforwarding": "no",
    "allowstreamlocalforwarding": "no",
    "x11forwarding": "no",
    "permittunnel": "no",
    "gatewayports": "no",
    "permituserenvironment": "no",
    "compression": "no",
    "loglevel": "VERBOSE",
}


def test_the_deploy_check_command_checks_the_whole_host_config(tmp_path: Path) -> None:
    """Runs the production check command on this machine's own /etc/ssh/sshd_config."""
    if not Path(sshd.MAIN_CONFIG).is_file():
        pytest.skip(f"no {sshd.MAIN_CONFIG} on this machine")
    tool("sshd")
    candidate = candidate_path("sshd", sshd.DROP_IN).replace(
        "/var/lib/fks-infra/candidates/sshd", str(tmp_path)
    )
    Path(candidate).parent.mkdir(parents=True)
    Path(candidate).write_text(sshd.render_sshd(HostSettings(), "root"))
    command = sshd.candidate_check(f"{tmp_path}{sshd.DROP_IN}")
    script = f"mount -t tmpfs tmpfs /run && mkdir -m 755 /run/sshd && {command}"
    assert run(isolated(["sh", "-c", script], mounts=True)).returncode == 0
    Path(candidate).write_text("PermitRootLogin maybe\n")
    broken = run(isolated(["sh", "-c", script], mounts=True))
    assert broken.returncode != 0
    assert 'unsupported option "maybe"' in broken.stderr


def test_sshd_refuses_a_broken_drop_in(tmp_path: Path, host_key: Path) -> None:
    drop_in = tmp_path / "00-fks-infra.conf"
    drop_in.write_text(
        sshd.render_sshd(HostSettings(), "root").replace("MaxAuthTries 3", "MaxAuthTries x")
    )
    main = tmp_path / "sshd_config"
    main.write_text(f"HostKey {host_key}\nInclude {drop_in}\n")
    result = run_sshd(main, "-t")
    assert result.returncode != 0
    assert "MaxAuthTries" in result.stderr or "integer" in result.stderr


# --- chrony ------------------------------------------------------------------------------

CHRONY_SETTINGS = {
    "defaults": {},
    "lab": {"fks_ntp_pools": (), "fks_time_adjust_clock": False},
    "servers": {"fks_ntp_pools": (), "fks_ntp_servers": ("192.0.2.1", "ntp.example.org")},
}


def chronyd_parse(path: Path) -> subprocess.CompletedProcess[str]:
    """``chronyd -p``: parse the config, print it, exit (no daemon, no clock change)."""
    return run([tool("chronyd"), "-p", "-f", str(path)])


@pytest.mark.parametrize("variant", CHRONY_SETTINGS)
def test_chronyd_accepts_the_rendered_config(tmp_path: Path, variant: str) -> None:
    config = tmp_path / "chrony.conf"
    config.write_text(chrony.render_chrony(HostSettings(**CHRONY_SETTINGS[variant])))
    result = chronyd_parse(config)
    assert (result.returncode, result.stderr) == (0, "")
    printed = result.stdout
    if variant == "lab":
        assert "pool " not in printed and "makestep" not in printed
    if variant == "servers":
        assert "server ntp.example.org iburst" in printed


def test_chronyd_refuses_a_broken_config(tmp_path: Path) -> None:
    config = tmp_path / "chrony.conf"
    config.write_text(chrony.render_chrony(HostSettings()).replace("makestep 1 3", "makestep 1"))
    result = chronyd_parse(config)
    assert result.returncode != 0
    assert "Missing arguments for makestep directive" in result.stderr


def test_the_chrony_drop_in_keeps_the_privileged_start() -> None:
    text = chrony.render_drop_in()
    assert "ConditionCapability=\n" in text
    assert "ExecStart=\nExecStart=!/usr/sbin/chronyd $DAEMON_OPTS -x\n" in text


# --- validation --------------------------------------------------------------------------


def problems_of(**data: Any) -> list[str]:
    with pytest.raises(ProblemsError) as caught:
        plan_inventory([spec("aio-1", ["core", "gpu", "bridge"], "127.0.0.1", **data)],
                       secrets=all_secrets)  # fmt: skip
    return [str(problem) for problem in caught.value.problems]


def test_a_certificate_without_a_key_is_refused(tls: TlsFiles) -> None:
    assert problems_of(fks_tls_certificate=tls.certificate) == [
        "inventory/test.py: host aio-1: fks_tls_key: fks_tls_certificate is set but "
        "fks_tls_key is not: give both, or neither for a self-signed certificate"
    ]


def test_tls_files_must_exist_and_be_pem(tmp_path: Path, tls: TlsFiles) -> None:
    (tmp_path / "empty.key").write_text("")
    found = problems_of(fks_tls_certificate=str(tmp_path / "nope.crt"),
                        fks_tls_key=str(tmp_path / "empty.key"))  # fmt: skip
    assert len(found) == 2
    assert "fks_tls_certificate: no such file" in found[0]
    assert "fks_tls_key: " in found[1] and "is not a PEM file" in found[1]
    plan_inventory(
        [spec("aio-1", ["core", "gpu", "bridge"], "127.0.0.1",
              fks_tls_certificate=tls.certificate, fks_tls_key=tls.key)],
        secrets=all_secrets,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"fks_nginx_api_rate": 0}, "fks_nginx_api_rate: Input should be greater than or equal"),
        ({"fks_nginx_api_burst": -1}, "fks_nginx_api_burst: Input should be greater than"),
        ({"fks_nginx_client_max_body_size": "10MB"}, "fks_nginx_client_max_body_size"),
        ({"fks_nginx_server_name": "a b;"}, "fks_nginx_server_name"),
        ({"fks_ssh_permit_root_login": "yes"}, "fks_ssh_permit_root_login"),
        ({"fks_ssh_max_auth_tries": 0}, "fks_ssh_max_auth_tries"),
        ({"fks_firewall_public_udp_ports": [0]}, "not a port: [0]"),
        ({"fks_ntp_servers": ["pool.ntp.org; rm"]}, "not a host name or address"),
        ({"fks_firewall_open_services": ["apii"]}, "unknown service 'apii'; did you mean api?"),
    ],
)
def test_bad_edge_settings_are_refused_before_any_host(data: dict[str, Any], message: str) -> None:
    found = problems_of(**data)
    assert any(message in problem for problem in found), found


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"ssh_user": "deploy", "_sudo": True}, "no"),
        ({"ssh_user": "root"}, "prohibit-password"),
        # A setting keeps root key logins for an inventory that needs them.
        ({"ssh_user": "deploy", "fks_ssh_permit_root_login": "prohibit-password"},
         "prohibit-password"),
    ],
)  # fmt: skip
def test_root_logins_are_refused_where_the_inventory_logs_in_as_another_user(
    data: dict[str, Any], expected: str
) -> None:
    plan = plan_inventory(
        [spec("aio-1", ["core", "gpu", "bridge"], "127.0.0.1", **data)], secrets=all_secrets
    ).hosts[0]
    assert f"PermitRootLogin {expected}\n" in sshd.render_sshd(plan.settings, plan.login_user)


def test_refusing_root_logins_to_an_inventory_that_logs_in_as_root_is_an_error() -> None:
    assert problems_of(ssh_user="root", fks_ssh_permit_root_login="no") == [
        "inventory/test.py: host aio-1: fks_ssh_permit_root_login: 'no' would refuse this "
        "inventory's own SSH login as root; log in as another user with _sudo, or leave the "
        "setting unset"
    ]
