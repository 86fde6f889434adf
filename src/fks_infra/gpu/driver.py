"""GPU nodes: which driver packages, from which apt source, pinned how; which GPU for whom.

Pure data from settings (no pyinfra): the deploy (``gpu/deploy.py``), the checks
(``checks/test_gpu.py``) and the unit tests read the same answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from fks_infra.catalogue import Catalogue, Service
from fks_infra.distro import Distro
from fks_infra.errors import Problem
from fks_infra.paths import STATE_DIR
from fks_infra.settings import HostSettings
from fks_infra.templating import render

SOURCES = "/etc/apt/sources.list.d/fks-nvidia.sources"
PREFERENCES = "/etc/apt/preferences.d/fks-nvidia"
#: Where the CUDA repository's keyring package (cuda-keyring) lands before ``dpkg -i``.
CUDA_KEYRING_DEB = f"{STATE_DIR}/cuda-keyring.deb"
#: The keyring cuda-keyring installs; our own sources file names it in Signed-By.
CUDA_KEYRING = "/usr/share/keyrings/cuda-archive-keyring.gpg"
DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
BLACKLIST = "/etc/modprobe.d/fks-blacklist-nouveau.conf"
PERSISTENCED_DROP_IN = "/etc/systemd/system/nvidia-persistenced.service.d/fks-infra.conf"

#: NVIDIA's CUDA repositories, one folder per release (``Distro.cuda_path``).
CUDA_REPOSITORIES = "https://developer.download.nvidia.com/compute/cuda/repos"


@dataclass(frozen=True)
class DriverSource:
    """The driver's apt source and branch for one host: its settings resolved against the
    release it runs.

    + source: ``cuda``, or the release's own archive (``debian``, ``ubuntu``)
    + branch: the driver branch apt holds (``535``)
    + suite: the Debian suite of the ``debian`` source (the host's codename)
    + cuda_repository, cuda_keyring_url: NVIDIA's repository for the release, or the settings'
    + keyring_list: the one-line sources file cuda-keyring installs (removed: ours names the
      repository)
    """

    source: str
    branch: str
    suite: str
    cuda_repository: str
    cuda_keyring_url: str
    keyring_list: str


def driver_source(settings: HostSettings, distro: Distro) -> DriverSource:
    """Where the driver of a host running ``distro`` comes from."""
    repository = (
        settings.fks_gpu_cuda_repository or f"{CUDA_REPOSITORIES}/{distro.cuda_path}/x86_64/"
    )
    return DriverSource(
        source=settings.fks_gpu_driver_source,
        branch=settings.fks_gpu_driver_branch or distro.nvidia_branch,
        suite=settings.fks_gpu_debian_suite or distro.codename,
        cuda_repository=repository,
        cuda_keyring_url=settings.fks_gpu_cuda_keyring_url
        or f"{repository}cuda-keyring_1.1-1_all.deb",
        keyring_list=f"/etc/apt/sources.list.d/cuda-{distro.cuda_path}-x86_64.list",
    )


def driver_problems(settings: HostSettings, distro: Distro) -> list[Problem]:
    """Driver settings that do not fit the host's release, each naming its key."""
    problems = []
    source = settings.fks_gpu_driver_source
    if source != "cuda" and source != distro.archive_source:
        problems.append(
            Problem(
                f"fks_gpu_driver_source {source!r} is another distribution's archive; the host "
                f"runs {distro.name}: use 'cuda' or {distro.archive_source!r}",
                key="fks_gpu_driver_source",
            )
        )
    suite = settings.fks_gpu_debian_suite
    if source == "debian" and suite is not None and suite != distro.codename:
        problems.append(
            Problem(
                f"fks_gpu_debian_suite {suite!r} is not the release of the host, which runs "
                f"{distro.name}: leave it unset or set {distro.codename!r}",
                key="fks_gpu_debian_suite",
            )
        )
    branch = settings.fks_gpu_driver_branch
    if source == distro.archive_source and branch and branch not in distro.nvidia_archive_branches:
        problems.append(
            Problem(
                f"fks_gpu_driver_branch {branch!r}: {distro.name}'s archive has the "
                f"{', '.join(distro.nvidia_archive_branches)} branch"
                f"{'es' if len(distro.nvidia_archive_branches) > 1 else ''} only",
                key="fks_gpu_driver_branch",
            )
        )
    return problems


@dataclass(frozen=True)
class DriverPackages:
    """The packages the deploy installs.

    + install: the driver's; each must be at a version ``<branch>.*`` (the pin, the checks)
    + toolkit: the CUDA toolkit's, empty unless ``fks_gpu_cuda_toolkit``
    """

    install: tuple[str, ...]
    toolkit: tuple[str, ...]


def driver_packages(settings: HostSettings, distro: Distro) -> DriverPackages:
    """What to install for the host's driver settings on its release."""
    branch = driver_source(settings, distro).branch
    install = (
        *distro.nvidia_userland(branch),
        *(distro.nvidia_module(branch) if settings.fks_gpu_kernel_module else ()),
    )
    toolkit: tuple[str, ...] = ()
    if settings.fks_gpu_cuda_toolkit:
        toolkit = (
            ("cuda-toolkit-" + settings.fks_gpu_cuda_version.replace(".", "-"),)
            if settings.fks_gpu_driver_source == "cuda"
            else ("nvidia-cuda-toolkit",)
        )
    # Debian's nvidia-persistenced has its own upstream version (535.171.04 beside a
    # 535.309.01 driver); both start with the branch, which is what the pin holds.
    return DriverPackages(install=install, toolkit=toolkit)


def render_sources(settings: HostSettings, distro: Distro) -> str | None:
    """``/etc/apt/sources.list.d/fks-nvidia.sources`` (deb822) for the configured source;
    None for Ubuntu's archive, which the host's own sources already list."""
    chosen = driver_source(settings, distro)
    if chosen.source == "ubuntu":
        return None
    return render(
        "etc/apt/sources.list.d/fks-nvidia.sources.j2",
        {
            "source": chosen.source,
            "cuda_repository": chosen.cuda_repository,
            "cuda_keyring": CUDA_KEYRING,
            "debian_mirror": settings.fks_gpu_debian_mirror,
            "debian_security_mirror": settings.fks_gpu_debian_security_mirror,
            "suite": chosen.suite,
            "debian_keyring": DEBIAN_KEYRING,
        },
    )


def render_preferences(settings: HostSettings, distro: Distro) -> str:
    """``/etc/apt/preferences.d/fks-nvidia``: driver branch and CUDA version held."""
    toolkit = driver_packages(settings, distro).toolkit
    return render(
        "etc/apt/preferences.d/fks-nvidia.j2",
        {
            "branch": driver_source(settings, distro).branch,
            # The archives' toolkit carries its CUDA version in the version; NVIDIA's in the name.
            "toolkit": toolkit if settings.fks_gpu_driver_source != "cuda" else (),
            "cuda_version": settings.fks_gpu_cuda_version,
        },
    )


def render_blacklist() -> str:
    """``/etc/modprobe.d/fks-blacklist-nouveau.conf``."""
    return render("etc/modprobe.d/fks-blacklist-nouveau.conf.j2", {})


def render_persistenced_drop_in() -> str:
    """The drop-in that lets ``nvidia-persistenced`` skip cleanly where no GPU exists."""
    return render("etc/systemd/system/nvidia-persistenced.service.d/fks-infra.conf.j2", {})


def needs_driver(services: Iterable[Service]) -> bool:
    """Whether a host with these services gets the NVIDIA driver."""
    return any(service.needs_gpu for service in services)


def gpu_indices(service: Service, settings: HostSettings) -> tuple[int, ...]:
    """The GPUs a service may use (``UnitOptions.gpu_indices``); empty: all of them."""
    return tuple(settings.fks_gpu_indices.get(service.name, ())) if service.needs_gpu else ()


def gpu_problems(
    settings: HostSettings,
    services: Iterable[Service],
    catalogue: Catalogue,
    source_of: Mapping[str, str],
) -> list[Problem]:
    """Every problem of the GPU settings of one host, before anything is touched.

    + settings: the host's validated settings
    + services: the services placed on the host
    + catalogue: the catalogue (names and which services need a GPU)
    + source_of: where each key was set, for the messages
    """
    services = tuple(services)
    placed_gpu = [s.name for s in services if s.needs_gpu]
    count = settings.fks_gpu_count
    problems: list[Problem] = []

    def problem(message: str, key: str) -> None:
        problems.append(Problem(message, source_of.get(key, ""), key=key))

    for name, indices in settings.fks_gpu_indices.items():
        if name not in catalogue:
            problem(f"unknown service {name!r}", "fks_gpu_indices")
            continue
        if not catalogue[name].needs_gpu:
            problem(f"{name} needs no GPU: it gets no GPU indices", "fks_gpu_indices")
            continue
        if len(set(indices)) != len(indices) or any(index < 0 for index in indices):
            problem(f"{name}: indices {list(indices)} must be distinct and >= 0", "fks_gpu_indices")
        beyond = [index for index in indices if count is not None and index >= count]
        if beyond and name in placed_gpu:
            problem(
                f"{name} is given GPU {', '.join(map(str, beyond))} but the host has "
                f"{count} GPU{'s' if count != 1 else ''} (fks_gpu_count; indices start at 0)",
                "fks_gpu_indices",
            )
    if count == 0 and placed_gpu:
        problem(
            f"the host has no GPU but runs {', '.join(placed_gpu)}, which need one",
            "fks_gpu_count",
        )
    keyring = settings.fks_gpu_cuda_keyring_file
    uses_keyring = placed_gpu and settings.fks_gpu_driver_source == "cuda"
    if uses_keyring and keyring is not None and not Path(keyring).is_file():
        problem(f"no such file {keyring!r} on this machine", "fks_gpu_cuda_keyring_file")
    return problems
