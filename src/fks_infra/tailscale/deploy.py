"""Tailscale on a host: signed apt repository, pinned package, tailscaled, ``tailscale up``.

Every host joins the tailnet when ``fks_tailscale_enabled`` is true. The repository, its
suite and its keyring are settings, so a mirror can stand in for pkgs.tailscale.com.
``tailscale up`` runs only when the hash of its arguments changed or the node is not logged
in (``operations.tailscale_up``); the auth key never reaches argv, output, logs or an
operation name.
"""

from __future__ import annotations

from pyinfra.api.deploy import deploy
from pyinfra.context import host
from pyinfra.facts.deb import DebPackages
from pyinfra.operations import apt
from pyinfra.operations.util import any_changed

from fks_infra.distro import Distro
from fks_infra.operations.files import daemon_files, fetched_file, private_file
from fks_infra.plan import TAILSCALE_AUTHKEY, HostPlan
from fks_infra.tailscale.node import apt_source, host_tags, tailscale_hostname, up_arguments
from fks_infra.tailscale.operations import tailscale_up
from fks_infra.templating import render

KEYRING = "/usr/share/keyrings/tailscale-archive-keyring.gpg"
SOURCES = "/etc/apt/sources.list.d/tailscale.list"
PREFERENCES = "/etc/apt/preferences.d/tailscale"
DEFAULTS = "/etc/default/tailscaled"


@deploy("Join the tailnet")
def join_tailnet(plan: HostPlan, distro: Distro) -> None:
    """Install Tailscale from its signed repository and log the node in with its role tags.

    Needs ``prepare_host`` first: the auth key goes through its staging directory.
    """
    settings = plan.settings
    if not settings.fks_tailscale_enabled:
        return
    source = apt_source(settings, distro)

    keyring = fetched_file(
        name=f"Put the Tailscale repository keyring at {KEYRING}",
        dest=KEYRING,
        url=source.keyring_url,
        sha256=settings.fks_tailscale_keyring_sha256,
        local_file=settings.fks_tailscale_keyring_file,
    )
    sources = private_file(
        name=f"Render {SOURCES}",
        content=render(
            "etc/apt/sources.list.d/tailscale.list.j2",
            {
                "keyring": KEYRING,
                "repository": source.repository,
                "suite": source.suite,
            },
        ).encode(),
        dest=SOURCES,
        mode="644",
    )
    version = settings.fks_tailscale_version
    pin = private_file(
        name=f"Pin tailscale to {version} in {PREFERENCES}"
        if version
        else f"No pin of tailscale: remove {PREFERENCES}",
        content=render("etc/apt/preferences.d/tailscale.j2", {"version": version}).encode()
        if version
        else None,
        dest=PREFERENCES,
        mode="644",
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

    daemon_files(
        name=f"Render {DEFAULTS} (restart tailscaled.service when it changed)",
        unit="tailscaled.service",
        files=[
            (
                DEFAULTS,
                render("etc/default/tailscaled.j2", {"port": settings.fks_tailscale_port}).encode(),
                "644",
            )
        ],
    )
    tailscale_up(
        # Names no argument: the auth key must not leak into a generated name.
        name=f"Join the tailnet as {tailscale_hostname(plan)} ({','.join(host_tags(plan))})",
        arguments=up_arguments(plan),
        auth_key=plan.secrets[TAILSCALE_AUTHKEY],
    )
