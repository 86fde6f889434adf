"""What PostgreSQL holds of the FKS role and database."""

from __future__ import annotations

from pyinfra.api.facts import FactBase


class PostgresDatabase(FactBase[dict[str, object]]):
    """What PostgreSQL holds of the FKS role and database, read with ``psql`` as postgres.

    .. code:: python

        {
            "verifier": {"scheme": "SCRAM-SHA-256$4096:<salt, base64>", "sha256": "<64 hex>"},
            "owner": "fks",
            "extensions": ["vector"],
        }

    ``verifier`` describes the role's stored password verifier without its keys (None
    without the role or without a password): ``scheme`` is its part before the second
    ``$`` (method, iterations, salt: what PostgreSQL tells any client at login), ``sha256``
    the hex SHA-256 of the whole stored text. The StoredKey and ServerKey never leave the
    host (``-vvv`` prints every fact's output): with them and one observed login, anyone
    could log in as the role or pose as the server. Guessing the password from the digest
    costs the same PBKDF2 rounds as from the verifier. The operation recomputes the
    verifier from the password, iterations and salt, and compares digests. ``owner`` is
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
            # chr(36) is '$' (which the shell's double quotes would expand).
            "-c \"SELECT 'verifier ' || coalesce((SELECT split_part(rolpassword, chr(36), 1) "
            "|| chr(36) || split_part(rolpassword, chr(36), 2) || ' ' "
            "|| encode(sha256(convert_to(rolpassword, 'UTF8')), 'hex') FROM pg_authid "
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
            if key == "verifier":
                scheme, _, digest = value.partition(" ")
                found[key] = {"scheme": scheme, "sha256": digest} if digest else None
            elif key == "owner":
                found[key] = value or None
            elif key == "extensions":
                found[key] = [name for name in value.split(",") if name]
        return found
