"""GPU nodes: assignment validated before any change; driver operations and deploy as data."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from checkers import apt_policy
from pydantic import SecretStr
from pyinfra.facts.deb import DebPackages
from test_operations import commands
from windows_side import ENDPOINTS

from fks_infra.catalogue import CATALOGUE
from fks_infra.distro import SUPPORTED
from fks_infra.errors import Problem, ProblemsError
from fks_infra.gpu import deploy as gpu_deploy
from fks_infra.gpu import driver as gpu
from fks_infra.gpu import operations as gpu_ops
from fks_infra.gpu.facts import NvidiaHost
from fks_infra.operations import apt
from fks_infra.plan import HostSpec, InventoryPlan, plan_inventory
from fks_infra.run.runlock import retake_after_reboot
from fks_infra.services.deploy import unit_options
from fks_infra.settings import HostSettings

APT_CACHE = shutil.which("apt-cache")

BOOKWORM = SUPPORTED[0]


def secrets(name: str, settings: HostSettings) -> tuple[SecretStr | None, list[Problem]]:
    return SecretStr("x"), []


def plan(**gpu_data: Any) -> InventoryPlan:
    data = {"ssh_hostname": "192.0.2.20", **gpu_data}
    return plan_inventory(
        [
            HostSpec("core-1", ("core",), {"ssh_hostname": "192.0.2.10"}),
            HostSpec("gpu-1", ("gpu",), data, {key: "inventory/prod.py" for key in data}),
            HostSpec("bridge-1", ("bridge",), {"ssh_hostname": "192.0.2.30", **ENDPOINTS}),
        ],
        secrets=secrets,
    )


def problems(**gpu_data: Any) -> list[str]:
    with pytest.raises(ProblemsError) as caught:
        plan(**gpu_data)
    return [str(problem) for problem in caught.value.problems]


# --- validation --------------------------------------------------------------------------


def test_a_gpu_index_beyond_the_count_is_an_error_before_any_change() -> None:
    assert problems(fks_gpu_count=1, fks_gpu_indices={"ai": [0], "training": [1]}) == [
        "inventory/prod.py: host gpu-1: fks_gpu_indices: training is given GPU 1 but the host "
        "has 1 GPU (fks_gpu_count; indices start at 0)"
    ]


def test_indices_for_a_service_without_gpu_are_an_error() -> None:
    assert problems(fks_gpu_indices={"api": [0], "aii": [0]}) == [
        "inventory/prod.py: host gpu-1: fks_gpu_indices: api needs no GPU: it gets no GPU indices",
        "inventory/prod.py: host gpu-1: fks_gpu_indices: unknown service 'aii'",
    ]


def test_no_gpu_but_gpu_services_and_repeated_indices_are_errors() -> None:
    assert problems(fks_gpu_count=0) == [
        "inventory/prod.py: host gpu-1: fks_gpu_count: the host has no GPU but runs ai, "
        "training, which need one"
    ]
    assert "must be distinct" in problems(fks_gpu_indices={"ai": [0, 0]})[0]


def test_indices_reach_the_units_of_gpu_services_only() -> None:
    result = plan(fks_gpu_count=2, fks_gpu_indices={"ai": [1], "training": [0, 1]})
    host = result.host("gpu-1")
    assert unit_options(CATALOGUE["ai"], host, result).gpu_indices == (1,)
    assert unit_options(CATALOGUE["training"], host, result).gpu_indices == (0, 1)
    # Unknown count: indices are taken as given (the live check compares with nvidia-smi).
    assert plan(fks_gpu_indices={"ai": [3]}).host("gpu-1").settings.fks_gpu_count is None


# --- operations as data -----------------------------------------------------------------

DRIVER = ("nvidia-driver", "nvidia-smi")


def test_pinned_packages_converged_yields_nothing() -> None:
    installed = {"nvidia-driver": ["535.309.01-0+deb12u1"], "nvidia-smi": ["535.309.01-1"]}
    assert commands(apt.pinned_packages, {DebPackages: installed},
                    packages=DRIVER, version_prefix="535") == []  # fmt: skip


def test_pinned_packages_installs_when_missing_or_on_another_branch() -> None:
    for installed in ({}, {"nvidia-driver": ["550.54.15-1"], "nvidia-smi": ["535.309.01-1"]}):
        assert commands(apt.pinned_packages, {DebPackages: installed},
                        packages=DRIVER, version_prefix="535") == [
            f"{apt.APT_INSTALL} --allow-downgrades 'nvidia-driver=535.*' 'nvidia-smi=535.*'"
        ]  # fmt: skip
    # 5350.x is not the 535 branch.
    assert commands(apt.pinned_packages, {DebPackages: {"nvidia-driver": ["5350.1"],
                    "nvidia-smi": ["535.1"]}}, packages=DRIVER, version_prefix="535")  # fmt: skip


def test_kernel_headers_installed_only_when_missing() -> None:
    facts: dict[Any, Any] = {NvidiaHost: {"kernel": "6.1.0-28-amd64", "devices": []}}
    present = {**facts, DebPackages: {"linux-headers-6.1.0-28-amd64": ["6.1.119-1"]}}
    assert commands(gpu_ops.kernel_headers, present) == []
    assert commands(gpu_ops.kernel_headers, {**facts, DebPackages: {}}) == [
        f"{apt.APT_INSTALL} linux-headers-6.1.0-28-amd64"
    ]


def test_nvidia_host_fact_parses_recorded_output() -> None:
    fact = NvidiaHost()
    assert fact.process(["kernel 6.1.0-28-amd64", "module", "/dev/nvidiactl", "/dev/nvidia0"]) == {
        "kernel": "6.1.0-28-amd64",
        "module": True,
        "devices": ["/dev/nvidia0", "/dev/nvidiactl"],
    }
    # nvidia-modprobe leaves /dev/nvidiactl behind on a host without the driver
    assert fact.process(["kernel 6.18.44", "/dev/nvidiactl"]) == {
        "kernel": "6.18.44",
        "module": False,
        "devices": ["/dev/nvidiactl"],
    }


# --- the deploy as data: which operations, gated on what ---------------------------------


class Op:
    def __init__(self, name: str) -> None:
        self.name = name
        self.did_change = lambda: f"{name} changed"


class Recorder:
    """Stands in for pyinfra's operation modules: records every call and its arguments."""

    def __init__(self, calls: list[tuple[str, dict[str, Any]]], prefix: str = "") -> None:
        self.calls, self.prefix = calls, prefix

    def __getattr__(self, attribute: str) -> Any:
        def call(**kwargs: Any) -> Op:
            name = kwargs.get("name", f"{self.prefix}{attribute}")
            self.calls.append((f"{self.prefix}{attribute}", kwargs))
            return Op(str(name))

        return call


