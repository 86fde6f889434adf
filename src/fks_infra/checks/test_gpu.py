"""GPU nodes: the pinned driver, nouveau kept out, persistenced, and each GPU service's GPUs.

Checks that need a GPU skip with "no NVIDIA device on <host>" where no /dev/nvidia* exists
(a container, a VM, a host before its reboot): a skip is visible in the report, never a pass.
"""

from __future__ import annotations

import pytest

from fks_infra.checks.fleet import HostTarget, Target, connect, release
from fks_infra.gpu import driver as gpu


def devices(host_name: str) -> list[str]:
    result = connect(host_name).run("ls -1 /dev/ | grep -E '^nvidia[0-9]+$' || true")
    return [f"/dev/{name}" for name in result.stdout.split()]


def need_device(host_name: str) -> list[str]:
    found = devices(host_name)
    if not found:
        pytest.skip(f"no NVIDIA device on {host_name}")
    return found


def test_driver_packages_at_the_pinned_branch(gpu_host: HostTarget) -> None:
    settings = gpu_host.host.settings
    host = connect(gpu_host.host.name)
    distro = release(host)
    branch = gpu.driver_source(settings, distro).branch
    for name in gpu.driver_packages(settings, distro).install:
        package = host.package(name)
        assert package.is_installed, f"{name} is not installed"
        assert package.version.startswith(f"{branch}."), f"{name} {package.version} not {branch}.*"


def test_pin_and_source_are_the_rendered_ones(gpu_host: HostTarget) -> None:
    host = connect(gpu_host.host.name)
    settings = gpu_host.host.settings
    distro = release(host)
    assert host.file(gpu.PREFERENCES).content_string == gpu.render_preferences(settings, distro)
    sources = gpu.render_sources(settings, distro)
    if sources is None:  # the release's own archive, listed by the host's sources
        assert not host.file(gpu.SOURCES).exists
    else:
        assert host.file(gpu.SOURCES).content_string == sources
    # apt itself holds the branch: the candidate of the driver is the pinned one.
    smi = gpu.driver_packages(settings, distro).install[0]
    policy = host.run(f"apt-cache policy {smi}").stdout
    candidate = next(line for line in policy.splitlines() if "Candidate:" in line)
    branch = gpu.driver_source(settings, distro).branch
    assert candidate.split()[-1].startswith(f"{branch}."), policy


def test_nouveau_blacklisted(gpu_host: HostTarget) -> None:
    host = connect(gpu_host.host.name)
    blacklist = host.file(gpu.BLACKLIST)
    assert blacklist.exists and blacklist.mode == 0o644
    assert "blacklist nouveau" in blacklist.content_string
    assert host.run("grep -qw '^nouveau' /proc/modules").rc != 0, "nouveau is loaded"


def test_persistenced_active(gpu_host: HostTarget) -> None:
    service = connect(gpu_host.host.name).service("nvidia-persistenced.service")
    assert service.is_enabled, "nvidia-persistenced.service is not enabled"
    need_device(gpu_host.host.name)
    assert service.is_running, "nvidia-persistenced.service is not running"


def test_nvidia_smi_lists_the_gpus_and_the_driver(gpu_host: HostTarget) -> None:
    found = need_device(gpu_host.host.name)
    result = connect(gpu_host.host.name).run(
        "nvidia-smi --query-gpu=index,driver_version --format=csv,noheader"
    )
    assert result.rc == 0, result.stderr
    rows = [line.split(", ") for line in result.stdout.strip().splitlines()]
    expected = gpu_host.host.settings.fks_gpu_count
    assert len(rows) == (expected if expected is not None else len(found)), rows
    host = connect(gpu_host.host.name)
    branch = gpu.driver_source(gpu_host.host.settings, release(host)).branch
    assert all(version.startswith(f"{branch}.") for _, version in rows), rows


def test_sees_its_gpus(gpu_service: Target) -> None:
    host = connect(gpu_service.host.name)
    need_device(gpu_service.host.name)
    pid = int(host.run(f"systemctl show -P MainPID {gpu_service.service.unit}").stdout)
    assert pid > 0, f"{gpu_service.service.unit} has no main process"
    environ = host.run(f"tr '\\0' '\\n' < /proc/{pid}/environ").stdout.splitlines()
    wanted = gpu_service.host.settings.fks_gpu_indices.get(gpu_service.service.name)
    visible = [line for line in environ if line.startswith("CUDA_VISIBLE_DEVICES=")]
    if wanted:
        assert visible == [f"CUDA_VISIBLE_DEVICES={','.join(map(str, wanted))}"], visible
    else:
        assert visible == [], "no indices planned: the service should see every GPU"
    apps = host.run("nvidia-smi --query-compute-apps=pid --format=csv,noheader").stdout.split()
    # A service uses the GPU once it loaded a model; before that, only its environment counts.
    if str(pid) not in apps:
        pytest.skip(f"{gpu_service.service.name} (pid {pid}) holds no GPU context yet")
