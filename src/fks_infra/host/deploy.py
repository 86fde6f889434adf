"""The base every FKS host needs, whatever its roles."""

from __future__ import annotations

from pyinfra.api.deploy import deploy

from fks_infra.operations.apt import packages
from fks_infra.operations.files import daemon_files, login_user, private_file
from fks_infra.operations.server import PlacedPort, directories, preflight
from fks_infra.package_data import host_file
from fks_infra.paths import LAYOUT, ROLLOUT, UPLOADS_DIR, VERIFY_RELEASE
from fks_infra.plan import HostPlan
from fks_infra.releases import VERIFY_SCRIPT
from fks_infra.services.operations import service_accounts

#: What a host needs beyond a minimal Debian: venvs for the Python services.
PACKAGES = ["python3", "python3-venv", "ca-certificates"]
#: apt waits for the dpkg lock instead of failing (``files/etc/apt/apt.conf.d/90fks-infra``).
APT_LOCK_WAIT = "/etc/apt/apt.conf.d/90fks-infra"
#: The journal's size limits (``files/etc/systemd/journald.conf.d/fks-infra.conf``).
JOURNALD_LIMITS = "/etc/systemd/journald.conf.d/fks-infra.conf"


@deploy("Prepare host")
def prepare_host(plan: HostPlan) -> None:
    """apt that waits for the dpkg lock, packages, the services' users, the directory layout."""
    # First, before any change: a host with a full disk, a wrong clock or a service's port
    # held by another process stops here.
    preflight(
        name="Pre-flight: free disk, clock and the services' ports",
        min_free_mib=plan.settings.fks_preflight_min_free_mib,
        max_clock_skew_s=plan.settings.fks_preflight_max_clock_skew,
        ports=tuple(
            PlacedPort(s.name, s.unit, s.user, plan.bind_address, s.port) for s in plan.services
        ),
    )
    operator = login_user()
    directories(
        name="Directories of fks-infra",
        # Over sudo, uploads land in the login user's own directory first (paths.UPLOADS_DIR).
        layout=(*LAYOUT, (f"{UPLOADS_DIR}/{operator}", "700", operator)),
    )
    private_file(
        name="Make apt wait for the dpkg lock",
        content=host_file(APT_LOCK_WAIT).read_bytes(),
        dest=APT_LOCK_WAIT,
        mode="644",
    )
    packages(name="Install base packages", names=PACKAGES)

    # Before any unit names them: one user per service placed here (catalogue.Service.user).
    service_accounts(
        name="Create the services' system users and groups",
        users=[service.user for service in plan.services],
    )

    private_file(
        name=f"Install {ROLLOUT}", content=host_file(ROLLOUT).read_bytes(), dest=ROLLOUT, mode="755"
    )
    private_file(
        name=f"Install {VERIFY_RELEASE}",
        content=VERIFY_SCRIPT.read_bytes(),
        dest=VERIFY_RELEASE,
        mode="755",
    )
    daemon_files(
        name="Bound the journal (restart journald when the limits changed)",
        unit="systemd-journald.service",
        files=[(JOURNALD_LIMITS, host_file(JOURNALD_LIMITS).read_bytes(), "644")],
        running=None,
        enabled=None,
    )
