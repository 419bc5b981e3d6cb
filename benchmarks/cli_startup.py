"""Command start-up: wall time of `replaybook --help`, `replay-X --help` and `replay-list`.

Each case is one fresh process of the installed executable (this interpreter's venv), timed
from spawn to exit; the cases run alternating, one run of each per round, so a busy moment
of the machine falls on all of them alike. `replay-list` runs with REPLAYBOOK_HOME at an empty
temporary directory: the official pack only. With --upstream, the Rust replaybook's `--help`
and `list` run in the same rounds, for comparison.

Usage: .venv/bin/python benchmarks/cli_startup.py [--runs 21] [--every-help]
       [--upstream /path/to/replaybook --upstream-scenarios /path/to/its/scenarios]
Figures are written down in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import entry_points
from pathlib import Path

BIN = Path(sys.executable).parent
CASES: tuple[tuple[str, ...], ...] = (
    ("replaybook", "--help"),
    ("replay-list", "--help"),
    ("replay-up", "--help"),
    ("replay-check", "--help"),
    ("replay-list",),
    ("replaybook", "list"),
)


def timed_run(argv: list[str], env: dict[str, str]) -> float:
    """Seconds from spawn to exit; a failing command ends the benchmark (its figure would lie)."""
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {result.returncode}:\n{result.stderr.decode()}")
    return elapsed


def percentile(samples: list[float], fraction: float) -> float:
    """The nearest-rank percentile: with 21 runs, p95 is the 20th fastest."""
    ordered = sorted(samples)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="runs of each case (at least 15)")
    parser.add_argument("--every-help", action="store_true", help="time every replay-X --help too")
    parser.add_argument("--upstream", type=Path, help="the Rust replaybook binary, timed alongside")
    parser.add_argument("--upstream-scenarios", type=Path,
                        help="the scenarios directory its `list` reads (a clone of its official pack)")
    options = parser.parse_args()
    if options.runs < 15:
        parser.error("--runs must be at least 15")

    cases = {" ".join(case): [str(BIN / case[0]), *case[1:]] for case in CASES}
    if options.every_help:
        for script in sorted(point.name for point in entry_points(group="console_scripts")
                             if point.name.startswith("replay-") and (BIN / point.name).exists()):
            cases.setdefault(f"{script} --help", [str(BIN / script), "--help"])
    if options.upstream:
        cases["upstream --help"] = [str(options.upstream), "--help"]
        scenarios = ["--scenarios-dir", str(options.upstream_scenarios)] if options.upstream_scenarios else []
        cases["upstream list"] = [str(options.upstream), "list", *scenarios]

    with tempfile.TemporaryDirectory(prefix="replaybook-bench-") as home:
        env = {**os.environ, "REPLAYBOOK_HOME": home}  # an empty home: the official pack only
        for argv in cases.values():
            timed_run(argv, env)  # warm the page cache and the bytecode caches once
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(options.runs):
            for name, argv in cases.items():
                samples[name].append(timed_run(argv, env))

    print(f"{'case':<26} {'median':>8} {'p95':>8} {'min':>8}   ({options.runs} runs each, alternating)")
    for name, times in samples.items():
        median, p95, fastest = statistics.median(times), percentile(times, 0.95), min(times)
        print(f"{name:<26} {median * 1000:>6.1f}ms {p95 * 1000:>6.1f}ms {fastest * 1000:>6.1f}ms")


if __name__ == "__main__":
    main()
