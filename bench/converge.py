"""Converge benchmark on the local lab: medians of repeated runs, side by side, one JSON file.

    .venv/bin/python bench/converge.py [--repeat 3] [--hosts SPEC] [--skip-nine] [--output FILE]

Measures, on the default lab (``DEFAULT_HOSTS``: four hosts on Debian 13 and 12) or ``--hosts``
unless said otherwise:
  floor        pyinfra's own floor: `pyinfra inventory/lab.py exec -- true`
  cold         deploy/all.py on freshly booted hosts (the lab is recreated before each run)
  warm         deploy/all.py on converged hosts (a no-op; asserted to change nothing),
               interleaved with the floor runs so both see the same machine
  verify       fks-infra verify inventory/lab.py
  warm_nine    deploy/all.py no-op on a nine-host lab (see NINE below)
  floor_nine   the floor on that nine-host lab
and prints them beside the targets: warm <= 2x floor, nine hosts <= 1.3x three (with
``--hosts "$THREE"``, the three-host lab the target was set on), verify <= 30 s.
It takes the lab down and up as it goes and leaves the default lab up and deployed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fks_infra.lab.spec import DEFAULT_HOSTS

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
INVENTORY = "inventory/lab.py"
THREE = "core-1:core,gpu-1:gpu,bridge-1:bridge"
# Nine hosts: several core services and both bridges must be unique, so the fleet grows the
# way a real one does, by GPU nodes (ai and training may be replicated).
NINE = ",".join(["core-1:core", "bridge-1:bridge"] + [f"gpu-{i}:gpu" for i in range(1, 8)])


def run(*command: str, check: bool = True) -> float:
    """Run a command from the repository root; return its wall time in seconds."""
    started = time.monotonic()
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=1800, check=False
    )
    seconds = time.monotonic() - started
    if check and done.returncode != 0:
        sys.exit(f"bench: {' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return seconds


def fks(*args: str) -> float:
    return run(str(BIN / "fks-infra"), *args)


def deploy(json_check: bool = False) -> float:
    command = [str(BIN / "pyinfra"), "-y", INVENTORY, "deploy/all.py"]
    if not json_check:
        return run(*command)
    started = time.monotonic()
    done = subprocess.run(
        [*command[:2], "--json", *command[2:]], cwd=REPO, capture_output=True, text=True,
        timeout=1800, check=False,
    )  # fmt: skip
    seconds = time.monotonic() - started
    results = json.loads(done.stdout[done.stdout.index("{") :])["results"]
    changed = sum(len(op["success"]) for op in results["operations"])
    if done.returncode != 0 or changed:
        sys.exit(f"bench: the warm run was not a no-op ({changed} changes, rc {done.returncode})")
    return seconds


def lab(spec: str) -> None:
    fks("lab", "down")
    fks("lab", "up", "--hosts", spec)
    fks("secrets", "init", INVENTORY)


def floor() -> float:
    return run(str(BIN / "pyinfra"), "-y", INVENTORY, "exec", "--", "true")


def median(samples: list[float]) -> float:
    return round(statistics.median(samples), 2)


def measure(name: str, repeat: int, once: Callable[[], float]) -> dict[str, object]:
    return side_by_side(repeat, {name: once})[name]


def side_by_side(
    repeat: int, measures: dict[str, Callable[[], float]]
) -> dict[str, dict[str, object]]:
    """Interleaved runs (a, b, a, b, ...): figures whose ratio is a target see the same
    machine, not one the first while the lab is still busy and the other after."""
    samples: dict[str, list[float]] = {name: [] for name in measures}
    for _ in range(repeat):
        for name, once in measures.items():
            samples[name].append(round(once(), 2))
    for name, runs in samples.items():
        print(f"  {name:<10} {median(runs):7.2f} s   runs: {runs}", flush=True)
    return {name: {"median_s": median(runs), "runs_s": runs} for name, runs in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--hosts", default=DEFAULT_HOSTS, help="the base lab's spec")
    parser.add_argument("--skip-nine", action="store_true")
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results.json")
    args = parser.parse_args()

    figures: dict[str, dict[str, object]] = {}
    print(f"converge benchmark, {args.repeat} runs each (medians)", flush=True)

    def cold() -> float:
        lab(args.hosts)
        return deploy()

    def warm() -> float:
        return deploy(json_check=True)

    figures["cold"] = measure("cold", args.repeat, cold)
    # The first no-op after a cold deploy finds hosts still starting what it installed.
    warm()
    figures |= side_by_side(args.repeat, {"floor": floor, "warm": warm})
    figures["verify"] = measure("verify", args.repeat, lambda: fks("verify", INVENTORY))
    if not args.skip_nine:
        lab(NINE)
        deploy()
        warm()
        figures |= side_by_side(args.repeat, {"floor_nine": floor, "warm_nine": warm})
        lab(args.hosts)
        deploy()

    def ratio(a: str, b: str) -> float | None:
        if a not in figures or b not in figures:
            return None
        return round(float(figures[a]["median_s"]) / float(figures[b]["median_s"]), 2)  # type: ignore[arg-type]

    targets = {
        "warm_over_floor": {"value": ratio("warm", "floor"), "target": "<= 2.0"},
        "nine_over_three": {"value": ratio("warm_nine", "warm"), "target": "<= 1.3"},
        "verify_s": {"value": figures["verify"]["median_s"], "target": "<= 30"},
    }
    # Not a target: how pyinfra's own floor grows from three hosts to nine on this machine.
    context = {"floor_nine_over_three": ratio("floor_nine", "floor")}
    print("targets:")
    for name, target in targets.items():
        print(f"  {name:<16} {target['value']!s:>7}   target {target['target']}")
    for name, value in context.items():
        print(f"  {name:<16} {value!s:>7}   (pyinfra alone, for comparison)")
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
            "python": platform.python_version(),
        },
        "repeat": args.repeat,
        "hosts": args.hosts,
        "figures": figures,
        "targets": targets,
        "context": context,
    }
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written: {args.output.relative_to(REPO)}")


if __name__ == "__main__":
    main()
