"""Hostile values in every setting and connection key are refused by ``check``'s planning path.

Every value that reaches a host, a config file, a command or an ssh_config is validated
before anything runs (``fks_infra.settings``, ``fks_infra.plan``). The table below has one
case per field that carries text, enumerated from the models themselves: a new string
setting or connection key without a case fails ``test_every_text_field_has_a_case``. Each
case gives a legitimate value and where a hostile payload goes into it; every payload must
be refused by ``plan_inventory`` (what ``fks-infra check`` runs) with a problem naming the
file, the host and the key, and legitimate values (IPv6, FQDNs, URLs with port and query,
passwords with spaces and ``$``) must pass. No host is contacted: the plan is pure and the
only resolver answers names these tests define.
"""

from __future__ import annotations

import runpy
import socket
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pytest
from lab_samples import two_host_state
from pydantic import BaseModel, SecretStr
from windows_side import ENDPOINTS

from fks_infra.errors import Problem, ProblemsError, shown
from fks_infra.lab.inventory import groups_for
from fks_infra.plan import HostSpec, InventoryPlan, plan_inventory
from fks_infra.settings import ConnectionData, HostSettings, parse_connection
from fks_infra.vagrant import parse_ssh_config

FILE = "inventory/hostile.py"

#: Payloads, each appended to a legitimate value (or put where the case says).
PAYLOADS: dict[str, str] = {
    "newline": "\nProxyCommand sh -c id",
    "carriage return": "\rx",
    "quote": "'\"",
    "command substitution": "$(id)",
    "semicolon": ";id",
    "hash": "#x",
    "percent": "%h",
    "backslash": "\\x",
    "nul": "\0",
    "very long": "a" * 5000,
}
#: What every field refuses, whatever it holds: characters and lengths no file takes as data.
UNPRINTABLE = ("newline", "carriage return", "nul", "very long")


@dataclass(frozen=True)
class Case:
    """How to put a payload into one field.

    + good: a legitimate value of the field (it must pass)
    + inject: the field's value with the payload in it
    + refuses: the payloads refused (default: every one), where the others are legitimate
    + host: the host of ``inventory()`` the field is set on
    """

    good: Any
    inject: Callable[[str], Any]
    refuses: tuple[str, ...] = tuple(PAYLOADS)
    host: str = "bridge-1"


def text(good: str) -> Case:
    return Case(good, lambda payload: good + payload)


def items(good: str) -> Case:
    return Case([good], lambda payload: [good + payload])


def keys(good: Mapping[str, Any], host: str = "bridge-1") -> Case:
    (name, value), *_ = good.items()
    return Case(dict(good), lambda payload: {name + payload: value}, host=host)


