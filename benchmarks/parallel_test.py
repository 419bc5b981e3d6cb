"""`replaybook test --all` one after another and side by side: wall time and the speed-up of -j.

First the images are warmed: one `replaybook test --all PACK` at the highest -j asked (not
counted; skipped with --no-warm). Then each round runs the pack once per -j asked, the order
alternating from round to round (1, 3 then 3, 1), so a busy moment of the shared machine does not
fall on one side only. Each run is a fresh process of the installed executable with an empty
REPLAYBOOK_HOME, the scenarios' own holds (REPLAYBOOK_HOLD_SECONDS unset), timed from spawn to
exit; a run with a failed cycle is reported as such (its time is not comparable).

Usage: .venv/bin/python benchmarks/parallel_test.py [--pack packs/official] [--jobs 1,3]
       [--rounds 1] [--no-warm]
Figures are written down in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
RUN_TIMEOUT_SECONDS = 3600


def timed_test_run(pack: Path, jobs: int) -> tuple[float, str]:
    """Seconds from spawn to exit of `replaybook test --all PACK -j N`, and its summary line."""
    with tempfile.TemporaryDirectory(prefix="replaybook-bench-") as home:
        env = {**os.environ, "REPLAYBOOK_HOME": home}
        env.pop("REPLAYBOOK_HOLD_SECONDS", None)
        argv = [str(BIN / "replaybook"), "test", "--all", str(pack), "-j", str(jobs)]
        start = time.perf_counter()
        result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False,
                                timeout=RUN_TIMEOUT_SECONDS)
        elapsed = time.perf_counter() - start
    lines = result.stderr.strip().splitlines()
    summary = lines[-1] if lines else ""
    if result.returncode != 0:
        failed = [line for line in result.stdout.splitlines() if not line.startswith("PASS ")]
        summary += f" (exit {result.returncode}: " + "; ".join(failed)[:300] + ")"
    return elapsed, summary


def machine() -> str:
    docker = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],
                            capture_output=True, text=True, check=False).stdout.strip()
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return (f"{time.strftime('%Y-%m-%d %H:%M %Z')}, {len(os.sched_getaffinity(0))} cores, "
            f"Docker Engine {docker or '?'}, load average {load}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", type=Path, default=ROOT / "packs" / "official")
    parser.add_argument("--jobs", default="1,3", help="the -j values to compare, the first as the base")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each -j (alternating)")
    parser.add_argument("--no-warm", action="store_true", help="the images are warm already")
    options = parser.parse_args()
    jobs = [int(value) for value in options.jobs.split(",")]
    pack = options.pack.resolve()

    print(f"machine: {machine()}")
    if not options.no_warm:
        seconds, summary = timed_test_run(pack, max(jobs))
        print(f"warm-up -j {max(jobs)}: {seconds:.1f} s  {summary}  (not counted)", flush=True)
    samples: dict[int, list[float]] = {value: [] for value in jobs}
    for round_ in range(options.rounds):
        for value in jobs if round_ % 2 == 0 else list(reversed(jobs)):
            seconds, summary = timed_test_run(pack, value)
            samples[value].append(seconds)
            print(f"round {round_ + 1} -j {value}: {seconds:.1f} s  {summary}", flush=True)

    base = statistics.median(samples[jobs[0]])
    print(f"\n{'-j':>4} {'runs':>5} {'median s':>9} {'max s':>7} {'speed-up':>9}")
    for value, times in samples.items():
        median = statistics.median(times)
        print(f"{value:>4} {len(times):>5} {median:>9.1f} {max(times):>7.1f} {base / median:>8.2f}x")


if __name__ == "__main__":
    main()
