"""Finding and running the real tools that judge rendered configs (nginx, nft, promtool...).

A missing tool skips the test with the reason, except on CI (``CI=true``), where the test
run must not pass by checking nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

import pytest


def tool(name: str, path: str = "") -> str:
    """The tool's absolute path, also looked for in the sbin directories."""
    found = shutil.which(name, path=path or None) or shutil.which(name, path="/usr/sbin:/sbin")
    if found:
        return found
    reason = f"{name} not found: the rendered configs cannot be checked"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def run(argv: list[str], timeout: float = 60, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a checker, bounded in time; the result, never an exception."""
    return subprocess.run(
        argv, capture_output=True, text=True, check=False, timeout=timeout, **kwargs
    )
