"""What PostgreSQL holds of the FKS role and database."""

from __future__ import annotations

from pyinfra.api.facts import FactBase


class PostgresDatabase(FactBase[dict[str, object]]):
    """What PostgreSQL holds of the FKS role and database, read with ``psql`` as postgres.

    .. code:: python

        {"verifier": "SCRAM-SHA-256$4096:...", "owner": "fks", "extensions": ["vector"]}

    ``verifier`` is the role's stored password verifier (None without the role), ``owner``
    the database's owner (None without the database). Before PostgreSQL is installed or
    while it is down, everything reads as missing. Role and database names come from
    validated settings (``^[a-z_][a-z0-9_]*$``), so they are safe inside the quotes.
    """

    def command(self, user: str, database: str) -> str:
        # One psql, its commands in order: the role and the owner from the maintenance
        # database, then the extensions from the FKS database. Where that database is
        # missing, psql stops at the failed ``\c`` and the extensions line is left out.
        return (
            "if command -v psql >/dev/null 2>&1; then runuser -u postgres -- psql -XAtq "
            "-c \"SELECT 'verifier ' || coalesce((SELECT rolpassword FROM pg_authid "
            f"WHERE rolname = '{user}'), '')\" "
            "-c \"SELECT 'owner ' || coalesce((SELECT pg_get_userbyid(datdba) FROM pg_database "
            f"WHERE datname = '{database}'), '')\" "
            f"-c '\\c {database}' "
            "-c \"SELECT 'extensions ' || coalesce(string_agg(extname, ','), '') "
            'FROM pg_extension" '
            "2>/dev/null; fi; true"
        )

    def process(self, output: list[str]) -> dict[str, object]:
        found: dict[str, object] = {"verifier": None, "owner": None, "extensions": []}
        for line in output:
            key, _, value = line.partition(" ")
            value = value.strip()
            if key in ("verifier", "owner"):
                found[key] = value or None
            elif key == "extensions":
                found[key] = [name for name in value.split(",") if name]
        return found
