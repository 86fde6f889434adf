"""The one place fks-infra renders Jinja templates.

Templates live in the package's ``templates/`` folder (``fks_infra/templates``), their paths
mirroring the target path on a host (``templates/etc/systemd/system/fks-service.service.j2``).
They are rendered with the Jinja settings pyinfra's ``files.template`` uses (``pyinfra.api.util.
get_template``): ``StrictUndefined`` so a missing or misspelt value is an error instead of an
empty string, ``keep_trailing_newline`` so a rendered file ends the way its template does, and
otherwise Jinja's defaults (no autoescaping, no block trimming). A template rendered here is
byte for byte what ``files.template`` would write from the same context.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from fks_infra.package_data import package_path


@cache
def environment() -> Environment:
    """The Jinja environment every fks-infra template is rendered with."""
    return Environment(
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        loader=FileSystemLoader(package_path("templates")),
    )


def template_path(name: str) -> Path:
    """The file of a template, e.g. ``template_path("etc/systemd/system/fks-service.service.j2")``.

    + name: the template's path relative to ``templates/``
    """
    path = package_path("templates", name)
    if not path.is_file():
        raise FileNotFoundError(f"no template {name!r} in fks_infra/templates")
    return path


def render(name: str, context: Mapping[str, object]) -> str:
    """Render one template with a complete context; a missing value raises ``UndefinedError``.

    + name: the template's path relative to ``templates/``
    + context: every value the template reads
    """
    return environment().get_template(name).render(context)