#: A case per settings field that carries text (see ``carries_text``).
SETTINGS: dict[str, Case] = {
    "fks_services_extra": items("analyze"),
    "fks_services_skip": items("analyze"),
    "fks_port_overrides": keys({"meta": 8005}),
    "fks_secrets_file": text("secrets/fks-bridge.toml"),
    "fks_private_address": text("fd00::31"),
    "fks_bind_address": text("fd00::31"),
    "fks_release_source": text("demo"),
    "fks_release_sources": Case({"meta": "demo"}, lambda payload: {"meta": "demo" + payload}),
    "fks_memory_max": text("2G"),
    "fks_write_execute_services": items("meta"),
    # Values are data systemd takes literally once quoted (services/units.py): only what no
    # file holds is refused there; the variable's name refuses every payload.
    "fks_service_environment": Case(
        {"meta": {"FKS_DEMO_EGRESS_URL": "http://192.0.2.1:38090/"}},
        lambda payload: {"meta": {"FKS_DEMO_EGRESS_URL" + payload: "x"}},
    ),
    "fks_egress_services": items("execution"),
    "fks_egress_allow": items("203.0.113.0/24"),
    "fks_egress_proxy": text("http://192.0.2.60:3128"),
    "fks_tailscale_repository": text("https://pkgs.tailscale.com/stable/debian"),
    "fks_tailscale_suite": text("trixie"),
    "fks_tailscale_keyring_url": text("https://pkgs.tailscale.com/stable/debian/x.gpg"),
    "fks_tailscale_keyring_file": text("keys/tailscale.gpg"),
    "fks_tailscale_keyring_sha256": text("0" * 64),
    "fks_tailscale_version": text("1.76.6"),
    "fks_tailscale_hostname": text("bridge-one"),
    "fks_tailscale_login_server": text("https://headscale.example.com:8443"),
    "fks_tailscale_up_extra_args": items("--advertise-routes=10.0.0.0/24,fd00::/64"),
    "fks_tailscale_tag_owners": items("group:ops"),
    "fks_tailscale_admins": items("alice@example.com"),
    "fks_nginx_server_name": text("fks.example.com"),
    "fks_tls_certificate": text("tls/site.crt"),
    "fks_tls_key": text("tls/site.key"),
    "fks_nginx_client_max_body_size": text("20m"),
    "fks_firewall_open_services": items("meta"),
    "fks_ntp_pools": items("0.debian.pool.ntp.org"),
    "fks_ntp_servers": items("fd00::123"),
    "fks_gpu_driver_branch": text("535"),
    "fks_gpu_cuda_version": text("12.4"),
    "fks_gpu_cuda_repository": Case(
        "https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/",
        lambda payload: "https://example.com/cuda/" + payload + "/",
    ),
    "fks_gpu_cuda_keyring_url": Case(
        "https://example.com/cuda/cuda-keyring_1.1-1_all.deb",
        lambda payload: "https://example.com/cuda/" + payload + ".deb",
    ),
    "fks_gpu_cuda_keyring_file": text("keys/cuda-keyring_1.1-1_all.deb"),
    "fks_gpu_cuda_keyring_sha256": text("a" * 64),
    "fks_gpu_debian_mirror": text("file:///srv/mirror/debian"),
    "fks_gpu_debian_security_mirror": text("http://security.debian.org/debian-security"),
    "fks_gpu_debian_suite": text("bookworm"),
    "fks_gpu_indices": keys({"ai": [0]}, host="gpu-1"),
    "fks_ninjatrader_host": text("192.0.2.201"),
    "fks_mt5_bridge_url": text("http://192.0.2.200:18080/mt5?account=1&mode=live"),
    "fks_windows_winrm_host": text("win-1.example.internal"),
    "fks_windows_winrm_user": text("fks@corp.example.com"),
    # Shown by getty and sshd, never run: only what getty expands (backslash) or no file holds.
    "fks_login_banner": Case(
        "Private system: access is logged.",
        lambda p: "Private system: access is logged." + p,
        (*UNPRINTABLE, "backslash"),
    ),
    "fks_sysctl_skip": items("net.ipv4.conf.all.forwarding"),
    "fks_modules_allowed": items("sctp"),
    "fks_fail2ban_ignore": items("10.20.0.0/16"),
    "fks_postgres_database": text("fks_prod"),
    "fks_postgres_user": text("fks_app"),
    "fks_redis_maxmemory": text("1gb"),
    "fks_prometheus_retention": text("30d"),
    "fks_alert_for": text("5m"),
}

#: A case per pyinfra SSH connector key that carries text, and the inventory name.
CONNECTION: dict[str, Case] = {
    "ssh_hostname": text("192.0.2.33"),
    "ssh_user": text("deploy.ops-1"),
    # Passwords go to paramiko as Python values, never into a file or command: quotes,
    # $, ;, #, %, backslash are legitimate there.
    "ssh_password": Case("hunter2 $x;'#%\\", lambda p: "hunter2" + p, UNPRINTABLE),
    "ssh_key_password": Case("hunter2 $x", lambda p: "hunter2" + p, UNPRINTABLE),
    "ssh_key": text("/home/ops/My Keys/id_ed25519-fks.key"),
    "ssh_config_file": text("~/.ssh/config"),
    "ssh_known_hosts_file": text("secrets/known_hosts"),
    # paramiko's keyword arguments: Python values, never written out.
    "ssh_paramiko_connect_kwargs": Case(
        {"banner_timeout": 30}, lambda p: {"banner_timeout" + p: 30}, UNPRINTABLE
    ),
}
#: Connection keys that are numbers, refusing every payload as text (a port is an int).
NUMBERS: dict[str, Case] = {"ssh_port": Case(2222, lambda payload: "22" + payload)}
NAME = Case("bridge-1", lambda payload: "bridge-1" + payload)