class FakeHost:
    def __init__(self, facts: dict[Any, Any]) -> None:
        self.facts = facts

    def get_fact(self, fact: Any, **kwargs: Any) -> Any:
        return self.facts[fact]


def deploy_calls(
    monkeypatch: pytest.MonkeyPatch, devices: list[str], **settings: Any
) -> list[tuple[str, dict[str, Any]]]:
    """The deploy's calls on a host with these NVIDIA device nodes (the module is loaded
    where /dev/nvidia0 exists)."""
    calls: list[tuple[str, dict[str, Any]]] = []
    for module in ("apt", "server", "python"):
        monkeypatch.setattr(gpu_deploy, module, Recorder(calls, f"{module}."))
    ops = Recorder(calls)
    for op in (
        "private_file",
        "daemon_files",
        "fetched_file",
        "pinned_packages",
        "kernel_headers",
        "service_state",
    ):
        monkeypatch.setattr(gpu_deploy, op, getattr(ops, op))
    monkeypatch.setattr(gpu_deploy, "any_changed", lambda *ops: [o.name for o in ops])
    nvidia = {"kernel": "6.1.0-28-amd64", "module": "/dev/nvidia0" in devices, "devices": devices}
    host = FakeHost({DebPackages: {}, NvidiaHost: nvidia})
    monkeypatch.setattr(gpu_deploy, "host", host)
    gpu_deploy.install_gpu_driver._inner(plan(**settings).host("gpu-1"), BOOKWORM)  # type: ignore[attr-defined]
    return calls


def named(calls: list[tuple[str, dict[str, Any]]], function: str) -> list[dict[str, Any]]:
    return [kwargs for name, kwargs in calls if name == function]


def test_initramfs_is_rebuilt_only_when_the_blacklist_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = deploy_calls(monkeypatch, [])
    (rebuild,) = [c for c in named(calls, "server.shell") if "initramfs" in c["name"]]
    assert rebuild["commands"] == ["update-initramfs -u"]
    assert rebuild["_if"]() == f"Blacklist nouveau in {gpu.BLACKLIST} changed"
    order = [kwargs.get("name", name) for name, kwargs in calls]
    assert order.index(rebuild["name"]) < order.index(
        next(n for n in order if str(n).startswith("Install the NVIDIA driver"))
    )
    assert named(calls, "kernel_headers"), "DKMS needs the running kernel's headers"


