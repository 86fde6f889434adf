"""N cold deploys of the default lab in a row: how often does a first deploy fail, and why?

    .venv/bin/python bench/cold_deploys.py [--runs 10] [--output bench/cold-deploys.json]

Each run: ``lab down``, ``lab up`` (fresh hosts from the cached rootfs), ``secrets init``,
then the real ``pyinfra --json inventory/lab.py deploy/all.py``. A failed run is reported
with pyinfra's failed hosts and, from every host, each failed unit with its last journal
lines (the hosts are gone after the next ``lab down``, so they are read at once). Not part
of ``make test``: ten runs take about 40 minutes. Leaves the last run's lab up.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
INVENTORY = "inventory/lab.py"

#: Failed units and what each logged, read as root through the lab's operator login.
FAILED_UNITS = (
    "for unit in $(systemctl --failed --no-legend --plain | awk '{print $1}'); do "
    'echo "--- $unit"; journalctl -b -u "$unit" --no-pager | tail -n 20; done'
)


def run(*command: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    """A command from the repository root, its output captured; never raises on failure."""
    return subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False
    )


def must(*command: str) -> None:
    done = run(*command)
    if done.returncode != 0:
        sys.exit(f"bench: {' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


def failed_units() -> dict[str, str]:
    """Per lab host, its failed units and their journals (empty string: none)."""
    from fks_infra.lab.paths import lab_paths
    from fks_infra.lab.state import load_state
    from fks_infra.lab.testing import Lab

    state = load_state(lab_paths().state_file)
    if state is None:
        return {}
    lab = Lab(state=state, paths=lab_paths())
    return {host.name: lab.ssh(host.name, FAILED_UNITS, timeout=60).stdout for host in lab.hosts}


def one_cold_deploy() -> dict[str, object]:
    """Recreate the lab and deploy it once; what happened."""
    must(str(BIN / "fks-infra"), "lab", "down")
    must(str(BIN / "fks-infra"), "lab", "up")
    must(str(BIN / "fks-infra"), "secrets", "init", INVENTORY)
    started = time.monotonic()
    done = run(str(BIN / "pyinfra"), "-y", "--json", INVENTORY, "deploy/all.py")
    seconds = round(time.monotonic() - started, 1)
    try:
        failed_hosts = json.loads(done.stdout[done.stdout.index("{") :])["results"]["failed_hosts"]
    except (ValueError, KeyError):
        failed_hosts = ["(no --json results)"]
    units = failed_units()
    result: dict[str, object] = {
        "exit": done.returncode,
        "seconds": seconds,
        "failed_hosts": sorted(failed_hosts),
        "failed_units": {host: text for host, text in units.items() if text.strip()},
    }
    if done.returncode != 0:
        result["stderr_tail"] = done.stderr[-4000:]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "cold-deploys.json")
    args = parser.parse_args()
    runs = []
    for index in range(1, args.runs + 1):
        result = one_cold_deploy()
        runs.append(result)
        verdict = "ok" if result["exit"] == 0 and not result["failed_units"] else "FAILED"
        print(f"run {index}/{args.runs}: {verdict} in {result['seconds']} s", flush=True)
        if verdict != "ok":
            print(json.dumps(result, indent=2), flush=True)
    failures = sum(1 for r in runs if r["exit"] != 0 or r["failed_units"])
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.node(),
        "runs": runs,
        "failures": failures,
    }
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"{failures} of {len(runs)} cold deploys failed; details in {args.output}")


if __name__ == "__main__":
    main()
