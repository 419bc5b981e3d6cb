"""Progress commands on a big ledger: export, stats, next --show and report, beside the
upstream replaybook's `export` and `cat`.

A ledger of --sessions lines (default 10,000: a team of 20 playing 40 scenarios for a year) is
made once, deterministically, with every outcome. Each case is one fresh process of the
installed executable, timed from spawn to exit, stdout to /dev/null; the cases run
alternating, one run of each per round, and the median, the best and the peak RSS (the
kernel's figure for the reaped child) are reported. The upstream replaybook's `export` prints
its ledger file as it is; it reads `$XDG_DATA_HOME/replaybook/sessions/sessions.jsonl`, which
is pointed at the same ledger, so it is the floor a ledger-printing export can reach beside
`cat`.

Usage: .venv/bin/python benchmarks/progress_commands.py [--sessions 10000] [--runs 7]
       [--upstream /tmp/upstream-rb/target/release/replaybook]
Figures are written down in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

BIN = Path(sys.executable).parent
OUTCOMES = ("success", "success", "success", "timeout", "abandoned")


class Run(NamedTuple):
    wall: float
    rss_mb: float


def make_ledger(path: Path, sessions: int) -> None:
    """``sessions`` ledger lines: 20 players, 40 scenarios of two packs, a year of play."""
    rng = random.Random(14)
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    with path.open("w") as out:
        for number in range(sessions):
            moment = start + timedelta(minutes=number * 525_600 // sessions)
            outcome = rng.choice(OUTCOMES)
            sla = rng.choice((900, 1200))
            elapsed = sla if outcome == "timeout" else round(rng.uniform(60, sla), 2)
            line = {
                "session": f"{number:08x}", "scenario": f"{rng.randrange(40):03d}-incident",
                "pack": rng.choice(("official", "team")), "fault": rng.choice((None, "a", "b")),
                "started_at": moment.isoformat(),
                "ended_at": (moment + timedelta(seconds=elapsed)).isoformat(),
                "outcome": outcome, "elapsed_seconds": elapsed, "sla_seconds": sla,
                "hints_used": rng.randrange(4), "hints_total": 3,
                "score": rng.randrange(100, 1000) if outcome == "success" else 0,
                "relapses": rng.randrange(2), "guards_tripped": [], "transcript": f"/t/{number:08x}.cast",
                "player": f"trainee-{rng.randrange(20):02d}",
            }  # fmt: skip
            out.write(json.dumps(line) + "\n")


def measured(argv: list[str], env: dict[str, str]) -> Run:
    started = time.perf_counter()
    with Path(os.devnull).open("wb") as sink:
        child = subprocess.Popen(argv, stdout=sink, stderr=subprocess.PIPE, env=env)
        assert child.stderr is not None
        errors = child.stderr.read()
        _pid, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        talk = errors.decode(errors="replace")
        raise RuntimeError(f"{' '.join(argv)} failed ({child.returncode}):\n{talk}")
    return Run(wall, usage.ru_maxrss / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--upstream", type=Path, help="the Rust replaybook: its export, timed alongside")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ledger = root / "sessions.jsonl"
        make_ledger(ledger, options.sessions)
        env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
        env["REPLAYBOOK_HOME"] = str(root / "home")
        report = root / "report.html"
        cases: dict[str, list[str]] = {
            "cat (the floor)": ["cat", str(ledger)],
            "replay-export (jsonl)": [str(BIN / "replay-export"), "--ledger", str(ledger)],
            "replay-export --format csv": [str(BIN / "replay-export"), "--format", "csv",
                                           "--ledger", str(ledger)],
            "replay-export --outcome timeout": [str(BIN / "replay-export"), "--outcome", "timeout",
                                                "--ledger", str(ledger)],
            "replay-stats": [str(BIN / "replay-stats"), "--ledger", str(ledger)],
            "replay-stats --json": [str(BIN / "replay-stats"), "--json", "--ledger", str(ledger)],
            "replay-next --show": [str(BIN / "replay-next"), "--show"],
            "replay-report --html": [str(BIN / "replay-report"), "--html", str(report),
                                     "--ledger", str(ledger)],
        }
        if options.upstream:
            upstream_data = root / "xdg" / "replaybook" / "sessions"
            upstream_data.mkdir(parents=True)
            (upstream_data / "sessions.jsonl").symlink_to(ledger)
            env["XDG_DATA_HOME"] = str(root / "xdg")
            cases["upstream export"] = [str(options.upstream), "export"]
        # `next --show` reads this machine's ledger: the same one, at REPLAYBOOK_HOME's data dir.
        data = root / "home" / "data"
        data.mkdir(parents=True)
        (data / "sessions.jsonl").symlink_to(ledger)
        for argv in cases.values():
            measured(argv, env)  # warm-up: bytecode caches, the list cache
        runs: dict[str, list[Run]] = {name: [] for name in cases}
        for _ in range(options.runs):
            for name, argv in cases.items():
                runs[name].append(measured(argv, env))
        size = ledger.stat().st_size / 1e6
        print(f"ledger: {options.sessions} sessions, {size:.1f} MB; "
              f"report: {report.stat().st_size / 1e6:.2f} MB; {options.runs} runs each, "
              f"load {os.getloadavg()[0]:.2f}")
        print(f"{'case':36} {'median':>9} {'best':>9} {'peak RSS':>9}")
        for name, measured_runs in runs.items():
            walls = [run.wall for run in measured_runs]
            rss = max(run.rss_mb for run in measured_runs)
            median, best = statistics.median(walls) * 1000, min(walls) * 1000
            print(f"{name:36} {median:7.0f}ms {best:7.0f}ms {rss:7.1f}MB")


if __name__ == "__main__":
    main()
