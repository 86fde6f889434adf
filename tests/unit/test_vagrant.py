"""Tests of the Vagrant path: Vagrantfile, fks_infra.vagrant and inventory/vagrant.py.

The parsers get recordings of Vagrant 2.3.4 (tests/fixtures/vagrant/README.md
says how each was made). The inventory file is loaded through pyinfra's own
loader with a fake ``vagrant`` on PATH, and the Vagrantfile is checked by the
real ``vagrant validate``: no test boots a VM.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import stat
import subprocess
from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest
from pyinfra.api.exceptions import InventoryError
from pyinfra.api.inventory import Inventory
from pyinfra.api.state import State
from pyinfra.context import ctx_state
from pyinfra_cli.inventory import make_inventory

from fks_infra.lab import names as lab_names
from fks_infra.lab import subnet as lab_subnet
from fks_infra.lab.errors import LabError
from fks_infra.lab.spec import Release
from fks_infra.vagrant import (
    DEFAULT_RELEASE,
    ROLES,
    HostData,
    SshHost,
    VagrantError,
    boxes,
    build_groups,
    default_hosts_spec,
    host_releases,
    load_groups,
    lxcnet,
    parse_hosts_spec,
    parse_machine_providers,
    parse_machine_states,
    parse_ssh_config,
    roles_of,
    session,
)

ROOT = Path(__file__).resolve().parents[2]
VAGRANTFILE = ROOT / "Vagrantfile"
INVENTORY = ROOT / "inventory" / "vagrant.py"
FIXTURES = ROOT / "tests" / "fixtures" / "vagrant"
RECORDED_ROOT = "/home/dev/fks-infra"

DEFAULT_SPEC = {"core-1": ("core",), "gpu-1": ("gpu",), "bridge-1": ("bridge",)}


def recording(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def vagrant_ssh(name: str, hostname: str, port: int, provider: str) -> HostData:
    """Host data a Vagrant 2.3.4 machine with default SSH settings must give pyinfra."""
    return {
        "ssh_hostname": hostname,
        "ssh_port": port,
        "ssh_user": "vagrant",
        "_sudo": True,
        "ssh_key": f"{RECORDED_ROOT}/.vagrant/machines/{name}/{provider}/private_key",
        "ssh_known_hosts_file": "/dev/null",
        "ssh_strict_host_key_checking": "no",
    }


VIRTUALBOX_HOSTS = [
    SshHost("core-1", vagrant_ssh("core-1", "127.0.0.1", 2222, "virtualbox")),
    SshHost("gpu-1", vagrant_ssh("gpu-1", "127.0.0.1", 2200, "virtualbox")),
    SshHost("bridge-1", vagrant_ssh("bridge-1", "127.0.0.1", 2201, "virtualbox")),
]


# --- vagrant ssh-config ---


def test_ssh_config_virtualbox_gives_forwarded_ports_on_loopback() -> None:
    assert parse_ssh_config(recording("ssh-config-virtualbox.txt")) == VIRTUALBOX_HOSTS


def test_ssh_config_libvirt_gives_private_addresses_on_port_22() -> None:
    hosts = parse_ssh_config(recording("ssh-config-libvirt.txt"))

    assert [(host.name, host.data) for host in hosts] == [
        ("core-1", vagrant_ssh("core-1", "192.168.121.23", 22, "libvirt")),
        ("gpu-1", vagrant_ssh("gpu-1", "192.168.121.118", 22, "libvirt")),
        ("bridge-1", vagrant_ssh("bridge-1", "192.168.121.205", 22, "libvirt")),
    ]


def test_ssh_config_quoted_key_path_first_identity_and_forward_agent() -> None:
    output = (
        "Host core-1\n"
        "  HostName 127.0.0.1\n"
        "  User vagrant\n"
        "  Port 2222\n"
        '  IdentityFile "/home/a user/.vagrant/machines/core-1/virtualbox/private_key"\n'
        "  IdentityFile /home/a/.vagrant.d/insecure_private_key\n"
        "  ForwardAgent yes\n"
    )

    (host,) = parse_ssh_config(output)

    assert host.data == {
        "ssh_hostname": "127.0.0.1",
        "ssh_user": "vagrant",
        "_sudo": True,
        "ssh_port": 2222,
        "ssh_key": "/home/a user/.vagrant/machines/core-1/virtualbox/private_key",
        "ssh_forward_agent": True,
    }


def test_a_root_login_needs_no_sudo() -> None:
    (host,) = parse_ssh_config("Host core-1\n  HostName 10.0.0.5\n  User root\n  Port 22\n")

    assert host.data["ssh_user"] == "root"
    assert "_sudo" not in host.data


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("", "printed no Host block"),
        ("\n\n", "printed no Host block"),
        ("  HostName 127.0.0.1\n", "before any Host"),
        ("Host core-1\n  HostName 127.0.0.1\n  User vagrant\n", "gives core-1 no port"),
        ("Host core-1\n  HostName h\n  User u\n  Port ssh\n", "port 'ssh'"),
        (
            "Host core-1\n  HostName h\n  User u\n  Port 22\n  ProxyCommand ssh -W %h:%p jump\n",
            "setting(s) proxycommand",
        ),
    ],
)
def test_ssh_config_problems_are_named(output: str, message: str) -> None:
    with pytest.raises(VagrantError, match=re.escape(message)):
        parse_ssh_config(output)


# --- vagrant status ---


def test_machine_states_from_recordings() -> None:
    assert parse_machine_states(recording("status-not-created-libvirt.txt")) == {
        "core-1": "not_created",
        "gpu-1": "not_created",
        "bridge-1": "not_created",
    }
    assert parse_machine_states(recording("status-core-only-running-libvirt.txt")) == {
        "core-1": "running",
        "gpu-1": "not_created",
        "bridge-1": "not_created",
    }


def test_machine_states_reject_output_that_is_not_machine_readable() -> None:
    with pytest.raises(VagrantError, match="unexpected line"):
        parse_machine_states("Current machine states:\n")


# --- FKS_VAGRANT_HOSTS and roles ---


def test_default_spec_is_read_from_the_vagrantfile() -> None:
    text = VAGRANTFILE.read_text(encoding="utf-8")

    assert parse_hosts_spec(default_hosts_spec(text, VAGRANTFILE)) == DEFAULT_SPEC


def test_vagrantfile_knows_the_same_roles() -> None:
    match = re.search(r"^ROLES = %w\[([a-z ]+)\]", VAGRANTFILE.read_text(encoding="utf-8"), re.M)

    assert match is not None
    assert tuple(match.group(1).split()) == ROLES


def test_default_spec_line_missing_is_an_error() -> None:
    with pytest.raises(VagrantError, match="found 0"):
        default_hosts_spec("DEFAULT_HOSTS = 'core-1:core'\n", VAGRANTFILE)


def test_spec_with_multi_role_host() -> None:
    assert parse_hosts_spec(" lab-1:core + bridge+core,gpu-1:gpu") == {
        "lab-1": ("core", "bridge"),
        "gpu-1": ("gpu",),
    }


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "is empty"),
        ("core-1", "'core-1' is not name:role[+role]"),
        ("Core-1:core", "is not name:role"),
        ("core-1:core,", "'' is not name:role"),
        ("core-1:", "gives core-1 no role"),
        ("core-1:core+", "unknown role(s) ''"),
        ("core-1:core+web", "gives core-1 unknown role(s) 'web'; known roles: core, gpu, bridge"),
        ("core-1:core,core-1:gpu", "names machine 'core-1' twice"),
    ],
)
def test_bad_spec_is_an_error(spec: str, message: str) -> None:
    with pytest.raises(VagrantError, match=re.escape(message)):
        parse_hosts_spec(spec)


def test_each_machine_has_a_release_as_in_the_lab() -> None:
    spec = "core-1:core@debian:trixie,gpu-1:gpu, bridge-1:bridge @debian:bookworm"

    assert host_releases(spec) == {
        "core-1": "debian:trixie",
        "gpu-1": "debian:bookworm",
        "bridge-1": "debian:bookworm",
    }
    assert parse_hosts_spec(spec)["core-1"] == ("core",)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("core-1:core@debian", "gives core-1 release 'debian'; expected debian:<suite>"),
        ("core-1:core@ubuntu:jammy", "gives core-1 release 'ubuntu:jammy'"),
        ("core-1:core@", "gives core-1 release ''"),
    ],
)
def test_bad_release_is_an_error(spec: str, message: str) -> None:
    with pytest.raises(VagrantError, match=re.escape(message)):
        host_releases(spec)


def test_roles_fall_back_to_the_name_prefix() -> None:
    assert roles_of("gpu-7", DEFAULT_SPEC) == ("gpu",)
    assert roles_of("bridge-1", {"bridge-1": ("bridge", "core")}) == ("bridge", "core")


@pytest.mark.parametrize("name", ["web-1", "core", "coreish-1", "corE-1"])
def test_machine_without_role_is_an_error(name: str) -> None:
    with pytest.raises(VagrantError, match=f"machine '{name}' has no role"):
        roles_of(name, DEFAULT_SPEC)


def test_groups_by_role_plus_vagrant_group() -> None:
    groups = build_groups(VIRTUALBOX_HOSTS, DEFAULT_SPEC)

    assert {group: [name for name, _ in hosts] for group, hosts in groups.items()} == {
        "core": ["core-1"],
        "gpu": ["gpu-1"],
        "bridge": ["bridge-1"],
        "datastore": [],
        "vagrant": ["core-1", "gpu-1", "bridge-1"],
    }
    assert groups["core"][0][1]["ssh_port"] == 2222


def test_multi_role_host_is_in_each_role_group() -> None:
    spec = parse_hosts_spec("core-1:core+gpu+bridge")

    groups = build_groups(VIRTUALBOX_HOSTS[:1], spec)

    assert [name for name, _ in groups["core"]] == ["core-1"]
    assert [name for name, _ in groups["gpu"]] == ["core-1"]
    assert [name for name, _ in groups["bridge"]] == ["core-1"]


def test_machine_listed_twice_is_an_error() -> None:
    with pytest.raises(VagrantError, match="lists machine 'core-1' twice"):
        build_groups([VIRTUALBOX_HOSTS[0], VIRTUALBOX_HOSTS[0]], DEFAULT_SPEC)


# --- inventory/vagrant.py through pyinfra's loader, with a fake vagrant ---

FAKE_VAGRANT = """#!/bin/sh
# Stands in for vagrant: logs where and how it was called, prints a recording.
printf '%s|%s\\n' "$(pwd)" "$*" >> "$FAKE_VAGRANT_LOG"
case "$1" in
  status) cat "$FAKE_VAGRANT_STATUS" ;;
  ssh-config)
    if [ -n "$FAKE_VAGRANT_FAIL" ]; then echo "$FAKE_VAGRANT_FAIL" >&2; exit 1; fi
    cat "$FAKE_VAGRANT_SSH_CONFIG" ;;
  *) echo "fake vagrant: unexpected arguments: $*" >&2; exit 2 ;;
