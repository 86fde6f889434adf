"""Release tasks of the demo services, standard library only: they really use the datastores.

- ``worker``: connects to Redis (``CELERY_BROKER_URL``), waits for jobs on the service's
  queue and logs each; a lost connection exits non-zero (systemd restarts it).
- ``beat``: pushes a tick job onto that queue every ``FKS_BEAT_SECONDS`` (default 30).
- ``migrate``: logs in to PostgreSQL (``DATABASE_URL``, SCRAM-SHA-256), creates the table
  ``fks_demo_migrations`` and records the release; exits non-zero on any failure.
  A release built with the behaviour ``migrate=fail`` runs a statement PostgreSQL refuses.
- ``collectstatic``: writes the release's static files under ``$STATE_DIRECTORY/static``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import socket
import struct
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit


def _log(service: str, task: str, line: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    sys.stdout.write(f"{stamp} fks_{service} {task}: {line}\n")
    sys.stdout.flush()


class TaskError(Exception):
    pass


# --- Redis (RESP) ------------------------------------------------------------------------


class Redis:
    """Just enough of a Redis client: AUTH, SELECT, LPUSH, BRPOP."""

    def __init__(self, url: str, timeout: float = 10) -> None:
        parts = urlsplit(url)
        if parts.scheme != "redis" or not parts.hostname:
            raise TaskError("CELERY_BROKER_URL is not a redis:// URL")
        self._sock = socket.create_connection((parts.hostname, parts.port or 6379), timeout)
        self._file = self._sock.makefile("rb")
        if parts.password is not None:
            self.call("AUTH", unquote(parts.password))
        database = parts.path.lstrip("/") or "0"
        self.call("SELECT", database)

    def call(self, *args: str) -> object:
        encoded = [a.encode() for a in args]
        self._sock.sendall(
            b"*%d\r\n" % len(encoded) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in encoded)
        )
        return self._read()

    def _read(self) -> object:
        line = self._file.readline()
        if not line:
            raise TaskError("Redis closed the connection")
        kind, rest = line[:1], line[1:].rstrip(b"\r\n")
        if kind == b"-":
            raise TaskError(f"Redis: {rest.decode()}")
        if kind in (b"+", b":"):
            return rest.decode()
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else self._file.read(size + 2)[:-2].decode()
        if kind == b"*":
            size = int(rest)
            return None if size < 0 else [self._read() for _ in range(size)]
        raise TaskError(f"unexpected Redis reply {line!r}")


def _broker(service: str) -> tuple[Redis, str]:
    url = os.environ.get("CELERY_BROKER_URL", "")
    if not url:
        raise TaskError("CELERY_BROKER_URL is not set")
    return Redis(url, timeout=30), f"fks:{service}:jobs"


def worker(service: str, behaviour: str | None = None) -> None:
    redis, queue = _broker(service)
    _log(service, "worker", f"connected to the broker, waiting on {queue}")
    while True:
        job = redis.call("BRPOP", queue, "20")
        if job:
            assert isinstance(job, list)
            _log(service, "worker", f"ran job {job[1]}")


def beat(service: str, behaviour: str | None = None) -> None:
    redis, queue = _broker(service)
    every = float(os.environ.get("FKS_BEAT_SECONDS", "30"))
    _log(service, "beat", f"connected to the broker, a tick onto {queue} every {every:g} s")
    while True:
        redis.call("LPUSH", queue, f"tick {int(time.time())}")
        time.sleep(every)


# --- PostgreSQL (protocol 3, SCRAM-SHA-256) ----------------------------------------------


class Postgres:
    """Just enough of a PostgreSQL client: SCRAM-SHA-256 login and simple queries."""

    def __init__(self, url: str, timeout: float = 10) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("postgres", "postgresql") or not parts.hostname:
            raise TaskError("DATABASE_URL is not a postgresql:// URL")
        self._sock = socket.create_connection((parts.hostname, parts.port or 5432), timeout)
        user, database = unquote(parts.username or ""), parts.path.lstrip("/")
        password = unquote(parts.password or "")
        body = struct.pack("!i", 196608)
        body += b"user\0" + user.encode() + b"\0database\0" + database.encode() + b"\0\0"
        self._sock.sendall(struct.pack("!i", len(body) + 4) + body)
        self._login(password)

    def _message(self) -> tuple[bytes, bytes]:
        head = self._exactly(5)
        kind, size = head[:1], struct.unpack("!i", head[1:])[0]
        data = self._exactly(size - 4)
        if kind == b"E":
            fields = {f[:1]: f[1:].decode(errors="replace") for f in data.split(b"\0") if f}
            raise TaskError(f"PostgreSQL: {fields.get(b'M', 'error')}")
        return kind, data

    def _exactly(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self._sock.recv(size - len(data))
            if not chunk:
                raise TaskError("PostgreSQL closed the connection")
            data += chunk
        return data

    def _send(self, kind: bytes, data: bytes) -> None:
        self._sock.sendall(kind + struct.pack("!i", len(data) + 4) + data)

    def _login(self, password: str) -> None:
        kind, data = self._message()
        code = struct.unpack("!i", data[:4])[0]
        if kind != b"R" or code != 10 or b"SCRAM-SHA-256\0" not in data[4:]:
            raise TaskError(f"PostgreSQL does not offer SCRAM-SHA-256 (auth code {code})")
        nonce = base64.b64encode(secrets.token_bytes(18)).decode()
        first_bare = f"n=,r={nonce}"
        first = ("n,," + first_bare).encode()
        self._send(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first)
        kind, data = self._message()
        server_first = data[4:].decode()
        fields = dict(item.split("=", 1) for item in server_first.split(","))
        if not fields["r"].startswith(nonce):
            raise TaskError("PostgreSQL answered with a foreign nonce")
        salted = hashlib.pbkdf2_hmac(
            "sha256", password.encode(), base64.b64decode(fields["s"]), int(fields["i"])
        )
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        stored_key = hashlib.sha256(client_key).digest()
        final_bare = f"c=biws,r={fields['r']}"
        message = f"{first_bare},{server_first},{final_bare}".encode()
        signature = hmac.digest(stored_key, message, "sha256")
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        self._send(b"p", f"{final_bare},p={base64.b64encode(proof).decode()}".encode())
        while True:  # SASLFinal, AuthenticationOk, parameters, key data, ReadyForQuery
            kind, data = self._message()
            if kind == b"Z":
                return

    def execute(self, sql: str) -> None:
        self._send(b"Q", sql.encode() + b"\0")
        while True:
            kind, _ = self._message()
            if kind == b"Z":
                return


def migrate(service: str, behaviour: str | None = None) -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        raise TaskError("DATABASE_URL is not set")
    release = os.environ.get("FKS_RELEASE_ID", "unknown").replace("'", "")
    db = Postgres(url)
    if behaviour == "migrate=fail":
        db.execute("SELECT 1 / 0")  # a broken migration: PostgreSQL refuses it
    db.execute(
        "CREATE TABLE IF NOT EXISTS fks_demo_migrations ("
        "service text NOT NULL, release text NOT NULL, "
        "applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (service, release))"
    )
    db.execute(
        "INSERT INTO fks_demo_migrations (service, release) "
        f"VALUES ('{service}', '{release}') ON CONFLICT DO NOTHING"
    )
    _log(service, "migrate", f"fks_demo_migrations has release {release}")


def collectstatic(service: str, behaviour: str | None = None) -> None:
    state = os.environ.get("STATE_DIRECTORY", "")
    if not state:
        raise TaskError("STATE_DIRECTORY is not set (run it from systemd with StateDirectory=)")
    static = Path(state) / "static"
    static.mkdir(exist_ok=True)
    (static / "release.txt").write_text(os.environ.get("FKS_RELEASE_ID", "unknown") + "\n")
    _log(service, "collectstatic", f"static files in {static}")


TASKS = {"worker": worker, "beat": beat, "migrate": migrate, "collectstatic": collectstatic}


def run(service: str, task: str, behaviour: str | None = None) -> None:
    """Run one task; any failure is one line on stderr and exit status 1."""
    try:
        TASKS[task](service, behaviour)
    except (TaskError, OSError, ValueError, KeyError) as error:
        sys.stderr.write(f"fks_{service} {task}: failed: {error}\n")
        sys.exit(1)
