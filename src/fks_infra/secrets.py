"""Secrets: named in the inventory, read from the environment or a private file.

A secret ``NAME`` is taken from the environment variable ``FKS_SECRET_NAME`` if set,
otherwise from the TOML file the host's ``fks_secrets_file`` names (top-level string keys).
Values are wrapped in ``SecretStr`` at once so they cannot leak through ``repr`` or logs;
errors name the secret and where it was looked for, never a value.

The file must be a regular file (not a symlink: it is opened with ``O_NOFOLLOW``) owned by
the user running fks-infra, with no group or other permissions, in a directory that neither
group nor others can write to (they could swap the file); these are checked on the opened
descriptor, so the file checked is the file read.

Values a server would read differently from what fks-infra writes are refused, naming the
secret and never showing the value (``value_problems``): a PostgreSQL password that SASLprep
(RFC 4013, applied by PostgreSQL's SCRAM) would change, a Redis password with non-ASCII
characters that are not printable, an Alertmanager webhook that is not a plain http(s) URL,
a NUL anywhere.
"""

from __future__ import annotations

import os
import stat
import stringprep
import tempfile
import tomllib
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import SecretStr

from fks_infra.errors import Problem, ProblemsError

ENV_PREFIX = "FKS_SECRET_"

#: The secrets whose values are checked against what their server reads (names as in plan.py
#: and monitoring; kept here so secrets.py imports nothing of the plan).
POSTGRES_PASSWORD = "POSTGRES_PASSWORD"
REDIS_PASSWORD = "REDIS_PASSWORD"
ALERTMANAGER_WEBHOOK_URL = "ALERTMANAGER_WEBHOOK_URL"
#: Secrets ``secrets init`` never makes up: an operator's endpoint, not a random token.
NOT_GENERATED = frozenset({ALERTMANAGER_WEBHOOK_URL})


#: Credentials of fks-infra's own servers that their clients read from the environment.
CLIENT_CREDENTIALS = ("PGPASSWORD", "REDISCLI_AUTH", "TS_AUTHKEY", "TS_AUTH_KEY")


def env_name(secret: str) -> str:
    return f"{ENV_PREFIX}{secret}"


