"""Placement and validation of host data, on plain HostSpecs (no pyinfra)."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from pydantic import SecretStr
from windows_side import ENDPOINTS

from fks_infra.catalogue import CATALOGUE, Role
from fks_infra.errors import Problem, ProblemsError
from fks_infra.plan import HostSpec, InventoryPlan, plan_inventory
from fks_infra.settings import HostSettings

GPU = ["ai", "training"]
BRIDGE = ["meta", "ninja"]
CORE = [s.name for s in CATALOGUE if s.name not in GPU + BRIDGE]


def all_secrets(name: str, settings: HostSettings) -> tuple[SecretStr | None, list[Problem]]:
    return SecretStr(f"value-of-{name}"), []


def host(name: str, *groups: str, **data: Any) -> HostSpec:
    data = {"ssh_hostname": f"192.0.2.{sum(map(ord, name)) % 250}", **ENDPOINTS, **data}
    return HostSpec(name, groups, data, {key: "inventory/test.py" for key in data})


#: The only names these tests resolve: their own (no query leaves this process).
NAMES = {
    "gpu-2.example.internal": ["10.9.0.22"],
    "twice.example.internal": ["10.9.0.30", "fd00::30"],
}


def resolve(name: str) -> list[str]:
    if name not in NAMES:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return NAMES[name]


def plan(*specs: HostSpec, secrets: Any = all_secrets) -> InventoryPlan:
    return plan_inventory(specs, secrets=secrets, resolve=resolve)


def problems(*specs: HostSpec, secrets: Any = all_secrets) -> list[str]:
    with pytest.raises(ProblemsError) as caught:
        plan(*specs, secrets=secrets)
    return [str(problem) for problem in caught.value.problems]


def names(result: InventoryPlan, host_name: str) -> list[str]:
    return [s.name for s in result.host(host_name).services]


THREE = (host("core-1", "core", "prod"), host("gpu-1", "gpu"), host("bridge-1", "bridge"))


def test_each_role_gets_its_services_in_catalogue_order() -> None:
    result = plan(*THREE)
    assert names(result, "core-1") == CORE
    assert names(result, "gpu-1") == GPU
    assert names(result, "bridge-1") == BRIDGE
    assert result.host("gpu-1").roles == (Role.GPU,)


def test_a_host_in_several_groups_gets_the_union() -> None:
    result = plan(host("aio-1", "bridge", "core", "gpu"))
    assert names(result, "aio-1") == list(CATALOGUE.names)
    # The only core host also runs the datastores (no host is in group datastore).
    assert result.host("aio-1").roles == (Role.CORE, Role.GPU, Role.BRIDGE, Role.DATASTORE)


def test_extra_and_skip_move_a_service_between_hosts() -> None:
    result = plan(
        host("core-1", "core", fks_services_skip=["analyze"]),
        host("gpu-1", "gpu", fks_services_extra=["analyze"]),
        host("bridge-1", "bridge"),
    )
    assert "analyze" not in names(result, "core-1")
    assert names(result, "gpu-1") == ["ai", "analyze", "training"]
    assert [h.name for h in result.hosts_running("analyze")] == ["gpu-1"]


def test_replicated_services_may_run_on_two_hosts() -> None:
    result = plan(*THREE, host("gpu-2", "gpu"))
    assert [h.name for h in result.hosts_running("ai")] == ["gpu-1", "gpu-2"]


def test_a_unique_service_on_two_hosts_is_reported() -> None:
    assert problems(*THREE, host("bridge-2", "bridge")) == [
        "service meta must run on one host only but is placed on bridge-1 and bridge-2",
        "service ninja must run on one host only but is placed on bridge-1 and bridge-2",
    ]


def test_a_service_placed_on_no_host_is_reported() -> None:
    assert problems(THREE[0], THREE[2]) == [
        "service ai is placed on no host (it goes to hosts in the gpu group, "
        "or add it with fks_services_extra)",
        "service training is placed on no host (it goes to hosts in the gpu group, "
        "or add it with fks_services_extra)",
    ]


def test_a_host_with_no_role_group_names_its_groups_and_a_hint() -> None:
    assert problems(host("core-1", "cores", "prod"), *THREE[1:]) == [
        "host core-1: host is in no role group (its groups: cores, prod); "
        "roles are core, gpu, bridge, datastore; did you mean core?"
    ]


def test_skipping_every_service_of_a_host_places_nothing() -> None:
    (problem,) = problems(
        THREE[0],
        host("gpu-1", "gpu", fks_services_skip=GPU),
        THREE[2],
        host("gpu-2", "gpu"),
    )
    assert problem.startswith("inventory/test.py: host gpu-1: places no service")


def test_unknown_fks_setting_with_a_hint() -> None:
    assert problems(host("core-1", "core", fks_services_skp=["web"]), *THREE[1:]) == [
        "inventory/test.py: host core-1: fks_services_skp: unknown setting; "
        "did you mean fks_services_skip?"
    ]


def test_a_setting_missing_its_prefix_is_caught_too() -> None:
    (problem,) = problems(host("core-1", "core", services_skip=["web"]), *THREE[1:])
    assert "services_skip: unknown setting; did you mean fks_services_skip?" in problem


def test_non_fks_keys_belong_to_pyinfra_and_pass() -> None:
    plan(host("core-1", "core", ssh_user="deploy", _sudo=True), *THREE[1:])


def test_wrong_type_names_the_key_and_the_value() -> None:
    (problem,) = problems(host("core-1", "core", fks_port_overrides=["api"]), *THREE[1:])
    assert problem.startswith("inventory/test.py: host core-1: fks_port_overrides:")
    assert "valid dictionary" in problem and "['api']" in problem


def test_unknown_service_name_in_extra() -> None:
    (problem,) = problems(host("core-1", "core", fks_services_extra=["trainnig"]), *THREE[1:])
    assert problem == (
        "inventory/test.py: host core-1: fks_services_extra: unknown service 'trainnig'; "
        "did you mean training?"
    )


def test_duplicate_port_via_an_override_names_both_services() -> None:
    (problem,) = problems(host("core-1", "core", fks_port_overrides={"api": 8000}), *THREE[1:])
    assert problem == (
        "inventory/test.py: host core-1: fks_port_overrides: port 8000 is used by both web and api"
    )


def test_port_override_out_of_range() -> None:
    (problem,) = problems(host("gpu-1", "gpu", fks_port_overrides={"ai": 8030}), THREE[0], THREE[2])
    assert "ai is on port 8030, outside the gpu range 8000-8013" in problem


def test_a_port_override_applies_to_that_host_only() -> None:
    result = plan(
        host("core-1", "core", fks_port_overrides={"crypto": 8015, "futures": 8014}), *THREE[1:]
    )
    assert result.host("core-1").services[CORE.index("crypto")].port == 8015


def test_missing_secrets_are_named_with_their_users_never_a_value() -> None:
    def only_some(name: str, settings: HostSettings) -> tuple[SecretStr | None, list[Problem]]:
        return (SecretStr("x") if name != "AUTH_SECRET" else None), []

    assert problems(*THREE, secrets=only_some) == [
        "host core-1: missing secret AUTH_SECRET (needed by api, auth): set "
        "FKS_SECRET_AUTH_SECRET or add it to secrets/fks.toml"
    ]


def test_a_host_gets_exactly_the_secrets_its_services_need() -> None:
    result = plan(*THREE)
    assert sorted(result.host("bridge-1").secrets) == [
        "MT5_LOGIN",
        "MT5_PASSWORD",
        "MT5_SERVER",
        "TAILSCALE_AUTHKEY",
    ]
    # ai reads Redis, training reads PostgreSQL.
    assert sorted(result.host("gpu-1").secrets) == [
        "POSTGRES_PASSWORD",
        "REDIS_PASSWORD",
        "TAILSCALE_AUTHKEY",
    ]
    assert "value-of" not in repr(result.host("bridge-1"))


def test_the_tailscale_auth_key_is_needed_only_where_tailscale_is_enabled() -> None:
    result = plan(
        host("core-1", "core"),
        host("gpu-1", "gpu", fks_tailscale_enabled=False),
        host("bridge-1", "bridge"),
    )
    assert "TAILSCALE_AUTHKEY" in result.host("core-1").secrets
    assert "TAILSCALE_AUTHKEY" not in result.host("gpu-1").secrets


def test_a_missing_tailscale_auth_key_is_a_problem_naming_it() -> None:
    def no_tailscale(name: str, settings: HostSettings) -> tuple[SecretStr | None, list[Problem]]:
        return (None if name == "TAILSCALE_AUTHKEY" else SecretStr("x")), []

    assert problems(
        host("gpu-1", "gpu", fks_services_extra=CORE + BRIDGE), secrets=no_tailscale
    ) == [
        "host gpu-1: missing secret TAILSCALE_AUTHKEY (needed by tailscale "
        "(fks_tailscale_enabled)): set FKS_SECRET_TAILSCALE_AUTHKEY or add it to secrets/fks.toml"
    ]


def test_tailscale_settings_are_validated() -> None:
    found = problems(
        host("core-1", "core", fks_tailscale_up_extra_args=["--auth-key=tskey-x", "--ssh"]),
        host("gpu-1", "gpu", fks_tailscale_admins=["*"], fks_tailscale_hostname="GPU_1"),
        host("bridge-1", "bridge", fks_tailscale_keyring_file="no/such/keyring.gpg"),
    )
    assert any(
        "host core-1: fks_tailscale_up_extra_args:" in p and "--auth-key is set by fks-infra" in p
        for p in found
    )
    assert not any("tskey-x" in p for p in found)
    assert any("host gpu-1: fks_tailscale_admins:" in p and "'*'" in p for p in found)
    assert any("host gpu-1: fks_tailscale_hostname:" in p for p in found)
    assert any(
        "host bridge-1: fks_tailscale_keyring_file: no such keyring file" in p for p in found
    )


def test_every_problem_of_every_host_is_reported_at_once() -> None:
    found = problems(
        host("core-1", "core", fks_oops=1),
        host("gpu-1", "gpus"),
        host("bridge-1", "bridge", fks_services_skip="meta"),
    )
    assert [p.split(":")[1].strip() for p in found if p.startswith("inventory")] == [
        "host core-1",
        "host bridge-1",
    ]
    assert any("host gpu-1: host is in no role group" in p for p in found)


def test_empty_inventory() -> None:
    assert problems() == ["the inventory has no hosts"]


def test_the_private_address_is_the_ip_ssh_hostname_or_the_setting() -> None:
    result = plan(
        host("core-1", "core", ssh_hostname="10.1.2.3"),
        host("gpu-1", "gpu", ssh_hostname="gpu-1.example.net", fks_private_address="10.1.2.4"),
        host("bridge-1", "bridge", fks_bind_address="127.0.0.1"),
    )
    assert (result.host("core-1").address, result.host("core-1").bind_address) == (
        "10.1.2.3",
        "10.1.2.3",
    )
    assert result.host("gpu-1").address == "10.1.2.4"
    assert result.host("bridge-1").bind_address == "127.0.0.1"


def test_a_host_name_that_does_not_resolve_is_refused() -> None:
    (problem,) = problems(host("core-1", "core", ssh_hostname="core.example.net"), *THREE[1:])
    assert problem == (
        "inventory/test.py: host core-1: fks_private_address: cannot tell the address other "
        "hosts reach this host at: 'core.example.net' does not resolve on this machine (Name or "
        "service not known); set fks_private_address"
    )


def test_a_host_named_by_dns_name_gets_the_address_it_resolves_to() -> None:
    result = plan(*THREE, host("gpu-2", "gpu", ssh_hostname="gpu-2.example.internal"))
    assert result.host("gpu-2").address == "10.9.0.22"


def test_a_name_with_several_addresses_needs_fks_private_address() -> None:
    (problem,) = problems(*THREE, host("gpu-2", "gpu", ssh_hostname="twice.example.internal"))
    assert "'twice.example.internal' resolves to 2 addresses (10.9.0.30, fd00::30): set " in (
        problem
    )
    chosen = host("gpu-2", "gpu", ssh_hostname="twice.example.internal",
                  fks_private_address="10.9.0.30")  # fmt: skip
    assert plan(*THREE, chosen).host("gpu-2").address == "10.9.0.30"


def test_hosts_behind_one_address_are_refused_naming_fks_private_address() -> None:
    behind_nat = [
        host("gpu-1", "gpu", ssh_hostname="203.0.113.7", ssh_port=2201),
        host("gpu-2", "gpu", ssh_hostname="203.0.113.7", ssh_port=2202),
    ]
    found = problems(THREE[0], THREE[2], *behind_nat)
    assert found == [
        "inventory/test.py: host gpu-1: fks_private_address: has the address 203.0.113.7, as "
        "gpu-2 does: set fks_private_address on each to the address other hosts reach it at",
        "inventory/test.py: host gpu-2: fks_private_address: has the address 203.0.113.7, as "
        "gpu-1 does: set fks_private_address on each to the address other hosts reach it at",
    ]
    own = [
        host("gpu-1", "gpu", ssh_hostname="203.0.113.7", ssh_port=2201,
             fks_private_address="10.0.0.21"),
        host("gpu-2", "gpu", ssh_hostname="203.0.113.7", ssh_port=2202,
             fks_private_address="10.0.0.22"),
    ]  # fmt: skip
    assert plan(THREE[0], THREE[2], *own).host("gpu-2").address == "10.0.0.22"


def test_a_release_source_directory_must_exist(tmp_path: Any) -> None:
    (problem,) = problems(
        host("core-1", "core", fks_release_sources={"api": str(tmp_path / "nope")}), *THREE[1:]
    )
    assert "fks_release_sources: api: release source" in problem
    assert "no such directory on this machine" in problem
    plan(host("core-1", "core", fks_release_source=f"artifacts:{tmp_path}"), *THREE[1:])
