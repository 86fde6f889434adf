"""The demo's compiled dependency: MarkupSafe's C extension, imported on purpose.

Real FKS services have compiled dependencies (pydantic-core, numpy, ...), which a release
carries as wheels built for the host's CPython and glibc. The demo has one too, so a deploy
proves such a wheel installs and loads on each host's Python. It imports the extension module
itself rather than calling ``markupsafe.escape``, which would quietly fall back to pure
Python: a release whose wheel does not fit the host's interpreter fails to start, and its
rollout fails on the health check.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys

from markupsafe import _speedups  # the C extension; there is no fallback here

SAMPLE = '<fks & "demo">'


def report() -> dict[str, str]:
    """What ``GET /compiled`` answers: the extension that escaped ``SAMPLE``, and the result."""
    return {
        "module": _speedups.__name__,
        "file": os.path.basename(_speedups.__file__ or ""),
        "markupsafe": importlib.metadata.version("markupsafe"),
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "sample": SAMPLE,
        "escaped": _speedups._escape_inner(SAMPLE),
    }
