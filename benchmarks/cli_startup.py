"""Command start-up: wall and CPU time of `replaybook --help`, `replay-X --help` and `replay-list`.

Each case is one fresh process of the installed executable (this interpreter's venv), timed
from spawn to exit; the cases run alternating, one run of each per round, so a busy moment
of the machine falls on all of them alike. `replay-list` runs with REPLAYBOOK_HOME at an empty
temporary directory: the official pack only. With --upstream, the Rust replaybook's `--help`
and `list` run in the same rounds, for comparison.

Besides wall time, each run's CPU time (user + system of the child, from the kernel's
accounting of reaped children) is reported: on a machine shared with other work, wall time
includes waiting for a core, CPU time much less so. The load average is printed at the start
and the end of the rounds.

The commands run as an installed replaybook does: with the bytecode caches of its modules (pip
writes them when it installs). A development shell may set PYTHONDONTWRITEBYTECODE, and an
editable checkout then compiles every module of ours from source on every run (~10-20 ms more
per command on this machine); it is removed from the commands' environment, so that the
warm-up run writes the caches.

Usage: .venv/bin/python benchmarks/cli_startup.py [--runs 21] [--every-help]
       [--upstream /path/to/replaybook --upstream-scenarios /path/to/its/scenarios]
Figures are written down in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import NamedTuple

BIN = Path(sys.executable).parent
CASES: tuple[tuple[str, ...], ...] = (
    ("replaybook", "--help"),
    ("replay-list", "--help"),
    ("replay-up", "--help"),
    ("replay-check", "--help"),
    ("replay-list",),
    ("replaybook", "list"),
)


class Run(NamedTuple):
    wall: float  # seconds from spawn to exit
    cpu: float  # seconds of CPU, user and system, the child used
    stdout: str


def measured_run(argv: list[str], env: dict[str, str]) -> Run:
    """One run of ``argv``; a failing command ends the benchmark (its figure would lie). The
    child's CPU time is what the kernel adds to this process's reaped children: runs are one
    at a time, so the difference is this child's alone."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {result.returncode}:\n{result.stderr.decode()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(elapsed, cpu, result.stdout.decode())


def user_environment(**extra: str) -> dict[str, str]:
    """This environment as an installed replaybook's user has it: bytecode caches written."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    return {**env, **extra}


def load_average() -> str:
    return "load average " + " ".join(f"{load:.1f}" for load in os.getloadavg())


def alternating_rounds(
    cases: dict[str, list[str]], rounds: int, run_one: Callable[[str, list[str]], Run]
) -> dict[str, list[Run]]:
    """``rounds`` rounds of one run of each case (a busy moment falls on all of them alike), with
    the load average printed around them."""
    print(f"rounds start: {load_average()}")
    samples: dict[str, list[Run]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, argv in cases.items():
            samples[name].append(run_one(name, argv))
    print(f"rounds end: {load_average()}")
    return samples


def print_summary(title: str, samples: dict[str, list[Run]], width: int) -> None:
    runs = len(next(iter(samples.values()), []))
    print(summary_header(title, width) + f"   ({runs} runs each, alternating)")
    for name, case_runs in samples.items():
        print(summary_row(name, case_runs, width))


def summary_row(name: str, runs: list[Run], width: int) -> str:
    """Wall median, p95 and fastest; CPU median and fastest, in ms."""
    walls, cpus = [run.wall for run in runs], [run.cpu for run in runs]
    figures = [statistics.median(walls), percentile(walls, 0.95), min(walls),
               statistics.median(cpus), min(cpus)]
    return f"{name:<{width}} " + " ".join(f"{value * 1000:>6.1f}ms" for value in figures)


def summary_header(first: str, width: int) -> str:
    return f"{first:<{width}} " + " ".join(f"{title:>8}" for title in
                                            ("median", "p95", "min", "cpu-med", "cpu-min"))


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
        env = user_environment(REPLAYBOOK_HOME=home)  # an empty home: the official pack only
        for argv in cases.values():
            measured_run(argv, env)  # warm the page cache and the bytecode caches once
        samples = alternating_rounds(cases, options.runs, lambda _, argv: measured_run(argv, env))
    print_summary("case", samples, 26)


if __name__ == "__main__":
    main()
