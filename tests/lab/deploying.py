"""Running deploys against the lab as an operator does, for the end-to-end tests."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fks_infra.distro import Distro, distro_of, parse_os_release
from fks_infra.lab.testing import Lab

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
INVENTORY = "inventory/lab.py"


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    #: whether the hosts had no FKS deployment before this run
    bare: bool = False

    @property
    def results(self) -> dict[str, Any]:
        """pyinfra's --json results: per operation, the hosts that changed, failed, or not."""
        payload = json.loads(self.stdout[self.stdout.index("{") :])
        results: dict[str, Any] = payload["results"]
        return results

    def changed(self) -> list[tuple[str, str]]:
        return [(op["name"], host) for op in self.results["operations"] for host in op["success"]]

    def why(self, tail: int = 3000) -> str:
        """For an assertion message: every line pyinfra printed for a host that failed (the
        command, its output, the error), then the end of the output. A failing host drops
        out early, so the end alone rarely says what went wrong."""
        try:
            failed = sorted(self.results["failed_hosts"])
        except (ValueError, KeyError):  # no --json, or no results
            failed = sorted(set(FAILED_HOST.findall(self.stderr)))
        lines = [
            line for line in self.stderr.splitlines()
            if any(f"[{name}]" in line for name in failed) and not STATUS_LINE.search(line)
        ]  # fmt: skip
        return "\n".join(
            [f"failed hosts: {', '.join(failed) or 'none named'}", *lines[-80:],
             "--- end of stderr ---", self.stderr[-tail:]]
        )  # fmt: skip


#: A host that pyinfra says failed: ``[gpu-1] Error: ...``, or one it could not reach.
FAILED_HOST = re.compile(r"\[([\w.-]+)\]\s+(?:Error|Could not connect)")
#: The one-word status lines every host prints for every operation.
STATUS_LINE = re.compile(r"\]\s+(?:Success|Skipped|No changes)\s*$")


def deploy(
    *args: str,
    inventory: str = INVENTORY,
    env: dict[str, str] | None = None,
    as_json: bool = True,
    deploy_file: str = "deploy/all.py",
) -> Run:
    """The real pyinfra CLI, as an operator runs it (with machine-readable results)."""
    started = time.monotonic()
    done = subprocess.run(
        [str(BIN / "pyinfra"), "-y", *(["--json"] if as_json else []), *args, inventory,
         deploy_file],
        cwd=REPO, capture_output=True, text=True, timeout=1200, check=False,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    return Run(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


BROKEN = """\
# deploy/all.py with {module}.{function}'s output broken, as a bad template edit breaks it.
import importlib
from pyinfra import local
module = importlib.import_module({module!r})
real = getattr(module, "_unbroken_{function}", getattr(module, {function!r}))
module._unbroken_{function} = real
setattr(module, {function!r}, lambda *args, **kwargs: real(*args, **kwargs) + {suffix!r})
local.include({deploy!r})
"""


def deploy_broken(module: str, function: str, suffix: str, *args: str) -> Run:
    """deploy/all.py on the lab, with every text ``module.function`` renders ending in ``suffix``.

    Used to run the whole deploy with one config renderer broken; nothing else is changed.
    """
    with tempfile.TemporaryDirectory(prefix="fks-broken-") as folder:
        broken = Path(folder) / "broken.py"
        broken.write_text(
            BROKEN.format(module=module, function=function, suffix=suffix,
                          deploy=str(REPO / "deploy/all.py"))
        )  # fmt: skip
        return deploy(*args, deploy_file=str(broken))


def fks_infra(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "fks-infra"), *args], cwd=REPO, capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip


def release_of(lab: Lab, host: str) -> Distro:
    """The release a lab host runs, from its own ``/etc/os-release``."""
    return distro_of(parse_os_release(lab.ssh(host, "cat /etc/os-release").stdout))
