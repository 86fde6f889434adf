"""The ``fks-infra`` command line."""

from __future__ import annotations

import click


@click.group()
@click.version_option(package_name="fks-infra")
def main() -> None:
    """Provision and verify hosts of the FKS trading stack."""