esac
"""

FakeVagrant = Callable[[str, str], Path]


@pytest.fixture
def fake_vagrant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeVagrant:
    """Put a fake ``vagrant`` first on PATH; calling the result picks its recordings."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "vagrant"
    script.write_text(FAKE_VAGRANT, encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "vagrant.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_VAGRANT_LOG", str(log))
    monkeypatch.delenv("FKS_VAGRANT_HOSTS", raising=False)

    def use(status: str, ssh_config: str) -> Path:
        monkeypatch.setenv("FAKE_VAGRANT_STATUS", str(FIXTURES / status))
        monkeypatch.setenv("FAKE_VAGRANT_SSH_CONFIG", str(FIXTURES / ssh_config))
        return log

    return use


@pytest.fixture
def load_inventory(tmp_path: Path) -> Callable[[], Inventory]:
    """Load inventory/vagrant.py the way ``pyinfra inventory/vagrant.py ...`` does.

    ``cwd`` is an empty directory so no group_data of the project leaks in.
    """
    cwd = tmp_path / "cwd"
    cwd.mkdir()

    def load() -> Inventory:
        # The pyinfra CLI sets a State before it loads the inventory; so do we.
        with ctx_state.use(State()):
            inventory: Inventory = make_inventory(str(INVENTORY), cwd=str(cwd))
        return inventory

    return load