def carries_text(annotation: Any) -> bool:
    """Whether a field of this type can hold a string that reaches a file or command:
    anything but numbers, booleans and Literals (their values are fixed in the model)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return carries_text(get_args(annotation)[0])
    if origin in (Union, types.UnionType, tuple, dict, list):
        return any(carries_text(arg) for arg in get_args(annotation) if arg is not Ellipsis)
    return not (origin is Literal or annotation in (int, float, bool, type(None)))


def text_fields(model: type[BaseModel]) -> set[str]:
    return {name for name, info in model.model_fields.items() if carries_text(info.annotation)}


def test_every_text_field_has_a_case() -> None:
    assert text_fields(HostSettings) == set(SETTINGS)
    assert text_fields(ConnectionData) == set(CONNECTION)
    assert set(NUMBERS) <= set(ConnectionData.model_fields) - text_fields(ConnectionData)


def test_the_connection_model_knows_every_key_of_pyinfra_s_ssh_connector() -> None:
    from pyinfra.connectors.ssh import connector_data_meta

    assert set(ConnectionData.model_fields) == set(connector_data_meta)


def secrets(name: str, settings: HostSettings) -> tuple[SecretStr | None, list[Problem]]:
    return SecretStr(f"value-of-{name}"), []


NAMES = {"bridge-1.example.internal": ["192.0.2.34"], "win-1.example.internal": ["192.0.2.9"]}


def resolve(name: str) -> list[str]:
    if name not in NAMES:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return NAMES[name]


def inventory(name: str = "bridge-1", on: str = "bridge-1", **data: Any) -> list[HostSpec]:
    """core-1, gpu-1 and the bridge host (named ``name``), ``data`` merged into the data of
    host ``on``."""
    hosts = {
        "core-1": ("core", {"ssh_hostname": "192.0.2.10"}),
        "gpu-1": ("gpu", {"ssh_hostname": "192.0.2.20"}),
        "bridge-1": ("bridge", {"ssh_hostname": "192.0.2.30", **ENDPOINTS}),
    }
    specs = []
    for host, (role, base) in hosts.items():
        merged = {**base, **(data if host == on else {})}
        specs.append(
            HostSpec(
                name if host == "bridge-1" else host,
                (role,),
                merged,
                {key: FILE for key in merged},
                source=FILE,
            )
        )
    return specs


def plan(specs: list[HostSpec]) -> InventoryPlan:
    return plan_inventory(specs, secrets=secrets, resolve=resolve)


def refusals(specs: list[HostSpec]) -> tuple[Problem, ...]:
    with pytest.raises(ProblemsError) as caught:
        plan(specs)
    return caught.value.problems


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project root holding the files the legitimate values name."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tls").mkdir()
    (tmp_path / "tls/site.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    (tmp_path / "tls/site.key").write_text("-----BEGIN PRIVATE KEY-----\n")
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys/tailscale.gpg").write_bytes(b"")
    (tmp_path / "keys/cuda-keyring_1.1-1_all.deb").write_bytes(b"")
    return tmp_path


HOSTILE = [
    pytest.param(table, key, payload, id=f"{key}-{payload}")
    for table, cases in (("data", {**SETTINGS, **CONNECTION, **NUMBERS}), ("name", {"name": NAME}))
    for key, case in cases.items()
    for payload in case.refuses
]


@pytest.mark.parametrize(("table", "key", "payload"), HOSTILE)
def test_a_hostile_value_is_refused_naming_file_host_and_key(
    project: Path, table: str, key: str, payload: str
) -> None:
    case = {**SETTINGS, **CONNECTION, **NUMBERS, "name": NAME}[key]
    value = case.inject(PAYLOADS[payload])
    specs = inventory(name=value) if table == "name" else inventory(on=case.host, **{key: value})
    found = [problem for problem in refusals(specs) if problem.key == key]
    assert found, f"{key} with a {payload} was not refused"
    problem = found[0]
    assert problem.source == FILE
    assert problem.host == (case.host if table == "data" else shown(value))
    report = str(problem)
    assert report.startswith(f"{FILE}: host ")
    # The report is one line, cut short, and never repeats a password.
    assert "\n" not in report and "\r" not in report and "\0" not in report
    assert len(report) < 600
    if key.endswith("password"):
        assert "hunter2" not in report


LEGITIMATE = [
    pytest.param(key, case.good, id=key) for key, case in {**SETTINGS, **CONNECTION}.items()
] + [
    pytest.param("ssh_hostname", "fd00::30", id="ssh_hostname-ipv6"),
    pytest.param("ssh_hostname", "bridge-1.example.internal", id="ssh_hostname-fqdn"),
    pytest.param("ssh_port", 2222, id="ssh_port"),
    pytest.param("ssh_user", "ci-deploy", id="ssh_user-dash"),
    pytest.param("ssh_user", "_svc.fks", id="ssh_user-dot"),
    pytest.param("ssh_key", "~/.ssh/id_ed25519", id="ssh_key-home"),
    pytest.param("ssh_known_hosts_file", "/dev/null", id="ssh_known_hosts_file-null"),
    pytest.param("ssh_strict_host_key_checking", "accept-new", id="ssh_strict-accept-new"),
    pytest.param("ssh_password", "correct horse $battery staple", id="ssh_password-space-dollar"),
    pytest.param("fks_mt5_bridge_url", "https://[fd00::200]:8443/", id="mt5-ipv6"),
    pytest.param("fks_mt5_bridge_url", "http://192.0.2.200:18080/a%20b?x=1", id="mt5-escape"),
    pytest.param("fks_private_address", "2001:db8::31", id="private-ipv6"),
    pytest.param("fks_ntp_servers", ["192.0.2.1", "time.example.org."], id="ntp-fqdn-root"),
    pytest.param("fks_windows_winrm_user", "svc.fks", id="winrm-user-dot"),
    pytest.param("fks_tailscale_up_extra_args", ["--accept-routes"], id="up-flag"),
    pytest.param("fks_tailscale_repository", "file:///srv/mirror/tailscale", id="repo-file"),
    # The release-source grammar's options (fks_infra/releases/source.py), as the lab tests
    # use them to make a release fail on purpose.
    pytest.param("fks_release_source", "demo:health=fail", id="release-source-option"),
    pytest.param("fks_release_sources", {"meta": "demo:migrate=fail"}, id="release-sources-option"),
    pytest.param("fks_egress_allow", ["2001:db8:40::/48", "192.0.2.7"], id="egress-ipv6-address"),
    pytest.param("fks_egress_proxy", "https://[2001:db8::60]:8443/", id="egress-proxy-ipv6"),
    pytest.param(
        "fks_service_environment",
        {"meta": {"GREETING": "50% $off 'quoted' \\ #x;y"}},
        id="environment-value-with-shell-syntax",
    ),
]


@pytest.mark.parametrize(("key", "value"), LEGITIMATE)
def test_a_legitimate_value_passes(project: Path, key: str, value: Any) -> None:
    on = {**SETTINGS, **CONNECTION}[key].host if key in {**SETTINGS, **CONNECTION} else "bridge-1"
    data = {key: value}
    if key == "fks_tls_certificate" or key == "fks_tls_key":
        data = {"fks_tls_certificate": "tls/site.crt", "fks_tls_key": "tls/site.key"}
    plan(inventory(on=on, **data))


@pytest.mark.parametrize("name", ["bridge-1.example.internal", "Bridge-1", "bridge-1.example."])
def test_a_dns_name_as_inventory_name_passes(name: str) -> None:
    result = plan(inventory(name=name))
    assert result.host(name).address == "192.0.2.30"


def test_an_ip_address_as_inventory_name_needs_a_tailscale_machine_name() -> None:
    found = refusals(inventory(name="192.0.2.30"))
    assert [str(p) for p in found] == [
        f"{FILE}: host 192.0.2.30: fks_tailscale_hostname: the host is named by an IP "
        "address, which gives no Tailscale machine name: set fks_tailscale_hostname "
        "(a DNS label)"
    ]
    plan(inventory(name="192.0.2.30", fks_tailscale_hostname="bridge-1"))
    plan(inventory(name="192.0.2.30", fks_tailscale_enabled=False))


# The reproductions of issue #15, each refused now.


def test_a_host_name_carrying_an_nftables_rule_is_refused() -> None:
    """It landed in a comment line of a peer's /etc/nftables.conf: the line after the
    break opened every TCP port (and it broke prometheus.yml's labels)."""
    name = "bridge-1\ntcp dport 1-65535 accept"
    (problem,) = refusals(inventory(name=name))
    assert str(problem) == (
        f"{FILE}: host 'bridge-1\\ntcp dport 1-65535 accept': name: the inventory name holds "
        "the unprintable character U+000A at position 8: name hosts by DNS name or IP address"
    )


def test_an_ssh_hostname_carrying_a_proxycommand_is_refused() -> None:
    """It was written as is into the ssh_config of verify and status, whose ProxyCommand
    then ran on the control machine."""
    (problem,) = refusals(inventory(ssh_hostname="192.0.2.30\nProxyCommand touch /tmp/owned"))
    assert str(problem) == (
        f"{FILE}: host bridge-1: ssh_hostname: holds the unprintable character U+000A at "
        "position 10 (got '192.0.2.30\\nProxyCommand touch /tmp/owned')"
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://192.0.2.200:18080/'$(id)'",
        "http://192.0.2.200:18080/;id",
        "http://user:hunter2@192.0.2.200:18080/",
        "http://192.0.2.200:18080/#frag",
        "http://192.0.2.200:99999/",
        "http://[fe80::1%25eth0]:18080/",
        "ftp://192.0.2.200/",
    ],
)
def test_an_mt5_bridge_url_with_shell_syntax_or_credentials_is_refused(url: str) -> None:
    (problem,) = refusals(inventory(fks_mt5_bridge_url=url))
    assert (problem.key, problem.host, problem.source) == ("fks_mt5_bridge_url", "bridge-1", FILE)
    assert "hunter2" not in str(problem)  # a URL is never repeated: it may carry a token


