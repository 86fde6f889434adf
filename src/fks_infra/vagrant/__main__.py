"""``python -m fks_infra.vagrant``: the Vagrant LXC session from the command line.

``boxes`` builds and adds the local boxes, ``demo`` is ``make vagrant-demo``, ``down``
removes whatever a crashed session left (containers, bridge, nft table).
"""

from __future__ import annotations

import os
import sys

import click

from fks_infra.lab.errors import LabError
from fks_infra.lab.paths import repo_root
from fks_infra.vagrant import session
from fks_infra.vagrant.boxes import box_name, ensure_box


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Vagrant with the LXC provider on this machine (run as root)."""


@main.command()
def boxes() -> None:
    """Build and add the box of every release in FKS_VAGRANT_HOSTS, if missing or outdated."""
    spec = session.hosts_spec(os.environ, repo_root())
    for release in session.releases(spec):
        built = ensure_box(release, click.echo)
        click.echo(f"{box_name(release)}: {'built' if built else 'up to date'}")


@main.command()
def demo() -> None:
    """Up, secrets, deploy, verify, status, destroy (FKS_VAGRANT_HOSTS picks the machines)."""
    sys.exit(session.demo(click.echo))


@main.command()
def down() -> None:
    """Destroy every container and the network a Vagrant session of this project left."""
    session.remove_all(repo_root(), dict(os.environ), None)
    click.echo("nothing left")


if __name__ == "__main__":
    try:
        main()
    except LabError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
