"""A/B of the warm no-op deploy: this checkout against an earlier commit, interleaved.

    .venv/bin/python bench/ab_warm.py --baseline 7dbb966 [--repeat 7] [--output FILE]

Both trees deploy the same converged three-host lab (the baseline reads this checkout's
lab state through ``FKS_LAB_DIR`` and gets a copy of its secrets file). After one untimed
run of each (the baseline builds its releases then), the warm runs alternate A, B, B, A,
A, B... so both see the same machine; each must change nothing. Prints and writes the
medians. Leaves the lab up and deployed; the baseline's worktree is removed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def warm(tree: Path, environment: dict[str, str]) -> float:
    """One no-op ``deploy/all.py`` from ``tree``; exits when it changed or failed anything."""
    started = time.monotonic()
    done = subprocess.run(
        [str(BIN / "pyinfra"), "-y", "--json", "inventory/lab.py", "deploy/all.py"],
        cwd=tree, env=environment, capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    seconds = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"ab_warm: deploy from {tree} failed:\n{done.stderr[-3000:]}")
    results = json.loads(done.stdout[done.stdout.index("{") :])["results"]
    changed = [(op["name"], host) for op in results["operations"] for host in op["success"]]
    if changed:
        sys.exit(f"ab_warm: deploy from {tree} changed something: {changed}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", required=True, help="commit to compare with")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "ab-warm.json")
    arguments = parser.parse_args()

    lab_dir = str((REPO / ".lab").resolve())
    ours = {**os.environ, "FKS_LAB_DIR": lab_dir, "PYTHONPATH": str(REPO / "src")}
    with tempfile.TemporaryDirectory(prefix="fks-ab-") as scratch:
        base = Path(scratch) / "baseline"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(base), arguments.baseline],
            cwd=REPO, check=True, capture_output=True,
        )  # fmt: skip
        try:
            theirs = {**ours, "PYTHONPATH": str(base / "src")}
            for command in (("lab", "up"), ("secrets", "init", "inventory/lab.py")):
                subprocess.run(
                    [str(BIN / "fks-infra"), *command], cwd=REPO, check=True, capture_output=True
                )
            # group_data/lab.py: the lab's secrets file, relative to the project root.
            (base / ".lab").mkdir(exist_ok=True)
            shutil.copy2(REPO / ".lab" / "secrets.toml", base / ".lab" / "secrets.toml")
            warm_up = [str(BIN / "pyinfra"), "-y", "inventory/lab.py", "deploy/all.py"]
            # Converges the lab (a cold deploy when it was not), then must be a no-op.
            subprocess.run(warm_up, cwd=REPO, env=ours, check=True, capture_output=True)
            warm(REPO, ours)
            warm(base, theirs)  # untimed: the baseline builds its releases here
            timings: dict[str, list[float]] = {"head": [], "baseline": []}
            for round_ in range(arguments.repeat):
                order = [("head", REPO, ours), ("baseline", base, theirs)]
                for label, tree, environment in order if round_ % 2 == 0 else order[::-1]:
                    timings[label].append(round(warm(tree, environment), 3))
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(base)], cwd=REPO, check=False
            )
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "head": head,
        "baseline": arguments.baseline,
        "runs": timings,
        "median_s": {label: statistics.median(values) for label, values in timings.items()},
    }
    arguments.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for label in ("baseline", "head"):
        print(f"{label:9} median {result['median_s'][label]:.3f} s  runs {timings[label]}")


if __name__ == "__main__":
    main()
