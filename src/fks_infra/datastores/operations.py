"""The FKS role and database in PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import hmac
import shlex
from collections.abc import Generator, Mapping, Sequence

from pydantic import SecretStr
from pyinfra.api.command import StringCommand

from fks_infra.datastores.config import scram_verifier, setup_sql
from fks_infra.datastores.facts import PostgresDatabase
from fks_infra.operations.factcache import fact, host_operation
from fks_infra.operations.files import upload_commands
from fks_infra.paths import STATE_DIR

#: The setup script of the FKS role and database, for the length of one psql run (root-only).
POSTGRES_SETUP_FILE = f"{STATE_DIR}/postgres-setup.sql"


@host_operation
def postgres_database(
    user: str, database: str, password: SecretStr, extensions: Sequence[str] = ()
) -> Generator[object, None, None]:
    """Create the FKS role and database if missing, set the password, create extensions.

    + user: login role of the services, owner of ``database``
    + database: the database
    + password: the role's password; only its SCRAM verifier reaches the host
    + extensions: extensions to create in ``database`` (their packages installed already)

    Nothing happens when the role's stored verifier is that of ``password``, the database
    is owned by ``user`` and has every extension. Otherwise the setup script (safe to run
    again) travels like a ``private_file`` into a root-only file, is fed to ``psql`` on
    stdin by root's shell (never in argv; psql runs as postgres) and is removed whatever
    psql returns.
    """
    state = fact(PostgresDatabase, user=user, database=database)
    secret = password.get_secret_value()
    present = state["extensions"]
    assert isinstance(present, list)
    if (
        verifier_is_of(state["verifier"], secret)
        and state["owner"] == user
        and all(name in present for name in extensions)
    ):
        return
    script = setup_sql(user, database, scram_verifier(secret), tuple(extensions))
    yield from upload_commands(script.encode(), POSTGRES_SETUP_FILE, "600", "root", "root")
    yield StringCommand(
        "trap",
        shlex.quote(f"rm -f {POSTGRES_SETUP_FILE}"),
        "EXIT;",
        "runuser -u postgres -- psql -XAtq -v ON_ERROR_STOP=1 -f - <",
        POSTGRES_SETUP_FILE,
    )


def verifier_is_of(verifier: object, password: str) -> bool:
    """Whether the stored verifier ``PostgresDatabase`` describes (``{"scheme", "sha256"}``)
    is the SCRAM-SHA-256 verifier of ``password``: the verifier recomputed with the stored
    iterations and salt hashes to the stored digest. False for None, another method, or
    anything malformed."""
    if not isinstance(verifier, Mapping):
        return False
    method, _, parameters = str(verifier.get("scheme", "")).partition("$")
    iterations, _, salt = parameters.partition(":")
    if method != "SCRAM-SHA-256" or not iterations.isdigit():
        return False
    try:
        expected = scram_verifier(password, base64.b64decode(salt, validate=True), int(iterations))
    except ValueError:
        return False
    digest = hashlib.sha256(expected.encode()).hexdigest()
    return hmac.compare_digest(digest, str(verifier.get("sha256", "")))
