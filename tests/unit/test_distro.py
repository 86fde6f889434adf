"""Everything that differs by release, from recorded ``/etc/os-release`` files.

Debian 12 and 13 are also proven live by the lab; Ubuntu 22.04 and 24.04 only here: their
archive cannot be reached from these machines (README, "What could not be exercised here").
"""

from __future__ import annotations

import pytest

from fks_infra.datastores.config import PostgresCluster
from fks_infra.distro import Distro, UnsupportedSystemError, distro_of, parse_os_release
from fks_infra.gpu import driver as gpu
from fks_infra.settings import HostSettings
from fks_infra.sshd.config import activate_command
from fks_infra.tailscale.node import apt_source, apt_source_problems
from fks_infra.templating import render

#: os-release files as the releases ship them (abridged to the fields that matter).
OS_RELEASE = {
    "bookworm": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n'
    'VERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n',
    "trixie": 'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nNAME="Debian GNU/Linux"\n'
    'VERSION_ID="13"\nVERSION="13 (trixie)"\nVERSION_CODENAME=trixie\nID=debian\n',
    "jammy": 'PRETTY_NAME="Ubuntu 22.04.5 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\n'
    'VERSION="22.04.5 LTS (Jammy Jellyfish)"\nVERSION_CODENAME=jammy\nID=ubuntu\nID_LIKE=debian\n',
    "noble": 'PRETTY_NAME="Ubuntu 24.04.1 LTS"\nNAME="Ubuntu"\nVERSION_ID="24.04"\n'
    'VERSION="24.04.1 LTS (Noble Numbat)"\nVERSION_CODENAME=noble\nID=ubuntu\nID_LIKE=debian\n',
}
#: What each release's archive has (postgres major, python3, the NVIDIA branch by default).
EXPECTED = {
    "bookworm": ("debian", "12", "15", "3.11", "535", "debian12"),
    "trixie": ("debian", "13", "17", "3.13", "550", "debian13"),
    "jammy": ("ubuntu", "22.04", "14", "3.10", "535", "ubuntu2204"),
    "noble": ("ubuntu", "24.04", "16", "3.12", "550", "ubuntu2404"),
}


def release(codename: str) -> Distro:
    return distro_of(parse_os_release(OS_RELEASE[codename]))


@pytest.mark.parametrize("codename", sorted(OS_RELEASE))
def test_each_supported_release_is_recognised_with_its_own_choices(codename: str) -> None:
    distro = release(codename)
    found = (
        distro.id, distro.version_id, distro.postgres, distro.python, distro.nvidia_branch,
        distro.cuda_path,
    )  # fmt: skip
    assert found == EXPECTED[codename]
    assert distro.codename == codename


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"\nID=debian\nVERSION_ID="11"\n', "bullseye"),
        ('PRETTY_NAME="Ubuntu 20.04.6 LTS"\nID=ubuntu\nVERSION_ID="20.04"\n', "Ubuntu 20.04"),
        ('NAME="CentOS Stream"\nID="centos"\nVERSION_ID="9"\n', "centos 9"),
        ("", "unknown"),
    ],
)
def test_an_unsupported_release_is_refused_naming_what_was_found(text: str, named: str) -> None:
    with pytest.raises(UnsupportedSystemError) as error:
        distro_of(parse_os_release(text))
    message = str(error.value)
    assert named in message
    assert "Debian 12 (bookworm), Debian 13 (trixie), Ubuntu 22.04 (jammy)" in message


def test_os_release_values_are_unquoted() -> None:
    fields = parse_os_release('# comment\n\nID=\'debian\'\nNAME="A \\"quoted\\" name"\nX=y\n')
    assert fields == {"ID": "debian", "NAME": 'A "quoted" name', "X": "y"}


@pytest.mark.parametrize(
    ("codename", "unit", "server"),
    [
        ("bookworm", "postgresql@15-main.service", "postgresql-15"),
        ("trixie", "postgresql@17-main.service", "postgresql-17"),
        ("jammy", "postgresql@14-main.service", "postgresql-14"),
        ("noble", "postgresql@16-main.service", "postgresql-16"),
    ],
)
def test_postgres_is_the_release_major(codename: str, unit: str, server: str) -> None:
    cluster = PostgresCluster(release(codename).postgres)
    assert cluster.unit == unit
    assert cluster.packages(("vector",)) == (server, "postgresql-client", f"{server}-pgvector")
    assert cluster.hba == f"/etc/postgresql/{cluster.version}/main/pg_hba.conf"