def group_names(inventory: Inventory, group: str) -> list[str]:
    return [host.name for host in inventory.get_group(group)]


def test_inventory_of_three_running_virtualbox_machines(
    fake_vagrant: FakeVagrant, load_inventory: Callable[[], Inventory]
) -> None:
    log = fake_vagrant("status-running-virtualbox.txt", "ssh-config-virtualbox.txt")

    inventory = load_inventory()

    assert group_names(inventory, "core") == ["core-1"]
    assert group_names(inventory, "gpu") == ["gpu-1"]
    assert group_names(inventory, "bridge") == ["bridge-1"]
    assert group_names(inventory, "vagrant") == ["core-1", "gpu-1", "bridge-1"]
    for host, expected in zip(inventory.get_group("vagrant"), VIRTUALBOX_HOSTS, strict=True):
        assert {key: host.data.get(key) for key in expected.data} == expected.data
    # Peers reach each other on the Vagrantfile's private network, not the port forwards.
    assert [h.data.get("fks_private_address") for h in inventory.get_group("vagrant")] == [
        "192.168.56.10",
        "192.168.56.11",
        "192.168.56.12",
    ]
    assert log.read_text().splitlines() == [
        f"{ROOT}|status --machine-readable",
        f"{ROOT}|ssh-config core-1 gpu-1 bridge-1",
    ]


