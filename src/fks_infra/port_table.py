"""Views of the catalogue: the port table as text, Markdown (docs/PORTS.md) and JSON."""

from __future__ import annotations

import json

from fks_infra.catalogue import Catalogue, Category, describe_range
from fks_infra.tables import markdown_table, text_table

_HEADER = ("Port", "Service", "Type", "Description")


def _rows(catalogue: Catalogue) -> list[tuple[object, ...]]:
    return [(s.port, s.name, s.language.value.capitalize(), s.description) for s in catalogue]


def ports_table(catalogue: Catalogue) -> str:
    header = (*_HEADER[:3], "Category", "Role", "Unit")
    rows = [
        (s.port, s.name, s.language.value, s.category.value, s.role.value, s.unit)
        for s in catalogue
    ]
    return text_table(header, rows)


def ports_json(catalogue: Catalogue) -> str:
    services = [
        {
            **service.model_dump(mode="json"),
            "role": service.role.value,
            "unit": service.unit,
            "env_file": service.env_file,
            "upstream": service.upstream,
            "repo_name": service.repo_name,
        }
        for service in catalogue
    ]
    return json.dumps({"services": services}, indent=2)


def ports_markdown(catalogue: Catalogue) -> str:
    """The port layout document; ``docs/PORTS.md`` is exactly this text."""
    categories = [
        (
            category.value,
            category.role.value,
            describe_range(category.port_range),
            ", ".join(s.name for s in catalogue if s.category is category),
        )
        for category in Category
    ]
    derived = [(s.name, s.unit, s.env_file, s.upstream, s.repo_name) for s in catalogue]
    return "\n".join(
        [
            "# FKS Service Port Layout",
            "",
            "Generated from the fks-infra service catalogue by "
            "`fks-infra ports --format markdown`; do not edit by hand.",
            "",
            "## Port Assignment Summary",
            "",
            markdown_table(_HEADER, _rows(catalogue)),
            "",
            "## Service Categories",
            "",
            markdown_table(("Category", "Role", "Ports", "Services"), categories),
            "",
            "All services answer `GET /health` with HTTP 200 when healthy.",
            "",
            "## Derived Names",
            "",
            markdown_table(("Service", "Unit", "Env file", "Upstream", "Repository"), derived),
            "",
        ]
    )
