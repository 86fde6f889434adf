"""The ``fks-infra`` command line.

Exit codes: 0 success, 1 a runtime failure, 2 invalid input (every problem listed).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

import click

from fks_infra.catalogue import CATALOGUE
from fks_infra.errors import MissingSecret, Problem, ProblemsError, report
from fks_infra.inventory import plan_for_path, plan_without_secrets, secrets_wanted
from fks_infra.lab.cli import lab
from fks_infra.package_data import package_path
from fks_infra.plan import InventoryPlan
from fks_infra.port_table import ports_json, ports_markdown, ports_table
from fks_infra.secrets import NOT_GENERATED, write_missing
from fks_infra.tables import text_table

INVALID = 2

inventory_argument = click.argument("inventory", type=click.Path(dir_okay=False))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fks-infra")
def main() -> None:
    """Provision and verify hosts of the FKS trading stack."""


def fail(error: ProblemsError, inventory: str = "") -> NoReturn:
    where = f" in {inventory}" if inventory else ""
    click.echo(f"fks-infra: invalid{where}: {error.report()}", err=True)
    sys.exit(INVALID)


def warn(problems: Sequence[Problem], inventory: str) -> None:
    click.echo(f"fks-infra: warning in {inventory}: {report(problems)}", err=True)


def load_plan(inventory: str, missing_secrets_ok: bool = False) -> InventoryPlan:
    """Validate an inventory without contacting a host, or exit 2 listing every problem.

    + missing_secrets_ok: where missing secrets are the only problems, warn of each and
      place the services without them (for output that shows no secret)
    """
    try:
        return plan_for_path(inventory)
    except ProblemsError as error:
        missing = [p for p in error.problems if isinstance(p, MissingSecret)]
        if not missing_secrets_ok or len(missing) < len(error.problems):
            fail(error, inventory)
    warn(missing, inventory)
    click.echo("fks-infra: check and deploys refuse until these secrets are set", err=True)
    # A host that lacks a secret is left unplaced, which also skips the checks across hosts
    # (a unique service placed twice...): with every secret standing in, they run here.
    try:
        return plan_without_secrets(inventory)
    except ProblemsError as error:
        fail(error, inventory)


@main.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "markdown", "json"]),
    default="table",
    show_default=True,
    help="markdown is the text of docs/PORTS.md",
)
def ports(fmt: str) -> None:
    """Print the service catalogue: names, ports, languages, categories."""
    render: dict[str, Callable[..., str]] = {
        "table": ports_table,
        "markdown": ports_markdown,
        "json": ports_json,
    }
    click.echo(render[fmt](CATALOGUE), nl=fmt != "markdown")


@main.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["group-data"]),
    default="group-data",
    show_default=True,
    help="group-data is the text of group_data/all.py",
)
def settings(fmt: str) -> None:
    """Print every host setting's default under its documentation (from the settings model)."""
    from fks_infra.group_data import all_py

    click.echo(all_py(), nl=False)


@main.command()
@inventory_argument
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
def plan(inventory: str, fmt: str) -> None:
    """Show which services run on which host, on which port (validates first).

    Missing secrets are only warnings here, since the placement shows none: a first look
    needs no secrets file. check and deploys still refuse without them.
    """
    result = load_plan(inventory, missing_secrets_ok=True)
    if fmt == "json":
        hosts = [
            {
                "host": host.name,
                "roles": [role.value for role in host.roles],
                "services": [{"name": s.name, "port": s.port} for s in host.services],
            }
            for host in result.hosts
        ]
        click.echo(json.dumps({"hosts": hosts}, indent=2))
        return
    rows = [
        (host.name, "+".join(host.roles), service.name, service.port, service.language.value)
        for host in result.hosts
        for service in host.services
    ]
    click.echo(text_table(("Host", "Roles", "Service", "Port", "Language"), rows))


@main.command()
@inventory_argument
def check(inventory: str) -> None:
    """Validate catalogue, placement, settings and secrets without contacting any host."""
    result = load_plan(inventory)
    services = sum(len(host.services) for host in result.hosts)
    click.echo(
        f"{inventory}: ok ({len(result.hosts)} hosts, {services} service placements, "
        f"{len(result.catalogue)} services in the catalogue)"
    )


@main.group()
def secrets() -> None:
    """Manage the secrets an inventory needs (values never printed)."""