@pytest.mark.parametrize(
    "key", ["fks_private_address", "fks_bind_address", "fks_ninjatrader_host", "ssh_hostname"]
)
def test_a_scoped_ipv6_address_is_refused(key: str) -> None:
    """Its % became a systemd specifier in the unit (IPAddressAllow=, Environment)."""
    (problem,) = refusals(inventory(**{key: "fe80::1%eth0"}))
    assert problem.key == key
    assert "scoped IPv6 address" in problem.message


def test_a_name_resolving_to_a_scoped_address_is_refused() -> None:
    NAMES["link.example.internal"] = ["fe80::1%eth0"]
    try:
        (problem,) = refusals(inventory(ssh_hostname="link.example.internal"))
    finally:
        del NAMES["link.example.internal"]
    assert "scoped IPv6 address" in problem.message


def test_an_unknown_ssh_key_is_refused_with_a_hint() -> None:
    (problem,) = refusals(inventory(ssh_hostnmae="192.0.2.30"))
    assert str(problem) == (
        f"{FILE}: host bridge-1: ssh_hostnmae: unknown pyinfra SSH connector key; "
        "did you mean ssh_hostname?"
    )


def test_a_port_given_as_text_is_refused() -> None:
    """A number, as the ssh_config's Port line and paramiko take it ("22\\n" is no port)."""
    (problem,) = refusals(inventory(ssh_port="22"))
    assert problem.key == "ssh_port"
    assert "valid integer" in problem.message