def test_reboot_only_when_allowed_and_then_only_when_the_driver_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert named(deploy_calls(monkeypatch, []), "server.reboot") == []
    (reboot,) = named(
        deploy_calls(monkeypatch, [], fks_gpu_reboot=True, fks_gpu_reboot_timeout=600),
        "server.reboot",
    )
    assert reboot["reboot_timeout"] == 600
    assert reboot["_if"]().startswith("Install the NVIDIA driver 535.*")
    # The run lock went with the connection: taken again right after, on the same condition.
    calls = deploy_calls(monkeypatch, [], fks_gpu_reboot=True)
    names = [name for name, _ in calls]
    assert names[names.index("server.reboot") + 1] == "python.call"
    (relock,) = named(calls, "python.call")
    assert relock["function"] is retake_after_reboot
    assert relock["_if"]() == reboot["_if"]()
    # Without a kernel module (a container) nothing would load after a reboot.
    lab = {"fks_gpu_reboot": True, "fks_gpu_kernel_module": False}
    assert named(deploy_calls(monkeypatch, [], **lab), "server.reboot") == []


def test_userland_mode_installs_no_module_headers_or_initramfs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = deploy_calls(monkeypatch, [], fks_gpu_kernel_module=False,
                         fks_gpu_driver_source="debian")  # fmt: skip
    (driver,) = named(calls, "pinned_packages")
    assert driver["packages"] == BOOKWORM.nvidia_userland("535")
    assert named(calls, "kernel_headers") == []
    assert not [c for c in named(calls, "server.shell") if "initramfs" in c["name"]]
    assert [c["dest"] for c in named(calls, "private_file")] == [
        gpu.SOURCES, gpu.PREFERENCES, gpu.BLACKLIST
    ]  # fmt: skip
    (drop_in,) = named(calls, "daemon_files")
    assert [path for path, _, _ in drop_in["files"]] == [gpu.PERSISTENCED_DROP_IN]
    # Before the driver brings its unit: a reload only, no restart, no start.
    assert (drop_in["restart"], drop_in["running"], drop_in["enabled"]) == (False, None, None)
    assert named(calls, "fetched_file") == [], "no cuda-keyring from the debian source"


def test_persistenced_is_started_only_where_the_driver_is_loaded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (without,) = named(deploy_calls(monkeypatch, ["/dev/nvidiactl"]), "service_state")
    (with_gpu,) = named(deploy_calls(monkeypatch, ["/dev/nvidia0", "/dev/nvidiactl"]),
                        "service_state")  # fmt: skip
    assert (without["units"], without["running"]) == (["nvidia-persistenced.service"], None)
    assert with_gpu["running"] is True  # enabled in both: service_state's default


def test_cuda_source_installs_the_keyring_and_removes_its_own_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = deploy_calls(monkeypatch, [])
    (download,) = named(calls, "fetched_file")
    assert download["url"].endswith("cuda-keyring_1.1-1_all.deb")
    removed = [c["dest"] for c in named(calls, "private_file") if c["content"] is None]
    assert removed == ["/etc/apt/sources.list.d/cuda-debian12-x86_64.list"]


# --- rendered apt files, read by apt itself ----------------------------------------------


@pytest.mark.skipif(APT_CACHE is None, reason="apt-cache is not installed")
@pytest.mark.parametrize("source", ["cuda", "debian"])
def test_apt_reads_the_rendered_sources_and_pin(tmp_path: Path, source: str) -> None:
    settings = HostSettings(fks_gpu_driver_source=source, fks_gpu_cuda_toolkit=True,
                            fks_gpu_cuda_version="11.8")  # fmt: skip
    preferences = gpu.render_preferences(settings, BOOKWORM)
    assert "Pin: version 535.*\nPin-Priority: 1001\n" in preferences
    result = apt_policy(
        tmp_path,
        "nvidia-driver",
        {"fks-nvidia.sources": gpu.render_sources(settings, BOOKWORM)},
        {"fks-nvidia": preferences},
    )
    assert result.returncode == 0, result.stderr
    assert "E:" not in result.stderr and "W:" not in result.stderr, result.stderr


@pytest.mark.skipif(APT_CACHE is None, reason="apt-cache is not installed")
def test_apt_check_catches_broken_files(tmp_path: Path) -> None:
    broken = str(gpu.render_sources(HostSettings(), BOOKWORM)).replace(
        "Suites: /", "Suites: /\nTypes"
    )
    assert (
        apt_policy(
            tmp_path,
            "nvidia-driver",
            {"fks-nvidia.sources": broken},
            {"fks-nvidia": "Pin: version 535.*\n"},
        ).returncode
        != 0
    )


def test_debian_sources_enable_the_components_beside_main_only() -> None:
    text = str(gpu.render_sources(HostSettings(fks_gpu_driver_source="debian"), BOOKWORM))
    assert text.count("Components: contrib non-free non-free-firmware\n") == 2
    assert "Suites: bookworm bookworm-updates\n" in text and "bookworm-security" in text
