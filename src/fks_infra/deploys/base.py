"""The base every FKS host needs, whatever its roles."""

from __future__ import annotations

from pathlib import Path

from pyinfra.api.deploy import deploy
from pyinfra.context import host
from pyinfra.operations import apt, files, server, systemd

from fks_infra.deploys.operations import ROLLOUT, STAGING_DIR, VERIFY_RELEASE
from fks_infra.plan import HostPlan
from fks_infra.releases import VERIFY_SCRIPT

FILES = Path(__file__).resolve().parents[3] / "files"

#: What a host needs beyond a minimal Debian: venvs for the Python services.
PACKAGES = ["python3", "python3-venv", "ca-certificates"]


def host_file(target: str) -> str:
    """The file shipped as-is to ``target``; ``files/`` mirrors the target paths."""
    return str(FILES / target.lstrip("/"))


@deploy("Prepare host")
def prepare_host(plan: HostPlan) -> None:
    """apt that waits for the dpkg lock, packages, the service user, the directory layout."""
    files.put(
        name="Make apt wait for the dpkg lock",
        src=host_file("/etc/apt/apt.conf.d/90fks-infra"),
        dest="/etc/apt/apt.conf.d/90fks-infra",
        mode="644",
    )
    apt.packages(name="Install base packages", packages=PACKAGES, update=True, cache_time=86400)

    user = plan.settings.fks_service_user
    server.group(name=f"Create group {user}", group=user, system=True)
    server.user(
        name=f"Create system user {user}",
        user=user,
        group=user,
        system=True,
        shell="/usr/sbin/nologin",
        home="/nonexistent",
        create_home=False,
    )

    login_user = str(host.data.get("ssh_user") or "root")
    for path, mode, owner in (
        ("/opt/fks", "755", "root"),
        ("/etc/fks", "700", "root"),  # env files hold secrets
        ("/var/lib/fks-infra", "755", "root"),
        # Uploads land here first: only the SSH login user (and root) can read them.
        (STAGING_DIR, "700", login_user),
        ("/usr/local/lib/fks-infra", "755", "root"),
    ):
        files.directory(name=f"Directory {path}", path=path, user=owner, mode=mode)

    for program, source in ((ROLLOUT, host_file(ROLLOUT)), (VERIFY_RELEASE, str(VERIFY_SCRIPT))):
        files.put(name=f"Install {program}", src=source, dest=program, mode="755")
    journald = files.put(
        name="Bound the journal",
        src=host_file("/etc/systemd/journald.conf.d/fks-infra.conf"),
        dest="/etc/systemd/journald.conf.d/fks-infra.conf",
        mode="644",
        create_remote_dir=True,
    )
    systemd.service(
        name="Restart journald for its new limits",
        service="systemd-journald.service",
        restarted=True,
        _if=journald.did_change,
    )