@pytest.mark.parametrize("codename", sorted(OS_RELEASE))
def test_no_apt_source_of_another_release(codename: str) -> None:
    distro = release(codename)
    others = [name for name in OS_RELEASE if name != codename]
    archive = HostSettings(fks_gpu_driver_source=distro.archive_source)  # type: ignore[arg-type]
    texts = [
        gpu.render_sources(HostSettings(), distro) or "",
        gpu.render_sources(archive, distro) or "",
        render(
            "etc/apt/sources.list.d/tailscale.list.j2",
            {"keyring": "/k.gpg", **vars(apt_source(HostSettings(), distro))},
        ),
    ]
    for text in texts:
        for other in others:
            assert other not in text, (codename, other, text)
    tailscale = apt_source(HostSettings(), distro)
    assert (tailscale.suite, tailscale.repository) == (
        codename,
        f"https://pkgs.tailscale.com/stable/{distro.id}",
    )
    assert tailscale.keyring_url.endswith(f"/{distro.id}/{codename}.noarmor.gpg")


def test_the_driver_of_each_release() -> None:
    trixie = gpu.driver_source(HostSettings(fks_gpu_driver_source="debian"), release("trixie"))
    assert (trixie.branch, trixie.suite) == ("550", "trixie")
    assert gpu.driver_packages(HostSettings(), release("trixie")).install == (
        "nvidia-smi", "libnvidia-ml1", "nvidia-persistenced", "nvidia-driver",
        "nvidia-kernel-dkms",
    )  # fmt: skip
    noble = gpu.driver_source(HostSettings(), release("noble"))
    assert noble.cuda_repository.endswith("/repos/ubuntu2404/x86_64/")
    assert noble.keyring_list == "/etc/apt/sources.list.d/cuda-ubuntu2404-x86_64.list"
    userland = HostSettings(fks_gpu_driver_source="ubuntu", fks_gpu_kernel_module=False)
    assert gpu.driver_packages(userland, release("jammy")).install == (
        "nvidia-utils-535-server", "libnvidia-compute-535-server",
        "nvidia-compute-utils-535-server",
    )  # fmt: skip
    # Ubuntu's own archive is already in the host's sources: no file of ours.
    assert gpu.render_sources(userland, release("jammy")) is None
    preferences = gpu.render_preferences(userland, release("jammy"))
    assert "Pin: version 535.*" in preferences


@pytest.mark.parametrize(
    ("codename", "settings", "key", "words"),
    [
        ("trixie", {"fks_gpu_driver_source": "debian", "fks_gpu_debian_suite": "bookworm"},
         "fks_gpu_debian_suite", "runs Debian 13 (trixie)"),
        ("trixie", {"fks_gpu_driver_source": "debian", "fks_gpu_driver_branch": "535"},
         "fks_gpu_driver_branch", "Debian 13 (trixie)'s archive has the 550 branch only"),
        ("jammy", {"fks_gpu_driver_source": "debian"}, "fks_gpu_driver_source",
         "use 'cuda' or 'ubuntu'"),
        ("bookworm", {"fks_gpu_driver_source": "ubuntu"}, "fks_gpu_driver_source",
         "use 'cuda' or 'debian'"),
        ("noble", {"fks_gpu_driver_source": "ubuntu", "fks_gpu_driver_branch": "999"},
         "fks_gpu_driver_branch", "535, 550, 570 branches only"),
    ],
)  # fmt: skip
def test_driver_settings_of_another_release_are_refused(
    codename: str, settings: dict[str, str], key: str, words: str
) -> None:
    (problem,) = gpu.driver_problems(HostSettings.model_validate(settings), release(codename))
    assert problem.key == key and words in problem.message


def test_pinned_settings_that_fit_the_release_pass() -> None:
    fitting = HostSettings(
        fks_gpu_driver_source="debian", fks_gpu_driver_branch="550", fks_gpu_debian_suite="trixie"
    )
    assert gpu.driver_problems(fitting, release("trixie")) == []
    # NVIDIA's repository carries many branches: a pin is checked by apt on the host.
    assert gpu.driver_problems(HostSettings(fks_gpu_driver_branch="570"), release("trixie")) == []


def test_a_tailscale_suite_of_another_release_is_refused() -> None:
    pinned = HostSettings(fks_tailscale_suite="bookworm")
    (problem,) = apt_source_problems(pinned, release("trixie"))
    assert problem.key == "fks_tailscale_suite" and "runs Debian 13 (trixie)" in problem.message
    assert apt_source_problems(pinned, release("bookworm")) == []
    assert apt_source_problems(HostSettings(), release("noble")) == []


@pytest.mark.parametrize(
    ("codename", "command"),
    [
        ("bookworm", "systemctl reload ssh.service"),
        ("trixie", "systemctl reload ssh.service"),
        ("jammy", "systemctl reload ssh.service"),
        # socket-activated: sshd may not be running until the next connection starts it
        ("noble", "systemctl try-reload-or-restart ssh.service"),
    ],
)
def test_sshd_takes_its_drop_in_the_way_the_release_runs_it(codename: str, command: str) -> None:
    assert activate_command(release(codename)) == command
