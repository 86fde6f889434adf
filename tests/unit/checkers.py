"""Finding and running the real tools that judge rendered configs (nginx, nft, promtool...).

A missing tool skips the test with the reason, except on CI (``CI=true``), where the test
run must not pass by checking nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import pytest


def tool(name: str, path: str = "") -> str:
    """The tool's absolute path, also looked for in the sbin directories."""
    found = shutil.which(name, path=path or None) or shutil.which(name, path="/usr/sbin:/sbin")
    if found:
        return found
    unavailable(f"{name} not found: the rendered configs cannot be checked")


def unavailable(reason: str) -> NoReturn:
    """Skip the test for something this machine lacks; fail it on CI (``CI=true``)."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def run(argv: list[str], timeout: float = 60, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a checker, bounded in time; the result, never an exception."""
    return subprocess.run(
        argv, capture_output=True, text=True, check=False, timeout=timeout, **kwargs
    )


def apt_policy(
    root: Path, package: str, sources: Mapping[str, str], preferences: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    """``apt-cache policy PACKAGE`` on a private apt configuration under ``root``.

    + sources: file name in sources.list.d -> text (``.list`` or deb822 ``.sources``)
    + preferences: file name in preferences.d -> text

    It reads only these files (never this machine's sources) and fetches nothing.
    """
    for folder, files in (("sources.list.d", sources), ("preferences.d", preferences)):
        (root / folder).mkdir()
        for name, text in files.items():
            (root / folder / name).write_text(text)
    (root / "lists").mkdir()
    options = {
        "Dir::Etc::SourceList": root / "none.list",
        "Dir::Etc::SourceParts": root / "sources.list.d",
        "Dir::Etc::Preferences": root / "none",
        "Dir::Etc::PreferencesParts": root / "preferences.d",
        "Dir::State::Lists": root / "lists",
        "Dir::Cache": root,
    }
    return run([tool("apt-cache"), *(f"-o{k}={v}" for k, v in options.items()), "policy", package])


@contextmanager
def redis_server(config: str, directory: Path, port: int = 0) -> Iterator[Path]:
    """A real ``redis-server`` on the rendered ``config``: its socket, data and pid file in
    ``directory``, and TCP on 127.0.0.1:``port`` unless ``port`` is 0 (the command line wins
    over the config's ``port`` and ``bind``). Yields the socket's path once it exists
    (Redis opens both listeners together; waited for up to 5 s), stops the server after."""
    conf = directory / "redis.conf"
    conf.write_text(config)
    sock = directory / "redis.sock"
    process = subprocess.Popen(
        [tool("redis-server"), str(conf), "--port", str(port), "--bind", "127.0.0.1",
         "--unixsocket", str(sock), "--dir", str(directory), "--logfile", "",
         "--appendonly", "no", "--save", "", "--daemonize", "no", "--supervised", "no",
         "--pidfile", str(directory / "pid")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(50):
            if sock.exists():
                break
            time.sleep(0.1)
        yield sock
    finally:
        process.terminate()
        process.wait(timeout=10)
