"""Tailscale on a host: signed apt repository, pinned package, tailscaled, ``tailscale up``.

Every host joins the tailnet when ``fks_tailscale_enabled`` is true. The repository, its
suite and its keyring are settings, so a mirror can stand in for pkgs.tailscale.com.
``tailscale up`` runs only when the hash of its arguments changed or the node is not logged
in (``operations.tailscale_up``); the auth key never reaches argv, output, logs or an
operation name.
"""

from __future__ import annotations

from pathlib import Path

from pyinfra.api.deploy import deploy
from pyinfra.context import host
from pyinfra.facts.deb import DebPackages
from pyinfra.operations import apt, files
from pyinfra.operations.util import any_changed

from fks_infra.deploys.base import daemon_defaults
from fks_infra.deploys.operations import private_file, tailscale_up
from fks_infra.plan import TAILSCALE_AUTHKEY, HostPlan
from fks_infra.tailnet import host_tags, tailscale_hostname, up_arguments
from fks_infra.templates import render

KEYRING = "/usr/share/keyrings/tailscale-archive-keyring.gpg"
SOURCES = "/etc/apt/sources.list.d/tailscale.list"
PREFERENCES = "/etc/apt/preferences.d/tailscale"
DEFAULTS = "/etc/default/tailscaled"


@deploy("Join the tailnet")
def join_tailnet(plan: HostPlan) -> None:
    """Install Tailscale from its signed repository and log the node in with its role tags.

    Needs ``prepare_host`` first: the auth key goes through its staging directory.
    """
    settings = plan.settings
    if not settings.fks_tailscale_enabled:
        return

    if settings.fks_tailscale_keyring_file:
        keyring = files.put(
            name=f"Ship the Tailscale repository keyring to {KEYRING}",
            src=str(Path(settings.fks_tailscale_keyring_file).resolve()),
            dest=KEYRING,
            mode="644",
        )
    else:
        keyring = files.download(
            name=f"Download the Tailscale repository keyring to {KEYRING}",
            src=settings.fks_tailscale_keyring_url,
            dest=KEYRING,
            mode="644",
            sha256sum=settings.fks_tailscale_keyring_sha256,
        )
    sources = private_file(
        name=f"Render {SOURCES}",
        content=render(
            "etc/apt/sources.list.d/tailscale.list.j2",
            {
                "keyring": KEYRING,
                "repository": settings.fks_tailscale_repository,
                "suite": settings.fks_tailscale_suite,
            },
        ).encode(),
        dest=SOURCES,
        mode="644",
    )
    version = settings.fks_tailscale_version
    if version:
        pin = private_file(
            name=f"Pin tailscale to {version} in {PREFERENCES}",
            content=render("etc/apt/preferences.d/tailscale.j2", {"version": version}).encode(),
            dest=PREFERENCES,
            mode="644",
        )
    else:
        pin = files.file(
            name=f"No pin of tailscale: remove {PREFERENCES}", path=PREFERENCES, present=False
        )

    # Update the package lists when the repository changed, and whenever tailscale is not
    # installed yet: an earlier run may have added the repository and died before updating.
    if "tailscale" in host.get_fact(DebPackages):
        apt.update(name="Update apt lists for Tailscale", _if=any_changed(keyring, sources, pin))
    else:
        apt.update(name="Update apt lists for Tailscale")
    apt.packages(
        name=f"Install tailscale {version or '(latest)'}",
        packages=[f"tailscale={version}" if version else "tailscale"],
        allow_downgrades=bool(version),
    )

    daemon_defaults(
        "tailscaled.service",
        DEFAULTS,
        render("etc/default/tailscaled.j2", {"port": settings.fks_tailscale_port}),
    )
    tailscale_up(
        # Names no argument: the auth key must not leak into a generated name.
        name=f"Join the tailnet as {tailscale_hostname(plan)} ({','.join(host_tags(plan))})",
        arguments=up_arguments(plan),
        auth_key=plan.secrets[TAILSCALE_AUTHKEY],
    )
