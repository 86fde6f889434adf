"""The NVIDIA driver on hosts that run a GPU service: source, pin, module, persistenced.

Order matters and is the order below: the apt source and its pin before any package (so the
first install already takes the pinned branch); the nouveau blacklist and the kernel headers
before the DKMS package (so its postinst builds the module for the running kernel and the
next boot does not load nouveau first); the persistenced drop-in before the package (so its
postinst start is skipped cleanly where no GPU exists); the reboot last.
"""

from __future__ import annotations

from pyinfra.api.deploy import deploy
from pyinfra.api.operation import OperationMeta
from pyinfra.context import host
from pyinfra.facts.deb import DebPackages
from pyinfra.operations import apt, python, server
from pyinfra.operations.util import any_changed

from fks_infra.distro import Distro
from fks_infra.gpu import driver as gpu
from fks_infra.gpu.facts import NvidiaHost
from fks_infra.gpu.operations import kernel_headers
from fks_infra.operations.apt import pinned_packages
from fks_infra.operations.files import daemon_files, fetched_file, private_file
from fks_infra.operations.systemd import service_state
from fks_infra.plan import HostPlan
from fks_infra.run.runlock import retake_after_reboot

PERSISTENCED = "nvidia-persistenced.service"


@deploy("NVIDIA driver")
def install_gpu_driver(plan: HostPlan, distro: Distro) -> None:
    """Install the pinned NVIDIA driver where the plan places a service that needs a GPU."""
    if not gpu.needs_driver(plan.services):
        return
    settings = plan.settings
    chosen = gpu.driver_source(settings, distro)
    packages = gpu.driver_packages(settings, distro)
    installed = host.get_fact(DebPackages)

    repository = _cuda_keyring(plan, chosen) if chosen.source == "cuda" else []
    sources = private_file(
        name=f"Render {gpu.SOURCES}",
        content=_encoded(gpu.render_sources(settings, distro)),
        dest=gpu.SOURCES,
        mode="644",
    )
    pin = private_file(
        name=f"Pin the NVIDIA driver to {chosen.branch}.* in {gpu.PREFERENCES}",
        content=gpu.render_preferences(settings, distro).encode(),
        dest=gpu.PREFERENCES,
        mode="644",
    )
    # Also whenever a package is missing: an earlier run may have died before its update.
    if all(name in installed for name in (*packages.install, *packages.toolkit)):
        apt.update(name="Update apt lists for NVIDIA", _if=any_changed(*repository, sources, pin))
    else:
        apt.update(name="Update apt lists for NVIDIA")

    blacklist = private_file(
        name=f"Blacklist nouveau in {gpu.BLACKLIST}",
        content=gpu.render_blacklist().encode(),
        dest=gpu.BLACKLIST,
        mode="644",
    )
    if settings.fks_gpu_kernel_module:
        server.shell(
            name="Rebuild the initramfs without nouveau",
            commands=["update-initramfs -u"],
            _if=blacklist.did_change,
        )
        kernel_headers(name="Install the running kernel's headers (for DKMS)")

    # Its unit comes with the driver below; running and enabled are decided after that.
    daemon_files(
        name=f"Render {gpu.PERSISTENCED_DROP_IN}",
        unit=PERSISTENCED,
        files=[(gpu.PERSISTENCED_DROP_IN, gpu.render_persistenced_drop_in().encode(), "644")],
        restart=False,
        running=None,
        enabled=None,
    )

    driver = pinned_packages(
        name=f"Install the NVIDIA driver {chosen.branch}.* ({', '.join(packages.install)})",
        packages=packages.install,
        version_prefix=chosen.branch,
    )
    if packages.toolkit:
        pinned_packages(
            name=f"Install the CUDA {settings.fks_gpu_cuda_version} toolkit",
            packages=packages.toolkit,
            version_prefix=settings.fks_gpu_cuda_version,
        )

    module_loaded = host.get_fact(NvidiaHost)["module"]
    service_state(
        name=f"Enable {PERSISTENCED}",
        units=[PERSISTENCED],
        # Only where the driver is loaded; elsewhere the drop-in's condition skips it at
        # boot, and asking for "running" would report a change on every run.
        running=True if module_loaded else None,
    )

    if settings.fks_gpu_kernel_module and settings.fks_gpu_reboot:
        server.reboot(
            name="Reboot to load the new NVIDIA driver",
            delay=10,
            interval=5,
            reboot_timeout=settings.fks_gpu_reboot_timeout,
            _if=driver.did_change,
        )
        # The reboot dropped the connection and the run lock with it: take it again (or
        # stop here, if another run took it meanwhile) before anything else runs.
        python.call(
            name="Take the run lock again after the reboot",
            function=retake_after_reboot,
            _if=driver.did_change,
        )


def _cuda_keyring(plan: HostPlan, chosen: gpu.DriverSource) -> list[OperationMeta]:
    """The CUDA repository's keyring package: shipped or downloaded, installed when new."""
    settings = plan.settings
    deb = fetched_file(
        name=f"Put the cuda-keyring package at {gpu.CUDA_KEYRING_DEB}",
        dest=gpu.CUDA_KEYRING_DEB,
        url=chosen.cuda_keyring_url,
        sha256=settings.fks_gpu_cuda_keyring_sha256,
        local_file=settings.fks_gpu_cuda_keyring_file,
    )
    keyring_missing = "cuda-keyring" not in host.get_fact(DebPackages)
    keyring = server.shell(
        name=f"Install the cuda-keyring package ({gpu.CUDA_KEYRING})",
        commands=[f"dpkg -i {gpu.CUDA_KEYRING_DEB}"],
        _if=None if keyring_missing else deb.did_change,
    )
    # Its own one-line sources file would name the repository a second time: ours names it
    # (fks_gpu_cuda_repository, so a mirror can stand in).
    listing = private_file(
        name=f"Remove cuda-keyring's {chosen.keyring_list}",
        content=None,
        dest=chosen.keyring_list,
    )
    return [deb, keyring, listing]


def _encoded(text: str | None) -> bytes | None:
    return None if text is None else text.encode()
