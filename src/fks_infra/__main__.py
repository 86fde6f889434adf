"""``python -m fks_infra``: the same command line as ``fks-infra``."""

from fks_infra.cli import main

main()