@secrets.command("init")
@inventory_argument
def secrets_init(inventory: str) -> None:
    """Generate random values for missing secrets (labs and demos, not production)."""
    try:
        wanted = secrets_wanted(inventory)
    except ProblemsError as error:
        fail(error, inventory)
    for file, names in wanted.items():
        try:
            added = write_missing(Path(file), names)
        except ProblemsError as error:
            fail(error, inventory)
        yours = [name for name in names if name in NOT_GENERATED and name not in added]
        kept = len(names) - len(added) - len(yours)
        click.echo(f"{file}: {len(added)} added, {kept} already set")
        for name in yours:
            click.echo(f"{file}: {name} is never generated: set it yourself if it is missing")


@main.command("tailscale-policy")
@inventory_argument
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    help="write the policy here (default: standard output)",
)
def tailscale_policy(inventory: str, output: str | None) -> None:
    """Render the tailnet policy (HuJSON) for the hosts of INVENTORY.

    Deny by default: grants open exactly the ports each role must reach, derived from the
    catalogue and the placement; a tests block pins allowed and denied pairs. A policy with
    a wildcard or an unowned tag is refused (exit 2). Secrets are not needed.
    """
    from fks_infra.tailscale import policy as tailnet

    try:
        text = tailnet.render_policy(
            tailnet.build_policy(plan_without_secrets(inventory)), inventory
        )
    except ProblemsError as error:
        fail(error, inventory)
    if output is None:
        click.echo(text, nl=False)
        return
    target = Path(output)
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(target)
    click.echo(f"{output}: tailnet policy written", err=True)


@main.command()
@inventory_argument
@click.option("--limit", default="", help="comma-separated host names (default: all)")
@click.option("--junitxml", type=click.Path(dir_okay=False), help="write a JUnit XML report")
@click.option(
    "--data",
    "data",
    multiple=True,
    metavar="KEY=VALUE",
    help="override a setting as pyinfra's --data does (verify what such a deploy made)",
)
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def verify(
    inventory: str,
    limit: str,
    junitxml: str | None,
    data: tuple[str, ...],
    pytest_args: tuple[str, ...],
) -> None:
    """Check live hosts against the plan with testinfra (ids: host/service/check).

    Extra arguments after -- go to pytest (e.g. -- -k health -x).
    """
    import pytest

    from fks_infra.inventory import parse_data_option, plan_for_path

    try:  # invalid input exits 2 here, before any connection
        plan_for_path(inventory, override_data=parse_data_option(data))
    except ProblemsError as error:
        fail(error, inventory)
    args = [
        str(package_path("checks")),
        "--fks-inventory",
        inventory,
        "-p",
        "no:cacheprovider",
        "-q",
    ]
    args += [f"--fks-data={item}" for item in data]
    # pytest runs in this process, where fks-infra already imported what plugins would rewrite.
    args += ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    if limit:
        args += ["--fks-limit", limit]
    if junitxml:
        args += ["--junitxml", junitxml]
    sys.exit(pytest.main([*args, *pytest_args]))


@main.command()
@inventory_argument
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def status(inventory: str, as_json: bool) -> None:
    """Live table of host × service: unit, release, port, /health code and latency.

    Exits 1 when anything planned is not healthy.
    """
    from fks_infra import status as live
    from fks_infra.inventory import load_inventory, plan_for_inventory

    try:
        loaded = load_inventory(inventory)
        result = plan_for_inventory(loaded, inventory)
    except ProblemsError as error:
        fail(error, inventory)
    rows = live.collect(result, live.connection_runner({h.name: h.data.dict() for h in loaded}))
    if as_json:
        click.echo(live.as_json(rows))
    else:
        lines = text_table(live.HEADER, live.table_rows(rows)).splitlines()
        click.echo("\n".join(lines[:2]))
        for row, line in zip(rows, lines[2:], strict=True):
            # click.style's colour is dropped when stdout is not a terminal
            click.secho(line, fg=None if row.healthy else "red")
        bad = [r for r in rows if not r.healthy]
        click.echo(f"{len(rows) - len(bad)}/{len(rows)} services healthy")
        for detail in dict.fromkeys(r.detail for r in rows if r.detail):
            click.echo(f"error: {detail}", err=True)
    sys.exit(0 if all(r.healthy for r in rows) else 1)


main.add_command(lab)
