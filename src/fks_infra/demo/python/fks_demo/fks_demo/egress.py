"""``GET /probe/egress``: whether this service reaches the outside endpoint its unit names.

The target is ``FKS_DEMO_EGRESS_URL`` (``http://ADDRESS:PORT/``: an IP address, no name to
resolve, an explicit port), set through ``fks_service_environment``. The probe opens a TCP
connection and sends one ``GET`` (``User-Agent: fks_<service>``, so the endpoint can tell who
came), all within ``TIMEOUT`` seconds; the answer is JSON ``{"url", "reached", "error"}``:

- 200, ``reached`` true: an HTTP status line came back (whatever the status);
- 200, ``reached`` false: the connection or the request failed (``error`` says how: a unit's
  ``IPAddressDeny=`` makes it "Operation not permitted" or a timeout);
- 404, ``reached`` false: ``FKS_DEMO_EGRESS_URL`` is not set;
- 500, ``reached`` false: it is set but is no ``http://ADDRESS:PORT/`` URL.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

PATH = "/probe/egress"
VARIABLE = "FKS_DEMO_EGRESS_URL"
#: Seconds the whole probe (connect, send, first line of the answer) may take.
TIMEOUT = 2.0


async def answer(service: str, environ: Mapping[str, str] = os.environ) -> tuple[int, str, bytes]:
    """The probe's HTTP answer: (status, content type, JSON body)."""
    url = environ.get(VARIABLE, "").strip()
    if not url:
        return _json(404, None, False, f"{VARIABLE} not set")
    try:
        host, port, path = _target(url)
    except ValueError as error:
        return _json(500, url, False, str(error))
    try:
        await asyncio.wait_for(_get(host, port, path, service), TIMEOUT)
    except TimeoutError:
        return _json(200, url, False, f"no answer within {TIMEOUT:g} s")
    except OSError as error:
        # The system's words ("Connection refused", "Operation not permitted"), as curl says.
        words = os.strerror(error.errno) if error.errno else str(error)
        return _json(200, url, False, words or type(error).__name__)
    except ValueError as error:
        return _json(200, url, False, str(error))
    return _json(200, url, True, "")


def _target(url: str) -> tuple[str, int, str]:
    """(address, port, path) of an ``http://ADDRESS:PORT/`` URL; ValueError otherwise."""
    parts = urlsplit(url)
    try:
        address = ipaddress.ip_address(parts.hostname or "")
        port = parts.port
    except ValueError:
        port = None
        address = None
    if parts.scheme != "http" or address is None or port is None:
        raise ValueError(f"{VARIABLE} is not http://ADDRESS:PORT/ (an IP address and a port)")
    return str(address), port, parts.path or "/"


async def _get(host: str, port: int, path: str, service: str) -> None:
    """Connect, send one GET and read the status line; ValueError for a non-HTTP answer."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: fks_{service}\r\n"
            "Connection: close\r\n\r\n"
        )
        writer.write(request.encode("ascii"))
        await writer.drain()
        status_line = await reader.readline()
        if not status_line.startswith(b"HTTP/1."):
            raise ValueError("the endpoint answered no HTTP status line")
    finally:
        writer.close()


def _json(status: int, url: str | None, reached: bool, error: str) -> tuple[int, str, bytes]:
    body = json.dumps({"url": url, "reached": reached, "error": error}).encode()
    return status, "application/json", body