def test_inventory_asks_ssh_config_only_of_running_machines(
    fake_vagrant: FakeVagrant, load_inventory: Callable[[], Inventory]
) -> None:
    log = fake_vagrant("status-core-only-running-libvirt.txt", "ssh-config-libvirt-core-1.txt")

    inventory = load_inventory()

    assert group_names(inventory, "vagrant") == ["core-1"]
    # pyinfra keeps no empty groups: the empty gpu list leaves no gpu group.
    assert inventory.get_group("gpu", default=[]) == []
    assert inventory.get_host("core-1").data.ssh_hostname == "192.168.121.23"
    assert log.read_text().splitlines()[-1] == f"{ROOT}|ssh-config core-1"


def test_inventory_takes_roles_from_fks_vagrant_hosts(
    fake_vagrant: FakeVagrant,
    load_inventory: Callable[[], Inventory],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_vagrant("status-running-virtualbox.txt", "ssh-config-virtualbox.txt")
    monkeypatch.setenv("FKS_VAGRANT_HOSTS", "core-1:core+bridge,gpu-1:gpu,bridge-1:bridge")

    inventory = load_inventory()

    assert group_names(inventory, "bridge") == ["core-1", "bridge-1"]
    assert group_names(inventory, "core") == ["core-1"]


@pytest.mark.parametrize(
    ("status", "env", "message"),
    [
        (
            "status-not-created-libvirt.txt",
            {},
            "no Vagrant machine is running in {root} (states: core-1=not_created, "
            "gpu-1=not_created, bridge-1=not_created); start them with `vagrant up`",
        ),
        (
            "status-running-virtualbox.txt",
            {"FAKE_VAGRANT_FAIL": "The provider is not ready for SSH."},
            "`vagrant ssh-config core-1 gpu-1 bridge-1` in {root} failed with exit status 1: "
            "The provider is not ready for SSH.",
        ),
        (
            "status-running-virtualbox.txt",
            {"FKS_VAGRANT_HOSTS": "core-1:web"},
            "FKS_VAGRANT_HOSTS gives core-1 unknown role(s) 'web'",
        ),
    ],
)
def test_inventory_problems_are_one_pyinfra_error(
    fake_vagrant: FakeVagrant,
    load_inventory: Callable[[], Inventory],
    monkeypatch: pytest.MonkeyPatch,
    status: str,
    env: dict[str, str],
    message: str,
) -> None:
    fake_vagrant(status, "ssh-config-virtualbox.txt")
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    with pytest.raises(InventoryError, match=re.escape(message.format(root=ROOT))):
        load_inventory()


def test_missing_vagrant_is_named(tmp_path: Path) -> None:
    with pytest.raises(VagrantError, match=r"`vagrant` is not installed or not on PATH"):
        load_groups(ROOT, env={"PATH": str(tmp_path)})


def test_hanging_vagrant_is_stopped_by_the_timeout(tmp_path: Path) -> None:
    script = tmp_path / "vagrant"
    script.write_text(f"#!/bin/sh\nexec {shutil.which('sleep')} 30\n", encoding="utf-8")
    script.chmod(0o755)

    with pytest.raises(VagrantError, match=r"did not finish within 0.5s"):
        load_groups(ROOT, env={"PATH": str(tmp_path)}, timeout=0.5)


# --- the Vagrantfile, checked by the real vagrant ---


@pytest.fixture
def vagrant_validate(
    tmp_path: Path,
) -> Callable[[dict[str, str]], subprocess.CompletedProcess[str]]:
    """Run ``vagrant validate --ignore-provider`` on a copy of the Vagrantfile.

    The copy keeps Vagrant's ``.vagrant/`` state out of the worktree; the own
    VAGRANT_HOME and disabled checkpoint keep it off the user's boxes and off
    the network (Vagrant otherwise asks HashiCorp for new versions).
    """
    if shutil.which("vagrant") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("vagrant is not installed, and CI=true requires the Vagrantfile checks")
        pytest.skip("vagrant is not installed (Debian: apt-get install vagrant)")
    shutil.copy(VAGRANTFILE, tmp_path / "Vagrantfile")
    base_env = {
        key: value for key, value in os.environ.items() if not key.startswith("FKS_VAGRANT_")
    }
    base_env |= {"VAGRANT_HOME": str(tmp_path / "vagrant.d"), "VAGRANT_CHECKPOINT_DISABLE": "1"}

    def run(knobs: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["vagrant", "validate", "--ignore-provider"],
            cwd=tmp_path,
            env=base_env | knobs,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run


Validate = Callable[[dict[str, str]], subprocess.CompletedProcess[str]]


@pytest.mark.parametrize(
    ("knobs", "machines"),
    [
        ({}, ["core-1", "gpu-1", "bridge-1"]),
        ({"FKS_VAGRANT_HOSTS": "lab-1:core+gpu+bridge"}, ["lab-1"]),
        (
            {
                "FKS_VAGRANT_BOX": "generic/debian12",
                "FKS_VAGRANT_CPUS": "4",
                "FKS_VAGRANT_MEMORY": "8192",
                "FKS_VAGRANT_SUBNET": "10.20.30",
            },
            ["core-1", "gpu-1", "bridge-1"],
        ),
    ],
)
def test_vagrantfile_validates(
    vagrant_validate: Validate, knobs: dict[str, str], machines: list[str]
) -> None:
    result = vagrant_validate(knobs)

    assert result.returncode == 0, result.stderr
    assert re.findall(r"==> ([a-z0-9-]+): Ignoring provider config", result.stdout) == machines


@pytest.mark.parametrize(
    ("knobs", "message"),
    [
        (
            {"FKS_VAGRANT_HOSTS": "core-1:web"},
            'FKS_VAGRANT_HOSTS gives core-1 unknown role(s) "web"; known roles: core, gpu, bridge',
        ),
        ({"FKS_VAGRANT_CPUS": "two"}, 'FKS_VAGRANT_CPUS="two" is not a positive integer'),
        ({"FKS_VAGRANT_MEMORY": "0"}, 'FKS_VAGRANT_MEMORY="0" is not a positive integer'),
        ({"FKS_VAGRANT_SUBNET": "192.168.56.0"}, 'FKS_VAGRANT_SUBNET="192.168.56.0" is not'),
        ({"FKS_VAGRANT_SUBNET": "192.168.256"}, 'FKS_VAGRANT_SUBNET="192.168.256" is not'),
    ],
)
def test_vagrantfile_rejects_bad_knobs(
    vagrant_validate: Validate, knobs: dict[str, str], message: str
) -> None:
    result = vagrant_validate(knobs)

    assert result.returncode != 0
    assert f"Vagrantfile: {message}" in result.stderr


@pytest.mark.parametrize(
    "spec",
    [
        "core-1:core",
        "x:core+core, y:gpu",
        "core-1:core,",
        "core-1:core+",
        "core-1:",
        "Core-1:core",
        "core-1:core,core-1:gpu",
        "core-1:bridge+web",
        "",
        "core-1:core@debian:trixie,gpu-1:gpu",
        "core-1:core@debian",
        "core-1:core@ubuntu:jammy",
        "core-1:core@",
        "core-1:core@debian:trixie@debian:bookworm",
    ],
)
def test_vagrantfile_and_python_accept_the_same_specs(
    vagrant_validate: Validate, spec: str
) -> None:
    try:
        parse_hosts_spec(spec)
        python_accepts = True
    except VagrantError:
        python_accepts = False

    result = vagrant_validate({"FKS_VAGRANT_HOSTS": spec})

    assert (result.returncode == 0) is python_accepts, result.stderr


def test_vagrantfile_with_the_lxc_provider_validates(tmp_path: Path) -> None:
    """Without --ignore-provider, so vagrant-lxc checks its own block (backingstore, customize)."""
    plugins = subprocess.run(
        ["vagrant", "plugin", "list"], capture_output=True, text=True, timeout=60, check=False
    ).stdout if shutil.which("vagrant") else ""  # fmt: skip
    if "vagrant-lxc" not in plugins:
        pytest.skip("vagrant or its vagrant-lxc plugin is not installed (scripts/install-deps)")
    shutil.copy(VAGRANTFILE, tmp_path / "Vagrantfile")
    env = {key: value for key, value in os.environ.items() if not key.startswith("FKS_VAGRANT_")}
    env |= {
        "VAGRANT_HOME": str(tmp_path / "vagrant.d"),
        "VAGRANT_CHECKPOINT_DISABLE": "1",
        "VAGRANT_DEFAULT_PROVIDER": "lxc",
        "FKS_VAGRANT_HOSTS": "aio-1:core+gpu@debian:trixie,b-1:bridge",
        "FKS_VAGRANT_SUBNET": "10.214.0",
    }

    result = subprocess.run(
        ["vagrant", "validate"], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "Vagrantfile validated successfully" in result.stdout


def test_vagrantfile_names_what_the_lxc_session_creates() -> None:
    """The bridge, container names and box names the Vagrantfile's lxc block uses are the ones
    fks_infra.vagrant creates, finds and removes."""
    text = VAGRANTFILE.read_text(encoding="utf-8")

    assert f'LXC_BRIDGE = "{lxcnet.BRIDGE}"' in text
    assert f'lxc.container_name = "{session.CONTAINER_PREFIX}#{{name}}"' in text
    assert 'override.vm.box = "fks-infra/debian-#{suite}"' in text
    assert boxes.box_name(Release("debian", "trixie")) == "fks-infra/debian-trixie"
    assert f'DEFAULT_RELEASE = "{DEFAULT_RELEASE}"' in text


# --- boxes for the LXC provider ---


def box_inputs(**changes: str) -> boxes.BoxInputs:
    base = boxes.BoxInputs(
        release=Release("debian", "bookworm"),
        rootfs=Path("/var/cache/fks-infra/lab/debian-bookworm-0c4f0c2e3b1d"),
        apt_sources="Types: deb\n",
        resolv_conf="nameserver 192.0.2.53\n",
        ca_bundle="-----BEGIN CERTIFICATE-----\n",
        authorized_keys="ssh-rsa AAAA vagrant insecure public key\n",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "change",
    [
        {"release": Release("debian", "trixie")},
        {"rootfs": Path("/var/cache/fks-infra/lab/debian-bookworm-dec6f218b9a8")},
        {"apt_sources": "Types: deb\nURIs: http://other.example/debian\n"},
        {"resolv_conf": "nameserver 192.0.2.54\n"},
        {"ca_bundle": "another bundle"},
        {"authorized_keys": "ssh-ed25519 AAAA newer insecure key\n"},
    ],
)
def test_box_is_rebuilt_when_any_input_changes(change: dict[str, object]) -> None:
    assert box_inputs().box_id() == box_inputs().box_id()
    assert box_inputs(**change).box_id() != box_inputs().box_id()  # type: ignore[arg-type]


def test_box_metadata_is_vagrant_lxc_format_with_the_build_id() -> None:
    inputs = box_inputs()

    metadata = boxes.box_metadata(inputs)

    assert metadata["provider"] == "lxc"
    # vagrant-lxc 1.4 accepts 1.0.0, 2 and 3 and warns on all but 1.0.0.
    assert metadata["version"] == "1.0.0"
    # The rootfs tarball holds ./bin, ./etc...: one component ('.') to strip, not the default 2.
    assert metadata["template-opts"] == {"--strip-components": "1"}
    assert metadata["fks_box_id"] == inputs.box_id()


def test_installed_box_id_is_read_from_vagrants_box_directory(tmp_path: Path) -> None:
    name = "fks-infra/debian-trixie"
    assert boxes.installed_box_id(name, tmp_path) is None
    metadata = tmp_path / "boxes/fks-infra-VAGRANTSLASH-debian-trixie/0/lxc/metadata.json"
    metadata.parent.mkdir(parents=True)
    metadata.write_text('{"provider": "lxc", "fks_box_id": "0123abcd"}')

    assert boxes.installed_box_id(name, tmp_path) == "0123abcd"
    metadata.write_text('{"provider": "lxc"}')
    assert boxes.installed_box_id(name, tmp_path) is None


def test_insecure_key_comes_from_the_installed_vagrant(tmp_path: Path) -> None:
    keys = tmp_path / "vagrant-2.4.1/keys"
    keys.mkdir(parents=True)
    (keys / "vagrant.key.ed25519.pub").write_text("ssh-ed25519 AAAAC3 vagrant insecure\n")
    (keys / "vagrant.key.rsa.pub").write_text("ssh-rsa AAAAB3 vagrant insecure\n")

    found = boxes.insecure_public_keys(
        [str(tmp_path / "nothing/*.pub"), str(keys / "vagrant*.pub")]
    )

    assert found == "ssh-ed25519 AAAAC3 vagrant insecure\nssh-rsa AAAAB3 vagrant insecure\n"
    with pytest.raises(LabError, match="no Vagrant insecure public key found"):
        boxes.insecure_public_keys([str(tmp_path / "nothing/*.pub")])


def test_installed_vagrant_has_its_insecure_key() -> None:
    if shutil.which("vagrant") is None:
        pytest.skip("vagrant is not installed")

    assert "ssh-rsa " in boxes.insecure_public_keys()


# --- the containers' network ---


def test_lxc_network_collides_with_nothing_of_the_lab() -> None:
    assert lxcnet.BRIDGE != lab_names.BRIDGE and len(lxcnet.BRIDGE) <= 15
    assert lxcnet.NFT_TABLE != lab_names.NFT_TABLE
    assert not any(
        ours.overlaps(theirs)
        for ours in lxcnet.CANDIDATE_BLOCKS
        for theirs in lab_subnet.CANDIDATE_BLOCKS
    )


def test_lxc_nat_ruleset_masquerades_only_the_subnet_leaving_it() -> None:
    ruleset = lxcnet.nat_ruleset(IPv4Network("10.214.3.0/24"))

    assert "table inet fksvagrant {" in ruleset
    assert "ip saddr 10.214.3.0/24 ip daddr != 10.214.3.0/24 masquerade" in ruleset
    if shutil.which("nft") and os.geteuid() == 0:
        check = subprocess.run(
            ["nft", "-c", "-f", "-"], input=ruleset, capture_output=True, text=True,
            timeout=30, check=False,
        )  # fmt: skip
        assert check.returncode == 0, check.stderr


def test_lxc_network_prefix_is_the_vagrantfiles_subnet_form() -> None:
    network = lxcnet.LxcNetwork(
        subnet=IPv4Network("172.30.7.0/24"),
        gateway=IPv4Address("172.30.7.1"),
        ip_forward_before="1",
    )

    assert network.prefix == "172.30.7"


def test_session_releases_are_the_distinct_host_releases() -> None:
    assert session.releases("a:core@debian:trixie,b:gpu,c:bridge@debian:trixie") == (
        Release("debian", "trixie"),
        Release("debian", "bookworm"),
    )
    with pytest.raises(LabError, match="gives a release 'debian'"):
        session.releases("a:core@debian")


def test_lxc_machines_get_the_container_settings_vms_do_not() -> None:
    status = (
        "1795508559,core-1,provider-name,lxc\n"
        "1795508559,core-1,state,running\n"
        "1795508559,gpu-1,provider-name,virtualbox\n"
        "1795508559,gpu-1,state,running\n"
    )
    hosts = [VIRTUALBOX_HOSTS[0], VIRTUALBOX_HOSTS[1]]

    groups = build_groups(hosts, DEFAULT_SPEC, "10.214.0", parse_machine_providers(status))

    container, vm = (data for _, data in groups["vagrant"])
    assert container["fks_time_adjust_clock"] is False
    assert container["fks_ntp_pools"] == []
    assert container["fks_private_address"] == "10.214.0.10"
    assert "fks_time_adjust_clock" not in vm and "fks_ntp_pools" not in vm
    assert 'lxc.customize "cap.drop", "sys_time' in VAGRANTFILE.read_text(encoding="utf-8")
