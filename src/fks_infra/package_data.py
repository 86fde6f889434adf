"""Files shipped inside the fks_infra package: templates, files for hosts, demo sources.

Found through ``importlib.resources``, so a checkout, an editable install and a wheel
installed anywhere all work. Folders: ``templates/`` (Jinja, paths mirroring the target on
a host), ``files/`` (shipped as they are, paths mirroring the target), ``demo/`` (the demo
stand-in services), ``checks/`` (the live checks ``fks-infra verify`` runs).
"""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path


def package_path(*parts: str) -> Path:
    """The real path of ``fks_infra/<parts...>``, e.g. ``package_path("files", "etc")``.

    Raises ``FileNotFoundError`` when the package was installed in a form without real
    files (a zip), which fks-infra does not support.
    """
    resource = files("fks_infra").joinpath(*parts)
    with as_file(resource) as path:
        if not path.exists():
            raise FileNotFoundError(f"fks_infra/{'/'.join(parts)} is missing from the package")
        return Path(path)


def host_file(target: str) -> Path:
    """The file shipped as-is to ``target`` on a host: ``files/<target>`` of the package."""
    return package_path("files", target.lstrip("/"))
