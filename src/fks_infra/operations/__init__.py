"""fks-infra's generic pyinfra operations and their facts: writers, packages, units, the host.

Each compares facts with what is wanted and yields commands; a converged host costs no
command. Component-specific operations live in their component's package.
"""
