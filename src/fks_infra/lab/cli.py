"""``fks-infra lab``: bring the local lab up, look at it, log into it, take it down."""

from __future__ import annotations

import os
import sys

import click

from fks_infra.lab import lifecycle
from fks_infra.lab.errors import LabError
from fks_infra.lab.keys import known_hosts_file
from fks_infra.lab.mirror import MIRROR_ENV
from fks_infra.lab.paths import LabPaths, lab_paths
from fks_infra.lab.rootfs import OPERATORS
from fks_infra.lab.spec import DEFAULT_HOSTS, DEFAULT_RELEASE, HOSTS_ENV
from fks_infra.lab.state import LabState, load_state
from fks_infra.lab.table import host_table


def _paths() -> LabPaths:
    return lab_paths()


def _require_state(paths: LabPaths) -> LabState:
    state = load_state(paths.state_file)
    if state is None:
        raise LabError(f"no lab is up (no {paths.state_file}); run `fks-infra lab up`")
    return state


class _LabGroup(click.Group):
    """Turns ``LabError`` into a one-line message and exit code 1 instead of a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except LabError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_LabGroup)
def lab() -> None:
    """A local lab of systemd hosts (systemd-nspawn) to deploy to and test against."""


@lab.command()
@click.option(
    "--hosts",
    envvar=HOSTS_ENV,
    default=DEFAULT_HOSTS,
    show_default=True,
    help="Comma-separated name:role[+role...][@distro:suite[+option]] (roles: core, gpu, "
    "bridge, datastore; option cis: CIS-hardened umask and temporary directories), "
    "e.g. core-1:core@debian:trixie+cis,gpu-1:gpu.",
)
@click.option(
    "--release",
    default=DEFAULT_RELEASE,
    show_default=True,
    help="distro:suite of the hosts that name none.",
)
@click.option("--mirror", envvar=MIRROR_ENV, help="Debian mirror URI; default: this machine's.")
def up(hosts: str, release: str, mirror: str | None) -> None:
    """Build (once) each release's base rootfs, then boot the hosts and wait until they are
    ready."""
    paths = _paths()
    result = lifecycle.up(
        hosts, release, paths, mirror=mirror, report=lambda line: click.echo(f"- {line}", err=True)
    )
    if result.reused:
        click.echo("the requested lab is already up and healthy", err=True)
    else:
        built = " (base rootfs built)" if result.built_rootfs else ""
        click.echo(f"lab up in {result.seconds:.1f}s{built}", err=True)
    click.echo(host_table(result.state, result.host_states))
    click.echo(f"state: {paths.state_file}", err=True)


@lab.command()
def status() -> None:
    """Show the lab's hosts and what each one's systemd says right now."""
    paths = _paths()
    state = _require_state(paths)
    click.echo(f"network {state.network.subnet} ({', '.join(state.releases)})", err=True)
    click.echo(host_table(state, lifecycle.status_of(state, paths)))


@lab.command(context_settings={"ignore_unknown_options": True})
@click.option(
    "--user",
    default=OPERATORS[0],
    show_default=True,
    help="Login user: an operator (root through `sudo -i`), or root where sshd still lets it in.",
)
@click.argument("host")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def ssh(user: str, host: str, command: tuple[str, ...]) -> None:
    """Log into HOST with the lab key, or run COMMAND there (after --)."""
    paths = _paths()
    target = _require_state(paths).host(host)
    args = [
        "ssh",
        "-i",
        str(paths.key),
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        f"UserKnownHostsFile={known_hosts_file(paths.key)}",
        "-o",
        "LogLevel=ERROR",
        "-o",
        "IdentitiesOnly=yes",
        f"{user}@{target.address}",
        *command,
    ]
    sys.stdout.flush()
    os.execvp(args[0], args)


@lab.command()
@click.option("--purge", is_flag=True, help="Also delete the cached base rootfs.")
def down(purge: bool) -> None:
    """Stop every lab host and remove its namespaces, links, mounts and NAT rules."""
    result = lifecycle.down(_paths(), purge=purge)
    click.echo(
        f"lab down: {len(result.killed)} process(es) killed after the poweroff timeout, "
        f"{len(result.unmounted)} mount(s) removed"
        + (f", {result.network.describe()} removed" if result.network else "")
        + (f", purged {', '.join(map(str, result.purged))}" if result.purged else "")
    )


if __name__ == "__main__":
    lab()
