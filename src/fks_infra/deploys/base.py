"""The base every FKS host needs, whatever its roles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyinfra.api.deploy import deploy

from fks_infra.deploys.operations import (
    ROLLOUT,
    STAGING_DIR,
    UPLOADS_DIR,
    VERIFY_RELEASE,
    daemon_files,
    directories,
    login_user,
    packages,
    preflight,
    private_file,
    system_account,
)
from fks_infra.plan import HostPlan
from fks_infra.releases import VERIFY_SCRIPT

FILES = Path(__file__).resolve().parents[3] / "files"

#: What a host needs beyond a minimal Debian: venvs for the Python services.
PACKAGES = ["python3", "python3-venv", "ca-certificates"]


APT_LOCK_WAIT = "/etc/apt/apt.conf.d/90fks-infra"
JOURNALD_LIMITS = "/etc/systemd/journald.conf.d/fks-infra.conf"


def host_file(target: str) -> str:
    """The file shipped as-is to ``target``; ``files/`` mirrors the target paths."""
    return str(FILES / target.lstrip("/"))


def ship(target: str, mode: str, name: str) -> Any:
    """Put the file ``files/<target>`` at ``target``."""
    content = Path(host_file(target)).read_bytes()
    return private_file(name=name, content=content, dest=target, mode=mode)


def daemon_defaults(unit: str, path: str, content: str) -> None:
    """A distribution daemon's ``/etc/default`` file: written, the daemon restarted when the
    file changed (it reads its arguments at start), and kept enabled and running."""
    daemon_files(
        name=f"Render {path} (restart {unit} when it changed)",
        unit=unit,
        files=[(path, content.encode(), "644")],
    )


@deploy("Prepare host")
def prepare_host(plan: HostPlan) -> None:
    """apt that waits for the dpkg lock, packages, the service user, the directory layout."""
    # First, before any change: a host with a full disk or a wrong clock stops here.
    preflight(
        name="Pre-flight: free disk and clock",
        min_free_mib=plan.settings.fks_preflight_min_free_mib,
        max_clock_skew_s=plan.settings.fks_preflight_max_clock_skew,
    )
    operator = login_user()
    directories(
        name="Directories of fks-infra",
        layout=(
            ("/opt/fks", "755", "root"),
            ("/etc/fks", "700", "root"),  # env files hold secrets
            ("/var/lib/fks-infra", "755", "root"),
            (STAGING_DIR, "700", "root"),
            # Over sudo, uploads land in the login user's own directory first (operations.py).
            (UPLOADS_DIR, "711", "root"),
            (f"{UPLOADS_DIR}/{operator}", "700", operator),
            ("/usr/local/lib/fks-infra", "755", "root"),
        ),
    )
    ship(APT_LOCK_WAIT, "644", "Make apt wait for the dpkg lock")
    packages(name="Install base packages", names=PACKAGES)

    user = plan.settings.fks_service_user
    system_account(name=f"Create system user and group {user}", user=user)

    ship(ROLLOUT, "755", f"Install {ROLLOUT}")
    private_file(
        name=f"Install {VERIFY_RELEASE}",
        content=VERIFY_SCRIPT.read_bytes(),
        dest=VERIFY_RELEASE,
        mode="755",
    )
    daemon_files(
        name="Bound the journal (restart journald when the limits changed)",
        unit="systemd-journald.service",
        files=[(JOURNALD_LIMITS, Path(host_file(JOURNALD_LIMITS)).read_bytes(), "644")],
        running=None,
        enabled=None,
    )
