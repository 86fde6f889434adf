"""A node of the tailnet: its tags and ``tailscale up``'s arguments. No pyinfra import."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Sequence
from dataclasses import dataclass

from fks_infra.addresses import first_label
from fks_infra.catalogue import Role
from fks_infra.distro import Distro
from fks_infra.errors import Problem
from fks_infra.monitoring.config import runs_monitoring
from fks_infra.plan import LOCAL, HostPlan
from fks_infra.settings import HostSettings

TAG_PREFIX = "tag:fks-"


#: Extra tag of the host(s) running the ``monitor`` service: the Prometheus scraper.
MONITOR_TAG = f"{TAG_PREFIX}monitor"


#: Seconds ``tailscale up`` waits for the node to reach Running before failing.
UP_TIMEOUT = "120s"


def role_tag(role: Role) -> str:
    return f"{TAG_PREFIX}{role.value}"


def host_tags(plan: HostPlan) -> tuple[str, ...]:
    """The ACL tags a host advertises: one per role, plus ``tag:fks-monitor`` if it scrapes."""
    tags = [role_tag(role) for role in plan.roles]
    if runs_monitoring(plan):
        tags.append(MONITOR_TAG)
    return tuple(tags)


def tailscale_hostname(plan: HostPlan) -> str:
    """The host's Tailscale machine name, one DNS label: ``fks_tailscale_hostname``, else
    the first label of its inventory name in lower case (``core-1`` of
    ``Core-1.example.com``; for ``@local``, of this machine's own name).

    ``plan`` refuses an inventory name that is an IP address unless the setting is given,
    and every inventory name is a DNS name (``fks_infra.addresses.host_problem``), so the
    label is one ``tailscale up --hostname`` takes as is.
    """
    if plan.settings.fks_tailscale_hostname:
        return plan.settings.fks_tailscale_hostname
    return first_label(socket.gethostname() if plan.name == LOCAL else plan.name)


def up_arguments(plan: HostPlan) -> tuple[str, ...]:
    """``tailscale up``'s arguments for a host, without the auth key (never part of them).

    ``--reset`` makes the arguments the whole truth: a flag dropped from the settings goes
    back to its default instead of lingering from an earlier run.
    """
    settings = plan.settings
    arguments = [
        "--reset",
        f"--hostname={tailscale_hostname(plan)}",
        f"--advertise-tags={','.join(host_tags(plan))}",
    ]
    if settings.fks_tailscale_login_server:
        arguments.append(f"--login-server={settings.fks_tailscale_login_server}")
    arguments += settings.fks_tailscale_up_extra_args
    arguments.append(f"--timeout={UP_TIMEOUT}")
    return tuple(arguments)


def arguments_hash(arguments: Sequence[str]) -> str:
    """SHA-256 of ``tailscale up``'s arguments: the host records it after a successful up."""
    return hashlib.sha256("\0".join(arguments).encode()).hexdigest()


#: Tailscale's own apt repositories, one per distribution (``stable/debian``, ``stable/ubuntu``).
TAILSCALE_PACKAGES = "https://pkgs.tailscale.com/stable"


@dataclass(frozen=True)
class AptSource:
    """Where a host gets Tailscale: repository, suite (the host's codename) and keyring."""

    repository: str
    suite: str
    keyring_url: str


def apt_source(settings: HostSettings, distro: Distro) -> AptSource:
    """The Tailscale repository of a host running ``distro``: settings where given, else
    pkgs.tailscale.com's for the host's distribution and codename."""
    repository = settings.fks_tailscale_repository or f"{TAILSCALE_PACKAGES}/{distro.id}"
    suite = settings.fks_tailscale_suite or distro.codename
    keyring = settings.fks_tailscale_keyring_url or f"{repository}/{suite}.noarmor.gpg"
    return AptSource(repository, suite, keyring)


def apt_source_problems(settings: HostSettings, distro: Distro) -> list[Problem]:
    """A suite of another release is refused: a host never gets another release's source."""
    suite = settings.fks_tailscale_suite
    if not settings.fks_tailscale_enabled or suite is None or suite == distro.codename:
        return []
    return [
        Problem(
            f"fks_tailscale_suite {suite!r} is not the release of the host, which runs "
            f"{distro.name}: leave it unset (the host's codename) or set {distro.codename!r}",
            key="fks_tailscale_suite",
        )
    ]
