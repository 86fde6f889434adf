"""Prometheus text exposition (format 0.0.4) for the demo service.

Written by hand rather than with prometheus_client so that the demo keeps a
standard-library-only dependency set: a host installs nothing it would not
install for uvicorn itself.
"""

from __future__ import annotations

import threading
from collections import Counter

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def escape_label(value: str) -> str:
    """Escape a label value as the exposition format requires (\\, " and newline)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """Request counter plus the two constant series every FKS service exposes."""

    def __init__(self, service: str, release: str, start_time: float) -> None:
        self._service = service
        self._release = release
        self._start_time = start_time
        # uvicorn runs the app on one event loop, but a lock keeps this correct
        # if the app is ever mounted in a threaded server.
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, str, int]] = Counter()

    def count(self, method: str, path: str, status: int) -> None:
        """Count one handled request; ``path`` must already be a bounded label value."""
        with self._lock:
            self._requests[(method, path, status)] += 1

    def render(self) -> str:
        """Return every series in exposition format, ending with a newline."""
        with self._lock:
            requests = sorted(self._requests.items())
        lines = [
            "# HELP fks_http_requests_total HTTP requests handled, by method, path and status.",
            "# TYPE fks_http_requests_total counter",
        ]
        for (method, path, status), value in requests:
            lines.append(
                f'fks_http_requests_total{{method="{escape_label(method)}",'
                f'path="{escape_label(path)}",status="{status}"}} {value}'
            )
        lines += [
            "# HELP process_start_time_seconds Start time of the process since the Unix epoch.",
            "# TYPE process_start_time_seconds gauge",
            f"process_start_time_seconds {self._start_time:.3f}",
            "# HELP fks_service_info Which service and release this process is.",
            "# TYPE fks_service_info gauge",
            f'fks_service_info{{service="{escape_label(self._service)}",'
            f'release="{escape_label(self._release)}"}} 1',
        ]
        return "\n".join(lines) + "\n"