def test_a_policy_principal_with_a_trailing_line_break_is_refused() -> None:
    """The pattern was matched with re.match, whose $ also matches before a final newline."""
    (problem,) = refusals(inventory(fks_tailscale_admins=["autogroup:admin\n"]))
    assert problem.key == "fks_tailscale_admins"


def test_an_up_flag_is_not_repeated_in_the_message() -> None:
    (problem,) = refusals(inventory(fks_tailscale_up_extra_args=["--x=tskey-auth-k1;id"]))
    assert problem.key == "fks_tailscale_up_extra_args"
    assert "tskey" not in str(problem)


def test_the_connection_data_the_project_writes_itself_passes() -> None:
    """The lab's and Vagrant's inventories (fks_infra.lab.inventory, fks_infra.vagrant)
    and the example production inventory give data the connection model accepts."""
    fixtures = Path(__file__).resolve().parents[1] / "fixtures/vagrant"
    prod = runpy.run_path(str(Path(__file__).resolve().parents[2] / "inventory/prod.py"))
    datas = [data for hosts in groups_for(two_host_state()).values() for _, data in hosts]
    datas += [
        host.data
        for name in ("ssh-config-virtualbox.txt", "ssh-config-libvirt.txt")
        for host in parse_ssh_config((fixtures / name).read_text(encoding="utf-8"))
    ]
    datas += [data for group in ("core", "gpu", "bridge") for _, data in prod[group]]
    assert len(datas) > 5
    for data in datas:
        assert parse_connection(data, {})[1] == [], data
