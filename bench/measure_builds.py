"""Measure cold and cached build times of all 19 demo releases (numbers for docs/RELEASES.md).

Cold: a fresh, empty release cache (dependency download, wheel builds, cargo
build); pip's own HTTP cache stays warm, as it would on a control machine.
Cached: the same builds again against the filled cache. Prints medians.

    python bench/measure_builds.py [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from fks_infra.releases import DEFAULT_DEMO_DIR, DemoSource, Language, build_release

# The seed port table's services and languages. Plain values on purpose: this
# script must not depend on the catalogue; switch to it once both are wired.
SERVICES: list[tuple[str, Language]] = [
    *((name, "python") for name in (
        "web", "api", "app", "data", "ninja", "ai", "analyze", "training", "portfolio",
        "monitor", "crypto", "futures", "stocks", "data_ingestion", "feature_engineering",
    )),
    *((name, "rust") for name in ("execution", "meta", "auth", "main")),
]  # fmt: skip


def build_all(cache: Path) -> float:
    """Seconds to build every demo release into ``cache``."""
    started = time.perf_counter()
    for name, language in SERVICES:
        build_release(name, language, DemoSource(DEFAULT_DEMO_DIR), cache)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cold: list[float] = []
    cached: list[float] = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="fks-measure-") as scratch:
            cold.append(build_all(Path(scratch)))
            cached.extend(build_all(Path(scratch)) for _ in range(args.runs))
    print(f"services: {len(SERVICES)}, runs: {args.runs}")
    print(f"cold build, all services:   median {statistics.median(cold):.2f} s  {cold}")
    print(f"cached build, all services: median {statistics.median(cached):.3f} s")


if __name__ == "__main__":
    main()