def without_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without any variable that holds an fks-infra secret, for the programs a
    release build runs (pip, cargo, build scripts: code of the services' dependencies).

    Dropped: every ``FKS_SECRET_*``, every name a service reads a secret as (the catalogue's
    ``secrets``: ``AUTH_SECRET``, ``MT5_PASSWORD``...), and ``CLIENT_CREDENTIALS``. Kept:
    everything else, including pip's and cargo's own configuration (index URLs, tokens of
    package registries), which the build needs.
    """
    from fks_infra.catalogue import CATALOGUE  # plain Python; imported late, once per build

    service_secrets = {name for service in CATALOGUE for name in service.secrets}
    return {
        name: value
        for name, value in environ.items()
        if not name.startswith(ENV_PREFIX)
        and name not in service_secrets
        and name not in CLIENT_CREDENTIALS
    }


class SecretStore:
    """Looks secrets up; files are read once and checked to be private."""

    def __init__(self, base_dir: Path, environ: Mapping[str, str] | None = None) -> None:
        self._base_dir = base_dir
        self._environ = os.environ if environ is None else environ
        self._files: dict[Path, tuple[dict[str, SecretStr], list[Problem]]] = {}

    def lookup(self, name: str, secrets_file: str) -> tuple[SecretStr | None, list[Problem]]:
        """Return the secret's value (or None) and any problem with its file or its value
        (``value_problems``; the value is returned with those, so it is not also missing)."""
        if env_name(name) in self._environ:
            value: SecretStr | None = SecretStr(self._environ[env_name(name)])
            where, problems = env_name(name), list[Problem]()
        else:
            values, problems = self._read(self._base_dir / secrets_file)
            value, where = values.get(name), str(self._base_dir / secrets_file)
        if value is None:
            return None, problems
        # The value comes back with its problems (not as missing): the problem says why.
        refused = value_problems(name, value.get_secret_value())
        return value, [*problems, *(Problem(why, where, key=name) for why in refused)]

    def _read(self, path: Path) -> tuple[dict[str, SecretStr], list[Problem]]:
        if path not in self._files:
            self._files[path] = _read_file(path)
        return self._files[path]


def _read_file(path: Path) -> tuple[dict[str, SecretStr], list[Problem]]:
    text, problems = read_private(path)
    if text is None:
        return {}, problems
    try:
        parsed = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        # The decoder's message names line and column, never the value.
        return {}, [Problem(f"not valid TOML: {error}", str(path))]
    values: dict[str, SecretStr] = {}
    for key, value in parsed.items():
        if isinstance(value, str):
            values[key] = SecretStr(value)
        else:
            problems.append(
                Problem(f"secret must be a string, not {type(value).__name__}", str(path), key=key)
            )
    return values, problems


def read_private(path: Path) -> tuple[str | None, list[Problem]]:
    """The text of a private file, or None and why it may not be used ([] when it is absent).

    Opened without following a symlink (``O_NOFOLLOW``; ``O_NONBLOCK`` so a FIFO cannot make
    the open wait); the open descriptor must be a regular file owned by the user running
    fks-infra with no group or other permissions, and the directory holding it (opened the
    same way) owned by that user or root and writable by nobody else.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        return None, []
    except OSError as error:
        why = "a symlink" if os.path.islink(path) else (error.strerror or str(error))
        return None, [Problem(f"secrets file cannot be used: {why}; use a plain file", str(path))]
    with os.fdopen(descriptor, "rb") as handle:
        problem = _private_problem(os.fstat(descriptor), path) or _directory_problem(path)
        if problem is not None:
            return None, [Problem(problem, str(path))]
        try:
            return handle.read().decode("utf-8"), []
        except UnicodeDecodeError as error:
            return None, [Problem(f"not UTF-8 (byte {error.start})", str(path))]


def _private_problem(info: os.stat_result, path: Path) -> str | None:
    if not stat.S_ISREG(info.st_mode):
        return "secrets file is not a regular file"
    if info.st_uid != os.geteuid():
        return (
            f"secrets file is owned by uid {info.st_uid}, not by the user running fks-infra "
            f"(uid {os.geteuid()}); run: chown {os.geteuid()} {path}"
        )
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        return (
            f"secrets file is readable by others (mode {stat.S_IMODE(info.st_mode):04o}); "
            f"run: chmod 600 {path}"
        )
    return None


def _directory_problem(path: Path) -> str | None:
    """Why the directory of ``path`` lets someone else replace the file (None: it does not)."""
    try:
        directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as error:
        return f"cannot open its directory: {error.strerror}"
    try:
        info = os.fstat(directory)
    finally:
        os.close(directory)
    if info.st_uid not in (os.geteuid(), 0):
        return f"its directory {path.parent} is owned by uid {info.st_uid}, who could replace it"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return (
            f"its directory {path.parent} is writable by others (mode "
            f"{stat.S_IMODE(info.st_mode):04o}), who could replace it; run: chmod go-w "
            f"{path.parent}"
        )
    return None


def saslprep(value: str) -> str | None:
    """``value`` after SASLprep (RFC 4013) as PostgreSQL applies it to SCRAM passwords
    (src/common/saslprep.c), or None where SASLprep fails and PostgreSQL uses the raw bytes.

    ASCII is returned as is (PostgreSQL's quick path); otherwise: non-ASCII spaces (C.1.2)
    become spaces, characters commonly mapped to nothing (B.1) go, NFKC; then prohibited
    output (C.1.2, C.2.x, C.3-C.9), unassigned code points (A.1) or a bidi violation fail.
    """
    if value.isascii():
        return value
    mapped = "".join(
        " " if stringprep.in_table_c12(c) else c for c in value if not stringprep.in_table_b1(c)
    )
    prepared = unicodedata.normalize("NFKC", mapped)
    prohibited: tuple[Callable[[str], bool], ...] = (
        stringprep.in_table_c12,
        stringprep.in_table_c21_c22,
        stringprep.in_table_c3,
        stringprep.in_table_c4,
        stringprep.in_table_c5,
        stringprep.in_table_c6,
        stringprep.in_table_c7,
        stringprep.in_table_c8,
        stringprep.in_table_c9,
        stringprep.in_table_a1,
    )
    if any(check(c) for c in prepared for check in prohibited):
        return None
    if any(stringprep.in_table_d1(c) for c in prepared) and (
        any(stringprep.in_table_d2(c) for c in prepared)
        or not (stringprep.in_table_d1(prepared[0]) and stringprep.in_table_d1(prepared[-1]))
    ):
        return None
    return prepared


def value_problems(name: str, value: str) -> list[str]:
    """Why ``value`` cannot be the secret ``name`` (messages never show the value).

    + POSTGRES_PASSWORD: refused where SASLprep would change it (a non-breaking space, a
      ligature, a decomposed accent): PostgreSQL would log in with the prepared form, while
      fks-infra stores the verifier of the raw one. A value SASLprep refuses is kept, as
      PostgreSQL and libpq then use the raw bytes too.
    + REDIS_PASSWORD: no non-ASCII character that is not printable (``str.isprintable``:
      control, format, line/paragraph separators such as U+0085, U+2028): redis.conf's
      writer escapes those as one ``\\xNN``, which Redis reads as other bytes. ASCII
      controls (a newline) are escaped exactly and kept.
    + any secret: no NUL character, which no environment variable or env file carries.
    + ALERTMANAGER_WEBHOOK_URL: an http(s) URL with a host, no whitespace, control
      characters, quotes or backslashes.
    """
    if "\0" in value:
        return ["holds a NUL character, which no environment variable or env file carries"]
    if name == POSTGRES_PASSWORD:
        prepared = saslprep(value)
        if prepared is not None and prepared != value:
            return [
                "PostgreSQL would change this password by SASLprep (RFC 4013: non-ASCII "
                "spaces, ligatures, decomposed accents, invisible characters), so logins with "
                "it would fail; use its normalised form or plain ASCII"
            ]
    elif name == REDIS_PASSWORD:
        if any(not c.isascii() and not c.isprintable() for c in value):
            return [
                "Redis password holds non-ASCII characters that are not printable (such as "
                "U+0085 or U+2028), which redis.conf would not carry exactly; use printable "
                "characters"
            ]
    elif name == ALERTMANAGER_WEBHOOK_URL:
        return _webhook_problems(value)
    return []


def _webhook_problems(value: str) -> list[str]:
    refused = "must be an http:// or https:// URL with a host"
    if not value.isprintable() or any(c.isspace() or c in "\"'<>`" for c in value):
        return [f"{refused}, without whitespace, control characters, quotes or backslashes"]
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        return [refused]
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [refused]
    return []


def write_missing(
    path: Path, names: list[str], environ: Mapping[str, str] | None = None
) -> list[str]:
    """Add a random value for each named secret the file (or environment) lacks.

    For labs and demos: production secrets are real credentials an operator fills in.
    Names in ``NOT_GENERATED`` (an operator's endpoint) are never made up. Existing values
    are kept; the new file is written to a fresh temporary (``O_EXCL``, mode 0600, beside
    the file) and renamed over it, so no stale or foreign file is ever written through.
    Returns the names that were added.

    Raises ``ProblemsError`` where the existing file may not be used (``read_private``).
    """
    import secrets as random_source

    environ = os.environ if environ is None else environ
    text_read, problems = read_private(path)
    if problems:
        raise ProblemsError(problems)
    existing = text_read or ""
    present = tomllib.loads(existing) if existing else {}
    added = [
        n
        for n in names
        if n not in present and env_name(n) not in environ and n not in NOT_GENERATED
    ]
    if not added:
        return []
    lines = [f'{name} = "{random_source.token_urlsafe(32)}"\n' for name in added]
    text = existing + ("" if not existing or existing.endswith("\n") else "\n") + "".join(lines)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkstemp: O_CREAT | O_EXCL, mode 0600, a random name: never a file someone left there.
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    return added
