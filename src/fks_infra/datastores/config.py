"""PostgreSQL and Redis on the datastore host, and what the FKS services are told of them.

The datastore host is the one host with ``Role.DATASTORE`` (see ``plan``). PostgreSQL and
Redis listen on localhost and that host's private address only; ``pg_hba.conf`` lets in the
FKS role from exactly the inventory hosts whose services read PostgreSQL (scram-sha-256):
the sources of ``access.py``'s rules to PostgreSQL.
Services that declare ``needs_postgres`` / ``needs_redis`` in the catalogue get the
connection settings in their env file. No pyinfra import.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from urllib.parse import quote

from fks_infra.access import POSTGRESQL_NAME, access_to
from fks_infra.addresses import url_host
from fks_infra.catalogue import Service
from fks_infra.plan import POSTGRES_PASSWORD, REDIS_PASSWORD, HostPlan, InventoryPlan
from fks_infra.ports import POSTGRES, REDIS
from fks_infra.templating import render

POSTGRES_UNIT = "postgresql.service"
REDIS_UNIT = "redis-server.service"
REDIS_CONF = "/etc/redis/redis.conf"
#: Redis database numbers of the original stack: 0 is Celery's broker, 1 the cache.
BROKER_DB, CACHE_DB = 0, 1
#: Commands redis.conf disables (``rename-command NAME ""``): no FKS service, Celery or
#: fks-infra sends them, and each lets a client holding the password change the server
#: itself (Lynis DBS-1886 asks for CONFIG).
REDIS_DISABLED_COMMANDS = ("CONFIG", "REPLICAOF", "SLAVEOF", "DEBUG", "MODULE")
#: apt package of each extension ``fks_postgres_extensions`` may name, for a major version
#: (PGDG's apt.postgresql.org and Timescale's repository have them; Debian 13 has pgvector).
EXTENSION_PACKAGES: Mapping[str, str] = {
    "vector": "postgresql-{version}-pgvector",
    "timescaledb": "timescaledb-2-postgresql-{version}",
}


@dataclass(frozen=True)
class PostgresCluster:
    """The ``main`` cluster Debian and Ubuntu create with the server package of one major
    version (the release's: ``Distro.postgres``), and where its files are.

    + version: PostgreSQL's major version, e.g. ``"17"``
    """

    version: str

    @property
    def unit(self) -> str:
        """The cluster's own unit; ``postgresql.service`` only wraps it."""
        return f"postgresql@{self.version}-main.service"

    @property
    def conf_dir(self) -> str:
        return f"/etc/postgresql/{self.version}/main"

    @property
    def conf(self) -> str:
        """Read through the packages' ``include_dir = 'conf.d'``; changes need a restart."""
        return f"{self.conf_dir}/conf.d/fks-infra.conf"

    @property
    def hba(self) -> str:
        return f"{self.conf_dir}/pg_hba.conf"

    @property
    def bin_dir(self) -> str:
        """The server's programs (``initdb``, ``pg_ctl``), for the candidate check."""
        return f"/usr/lib/postgresql/{self.version}/bin"

    def packages(self, extensions: tuple[str, ...] = ()) -> tuple[str, ...]:
        """The server, the client and each extension's package."""
        return (
            f"postgresql-{self.version}",
            "postgresql-client",
            *(EXTENSION_PACKAGES[name].format(version=self.version) for name in extensions),
        )


_SCRAM_ITERATIONS = 4096


def client_host(plan: HostPlan, inventory: InventoryPlan) -> str:
    """Where services on ``plan`` reach the datastores: localhost on the datastore host."""
    store = inventory.datastore
    return "127.0.0.1" if store.name == plan.name else store.address


def datastore_env(service: Service, plan: HostPlan, inventory: InventoryPlan) -> dict[str, str]:
    """The env file variables of ``service`` on ``plan`` that point it at the datastores.

    Empty for a service that declares neither ``needs_postgres`` nor ``needs_redis``.
    """
    host = client_host(plan, inventory)
    settings = inventory.datastore.settings
    env: dict[str, str] = {}
    if service.needs_postgres:
        password = plan.secrets[POSTGRES_PASSWORD].get_secret_value()
        user, database = settings.fks_postgres_user, settings.fks_postgres_database
        env |= {
            "POSTGRES_HOST": host,
            "POSTGRES_PORT": str(POSTGRES),
            "POSTGRES_DB": database,
            "POSTGRES_USER": user,
            "POSTGRES_PASSWORD": password,
            "DATABASE_URL": f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}"
            f"@{url_host(host)}:{POSTGRES}/{database}",
        }
    if service.needs_redis:
        password = plan.secrets[REDIS_PASSWORD].get_secret_value()
        base = f"redis://:{quote(password, safe='')}@{url_host(host)}:{REDIS}"
        env |= {
            "REDIS_HOST": host,
            "REDIS_PORT": str(REDIS),
            "REDIS_PASSWORD": password,
            "REDIS_URL": f"{base}/{CACHE_DB}",
            "CELERY_BROKER_URL": f"{base}/{BROKER_DB}",
        }
    return env


def datastore_units(plan: HostPlan, inventory: InventoryPlan, service: Service) -> tuple[str, ...]:
    """Units ``service`` starts after on ``plan``: the datastores it reads, if on this host."""
    if inventory.datastore.name != plan.name:
        return ()
    return (
        *((POSTGRES_UNIT,) if service.needs_postgres else ()),
        *((REDIS_UNIT,) if service.needs_redis else ()),
    )


