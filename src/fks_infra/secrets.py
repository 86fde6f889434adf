"""Secrets: named in the inventory, read from the environment or a private file.

A secret ``NAME`` is taken from the environment variable ``FKS_SECRET_NAME`` if set,
otherwise from the TOML file the host's ``fks_secrets_file`` names (top-level string keys).
Values are wrapped in ``SecretStr`` at once so they cannot leak through ``repr`` or logs;
errors name the secret and where it was looked for, never a value.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path

from pydantic import SecretStr

from fks_infra.errors import Problem

ENV_PREFIX = "FKS_SECRET_"


def env_name(secret: str) -> str:
    return f"{ENV_PREFIX}{secret}"


class SecretStore:
    """Looks secrets up; files are read once and checked to be private."""

    def __init__(self, base_dir: Path, environ: Mapping[str, str] | None = None) -> None:
        self._base_dir = base_dir
        self._environ = os.environ if environ is None else environ
        self._files: dict[Path, tuple[dict[str, SecretStr], list[Problem]]] = {}

    def lookup(self, name: str, secrets_file: str) -> tuple[SecretStr | None, list[Problem]]:
        """Return the secret's value (or None) and any problem with its file."""
        if env_name(name) in self._environ:
            return SecretStr(self._environ[env_name(name)]), []
        values, problems = self._read(self._base_dir / secrets_file)
        return values.get(name), problems

    def _read(self, path: Path) -> tuple[dict[str, SecretStr], list[Problem]]:
        if path not in self._files:
            self._files[path] = _read_file(path)
        return self._files[path]


def _read_file(path: Path) -> tuple[dict[str, SecretStr], list[Problem]]:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return {}, []
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return {}, [
            Problem(
                f"secrets file is readable by others (mode {stat.S_IMODE(mode):04o}); "
                f"run: chmod 600 {path}",
                str(path),
            )
        ]
    try:
        parsed = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        # The decoder's message names line and column, never the value.
        return {}, [Problem(f"not valid TOML: {error}", str(path))]
    values: dict[str, SecretStr] = {}
    problems: list[Problem] = []
    for key, value in parsed.items():
        if isinstance(value, str):
            values[key] = SecretStr(value)
        else:
            problems.append(
                Problem(f"secret must be a string, not {type(value).__name__}", str(path), key=key)
            )
    return values, problems


def write_missing(
    path: Path, names: list[str], environ: Mapping[str, str] | None = None
) -> list[str]:
    """Add a random value for each named secret the file (or environment) lacks.

    For labs and demos: production secrets are real credentials an operator fills in.
    Existing values are kept; the file is written atomically with mode 0600. Returns the
    names that were added.
    """
    import secrets as random_source

    environ = os.environ if environ is None else environ
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    present = tomllib.loads(existing) if existing else {}
    added = [n for n in names if n not in present and env_name(n) not in environ]
    if not added:
        return []
    lines = [f'{name} = "{random_source.token_urlsafe(32)}"\n' for name in added]
    text = existing + ("" if not existing or existing.endswith("\n") else "\n") + "".join(lines)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)
    return added
