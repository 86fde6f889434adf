"""The ASGI application every Python demo service runs.

It answers ``GET /health``, ``GET /metrics``, ``GET /compiled`` (the demo's compiled
dependency at work: ``fks_demo.compiled``), ``GET /probe/sandbox`` (what the unit's sandbox
allows: ``fks_demo.sandbox``) and ``GET /probe/egress`` (whether the unit reaches the
outside: ``fks_demo.egress``). Configuration comes from the environment the unit sets, as in
the original FKS services: ``SERVICE_PORT`` (required, because the services' own defaults
disagree with the port table), ``FKS_RELEASE_ID`` (reported by /health and /metrics). The
bind address (``SERVICE_HOST``) is uvicorn's ``--host``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from fks_demo import compiled, egress, sandbox
from fks_demo.metrics import CONTENT_TYPE, Metrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Behaviours a builder can bake into a release, to exercise health checks and rollback.
HEALTH_FAIL = "health=fail"
CRASH = "crash"
# Only the migrate task behaves differently (fks_demo.tasks); the app itself is healthy.
MIGRATE_FAIL = "migrate=fail"
BEHAVIOURS = (HEALTH_FAIL, CRASH, MIGRATE_FAIL)

# Paths outside this set are counted as "other": a scanner hitting random URLs
# must not create unbounded metric series.
KNOWN_PATHS = ("/health", "/metrics", "/compiled", "/probe/sandbox", egress.PATH)


class DemoApp:
    """ASGI app answering /health, /metrics, /compiled and the probes, logging each request."""

    def __init__(self, service: str, port: int, release: str, behaviour: str | None) -> None:
        if behaviour is not None and behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown demo behaviour {behaviour!r}; known: {BEHAVIOURS}")
        self.service = service
        self.port = port
        self.release = release
        self.behaviour = behaviour
        self.metrics = Metrics(service, release, time.time())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Dispatch an ASGI connection: lifespan events or one HTTP request."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.behaviour == CRASH:
                    # uvicorn exits non-zero when startup fails: a release that dies
                    # right after start, as a broken build would.
                    text = f"fks_{self.service}: release {self.release} built to crash on start"
                    await send({"type": "lifespan.startup.failed", "message": text})
                    return
                _log(f"fks_{self.service} release={self.release} port={self.port} started")
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                _log(f"fks_{self.service} shutting down")
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, send: Send) -> None:
        started = time.monotonic()
        method = str(scope.get("method", "GET"))
        path = str(scope.get("path", "/"))
        if path == egress.PATH and method in ("GET", "HEAD"):
            status, content_type, body = await egress.answer(self.service)
        else:
            status, content_type, body = self._route(method, path)
        label = path if path in KNOWN_PATHS else "other"
        self.metrics.count(method, label, status)
        headers = [
            (b"content-type", content_type.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        client = scope.get("client") or ("-", 0)
        elapsed_ms = (time.monotonic() - started) * 1000
        _log(f'fks_{self.service} {client[0]} "{method} {path}" {status} {elapsed_ms:.1f}ms')

    def _route(self, method: str, path: str) -> tuple[int, str, bytes]:
        if method not in ("GET", "HEAD"):
            return 405, "text/plain; charset=utf-8", b"method not allowed\n"
        if path == "/health":
            failing = self.behaviour == HEALTH_FAIL
            document = {
                "service": self.service,
                "port": self.port,
                "status": "failing" if failing else "ok",
                "release": self.release,
            }
            return 503 if failing else 200, "application/json", json.dumps(document).encode()
        if path == "/metrics":
            return 200, CONTENT_TYPE, self.metrics.render().encode()
        if path == "/compiled":
            return 200, "application/json", json.dumps(compiled.report()).encode()
        if path == "/probe/sandbox":
            return 200, "application/json", json.dumps(sandbox.report()).encode()
        return 404, "text/plain; charset=utf-8", b"not found\n"


def create_app(
    service: str, behaviour: str | None = None, environ: Mapping[str, str] = os.environ
) -> DemoApp:
    """Build the app for ``service`` from the environment, refusing to guess a port.

    Raises SystemExit (uvicorn then exits 1 with the message) when SERVICE_PORT is
    missing or not a port: a service listening on a default port would be
    reported healthy on the wrong address.
    """
    raw = environ.get("SERVICE_PORT", "").strip()
    if not raw:
        raise SystemExit(
            f"fks_{service}: SERVICE_PORT is not set; refusing to start "
            "(set it explicitly to the port of the service table)"
        )
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SystemExit(f"fks_{service}: SERVICE_PORT={raw!r} is not a TCP port (1-65535)")
    release = environ.get("FKS_RELEASE_ID", "").strip() or "unknown"
    return DemoApp(service, int(raw), release, behaviour)


def _log(line: str) -> None:
    """Write one line to stdout at once: under systemd stdout is a pipe, not a tty."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    sys.stdout.write(f"{stamp} {line}\n")
    sys.stdout.flush()