def listen_addresses(plan: HostPlan) -> tuple[str, ...]:
    """Localhost and the host's private address, nothing else."""
    return tuple(dict.fromkeys(("127.0.0.1", plan.address)))


def postgres_clients(inventory: InventoryPlan) -> tuple[str, ...]:
    """Addresses of the sources of the access rules to PostgreSQL, in address order.

    These are the inventory hosts running a service that reads PostgreSQL (``access.py``),
    the datastore host itself among them when it runs one.
    """
    rules = access_to(inventory, inventory.datastore)
    sources = {rule.source for rule in rules if rule.what == POSTGRESQL_NAME}
    addresses = {plan.address for plan in inventory.hosts if plan.name in sources}
    return tuple(sorted(addresses, key=ipaddress.ip_address))


def _network(address: str) -> str:
    return str(ipaddress.ip_network(address))


@dataclass(frozen=True)
class PostgresContext:
    listen_addresses: str
    port: int
    database: str
    user: str
    clients: tuple[str, ...]
    preload: tuple[str, ...]

    def template_vars(self) -> dict[str, object]:
        return asdict(self)


def postgres_context(plan: HostPlan, inventory: InventoryPlan) -> PostgresContext:
    settings = plan.settings
    return PostgresContext(
        listen_addresses=",".join(listen_addresses(plan)),
        port=POSTGRES,
        database=settings.fks_postgres_database,
        user=settings.fks_postgres_user,
        clients=tuple(_network(a) for a in postgres_clients(inventory)),
        # TimescaleDB refuses to load unless preloaded.
        preload=tuple(e for e in settings.fks_postgres_extensions if e == "timescaledb"),
    )


def render_postgres(
    plan: HostPlan, inventory: InventoryPlan, cluster: PostgresCluster
) -> dict[str, str]:
    """{live path: text} of the cluster's server settings and of its ``pg_hba.conf``."""
    variables = postgres_context(plan, inventory).template_vars()
    return {
        cluster.conf: render("etc/postgresql/VERSION/main/conf.d/fks-infra.conf.j2", variables),
        cluster.hba: render("etc/postgresql/VERSION/main/pg_hba.conf.j2", variables),
    }


def render_redis(plan: HostPlan) -> str:
    """The text of ``/etc/redis/redis.conf`` (it holds the password: root:redis 640)."""
    password = plan.secrets[REDIS_PASSWORD].get_secret_value()
    return render(
        "etc/redis/redis.conf.j2",
        {
            "bind": " ".join(listen_addresses(plan)),
            "port": REDIS,
            "password": _redis_quote(password),
            "maxmemory": plan.settings.fks_redis_maxmemory,
            "disabled_commands": REDIS_DISABLED_COMMANDS,
        },
    )


def _redis_quote(value: str) -> str:
    """A redis.conf string argument: double-quoted with backslash escapes."""
    escaped = "".join(f"\\x{ord(c):02x}" if not c.isprintable() or c in '"\\' else c for c in value)
    return f'"{escaped}"'


def scram_verifier(
    password: str, salt: bytes | None = None, iterations: int = _SCRAM_ITERATIONS
) -> str:
    """PostgreSQL's SCRAM-SHA-256 verifier of ``password``, as ``pg_authid`` stores it.

    ``ALTER ROLE ... PASSWORD '<verifier>'`` sets the password without the host ever seeing
    it in clear (PostgreSQL takes a verifier as is). ASCII passwords only: PostgreSQL
    SASLpreps others first, which is not repeated here.
    """
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    b64 = base64.b64encode
    return (
        f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}"
        f"${b64(stored_key).decode()}:{b64(server_key).decode()}"
    )


def verifier_matches(verifier: str | None, password: str) -> bool:
    """Whether a stored SCRAM verifier is that of ``password`` (False for anything else)."""
    if not verifier or not verifier.startswith("SCRAM-SHA-256$"):
        return False
    try:
        iterations, salt = verifier.split("$")[1].split(":")
        expected = scram_verifier(password, base64.b64decode(salt, validate=True), int(iterations))
    except (ValueError, IndexError):
        return False
    return hmac.compare_digest(expected.encode(), verifier.encode())


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sql_name(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def setup_sql(user: str, database: str, verifier: str, extensions: tuple[str, ...]) -> str:
    """psql script creating the role and database if missing, setting the password verifier,
    and creating the extensions; safe to run again."""
    role, db = _sql_name(user), _sql_name(database)
    lines = [
        "\\set ON_ERROR_STOP on",
        f"SELECT 'CREATE ROLE {role} LOGIN' WHERE NOT EXISTS "
        f"(SELECT FROM pg_roles WHERE rolname = {_sql_literal(user)})\\gexec",
        f"ALTER ROLE {role} WITH LOGIN PASSWORD {_sql_literal(verifier)};",
        f"SELECT 'CREATE DATABASE {db} OWNER {role}' WHERE NOT EXISTS "
        f"(SELECT FROM pg_database WHERE datname = {_sql_literal(database)})\\gexec",
        f"ALTER DATABASE {db} OWNER TO {role};",
        f"REVOKE CONNECT ON DATABASE {db} FROM PUBLIC;",
        f"\\connect {db}",
        *(f"CREATE EXTENSION IF NOT EXISTS {_sql_name(e)};" for e in extensions),
    ]
    return "\n".join(lines) + "\n"
