"""`replaybook report --html` over a big team ledger: time and size.

A temporary ledger of --sessions sessions (5,000 by default) is made up: --players players over
the official pack's eleven scenario ids, one session every ~1.75 hours of a year, outcomes,
times, hints and scores drawn from a seeded random generator (the same ledger every run). The
installed `replay-report` is timed from spawn to exit (the interpreter, matplotlib's import, the
ledger read, the charts and the page, the write), --runs times; the page's size is reported,
and the share of it the four inline SVG charts take.

Usage: .venv/bin/python benchmarks/report_big_ledger.py [--sessions 5000] [--players 12] [--runs 3]
Figures are written down in docs/progress.md (the report's section).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

SCENARIOS = [
    "001-nginx-502", "002-postgres-wont-start", "003-missing-env-var", "004-disk-full", "005-oom-kill",
    "006-sidekiq-cant-connect", "007-redis-oom-eviction", "008-migration-lock", "009-tls-cert-expired",
    "010-dns-misconfig", "011-too-many-open-files",
]


def ledger_lines(sessions: int, players: int, seed: int = 14) -> list[dict[str, object]]:
    draw = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    lines = []
    for number in range(sessions):
        played = start + timedelta(minutes=105 * number + draw.randrange(60))
        outcome = draw.choices(["success", "timeout", "abandoned"], weights=[7, 2, 1])[0]
        elapsed = draw.uniform(60, 880) if outcome == "success" else (900.0 if outcome == "timeout"
                                                                       else draw.uniform(30, 600))
        hints = draw.randrange(4)
        score = max(100, 400 + round(600 * (1 - elapsed / 900)) - 50 * hints) if outcome == "success" else 0
        lines.append({
            "session": f"{number:08x}", "scenario": draw.choice(SCENARIOS), "pack": "official", "fault": None,
            "player": f"player{draw.randrange(players):02d}", "started_at": played.isoformat(),
            "ended_at": (played + timedelta(seconds=elapsed)).isoformat(), "outcome": outcome,
            "elapsed_seconds": round(elapsed, 2), "sla_seconds": 900, "hints_used": hints, "hints_total": 3,
            "score": score, "relapses": 0, "guards_tripped": [], "transcript": f"/t/{number:08x}.cast",
        })
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=5000)
    parser.add_argument("--players", type=int, default=12)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    command = Path(sys.executable).parent / "replay-report"
    with tempfile.TemporaryDirectory() as work:
        ledger, page = Path(work) / "team.jsonl", Path(work) / "team.html"
        ledger.write_text("".join(json.dumps(line) + "\n" for line in ledger_lines(options.sessions,
                                                                                    options.players)))
        times = []
        for _ in range(options.runs):
            began = time.perf_counter()
            subprocess.run([str(command), "--html", str(page), "--ledger", str(ledger)], check=True,
                           capture_output=True, timeout=600)
            times.append(time.perf_counter() - began)
        text = page.read_text()
        charts = sum(len(svg) for svg in re.findall(r"<svg.*?</svg>", text, flags=re.DOTALL))
        print(f"{options.sessions} sessions, {options.players} players: "
              f"{min(times):.2f} s best, {max(times):.2f} s worst of {options.runs}; "
              f"page {len(text.encode()) / 1e6:.2f} MB, charts {charts / 1e6:.2f} MB "
              f"(ledger {ledger.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
