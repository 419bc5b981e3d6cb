"""Noisy neighbours (issue 15): does one session's attack on its own container slow another's?

Two sessions (A and B) of a small scenario (default the tests' t-exit: one Debian container) in a
temporary REPLAYBOOK_HOME, with the default per-container limits ("on") and then with none
("off", REPLAYBOOK_SESSION_LIMITS=off). For each, B's round trips are measured with A idle,
then with A under attack in its shell container, as root:
- a fork bomb (a binary tree of shells, bounded at FORK_DEPTH levels: about 4,000 processes
  with their sleeps, so that the "off" case cannot take this shared machine's process table with it),
- a memory hog (``head -c 3g /dev/zero | tail``, again and again: 3 GiB held each time),
- a CPU burner (one busy loop per host core, plus one).
B's figures: ``replay-check B`` (a Python process and check.sh's ``docker compose exec``) and a
``docker exec B true`` through the SDK, each timed ROUNDS times. A's figures: what the engine
reports of A's container (processes, memory) during the attack.
Everything is torn down on every path (``replay-down --all`` of the temporary home).

Usage: .venv/bin/python benchmarks/noisy_neighbour.py [--rounds 5] [--scenario DIR] [--only on|off]
Figures are written down in docs/benchmarks.md ("Noisy neighbours (issue 15)").
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchkit import BIN, replay

ROOT = Path(__file__).resolve().parent.parent
T_EXIT = ROOT / "tests" / "fixtures" / "testpack" / "t-exit"
FORK_DEPTH = 10  # 2**11 - 1 shells at most (and a sleep each)
FORK_BOMB = ("f() { if [ $1 -gt 0 ]; then f $(($1 - 1)) | f $(($1 - 1)) & fi; sleep 120; }; "
             f"f {FORK_DEPTH}")
MEMORY_HOG = "while :; do head -c 3g /dev/zero | tail > /dev/null; done"
SETTLE_SECONDS = 8


def cpu_burner() -> str:
    loops = (os.cpu_count() or 2) + 1
    return f"for i in $(seq {loops}); do (while :; do :; done) & done; wait"


@contextmanager
def temporary_home() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="noisy-") as home:
        previous = os.environ.get("REPLAYBOOK_HOME")
        os.environ["REPLAYBOOK_HOME"] = home
        try:
            yield Path(home)
        finally:
            subprocess.run([str(BIN / "replay-down"), "--all"], capture_output=True, check=False,
                           timeout=300)
            if previous is None:
                os.environ.pop("REPLAYBOOK_HOME", None)
            else:
                os.environ["REPLAYBOOK_HOME"] = previous


def shell_container(session: str) -> Any:
    from libreplay.engine import docker_api

    found = docker_api.labelled("containers", running_only=True, project=f"replaybook-{session}")
    return next(c for c in found if c.labels.get("com.docker.compose.service") != "replaybook-probe")


def timed(action: Callable[[], object]) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def check(session: str) -> None:
    result = subprocess.run([str(BIN / "replay-check"), session], capture_output=True, text=True,
                            check=False, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"replay-check {session} failed:\n{result.stderr}")


def round_trips(session: str, container: Any, rounds: int) -> dict[str, list[float]]:
    return {
        "check": [timed(lambda: check(session)) for _ in range(rounds)],
        "exec": [timed(lambda: container.exec_run(["true"])) for _ in range(rounds * 2)],
    }


def engine_view(container: Any) -> dict[str, float]:
    stats = container.stats(stream=False)
    container.reload()
    host = container.attrs["HostConfig"]
    return {
        "pids": float(stats["pids_stats"].get("current", 0)),
        "memory_mb": stats["memory_stats"].get("usage", 0) / 2**20,
        "pids_limit": float(host.get("PidsLimit") or 0),
        "memory_limit_mb": (host.get("Memory") or 0) / 2**20,
        "cpus_limit": (host.get("NanoCpus") or 0) / 1e9,
    }


def one_case(limits: str, scenario: Path, rounds: int) -> dict[str, Any]:
    with temporary_home():
        os.environ["REPLAYBOOK_SESSION_LIMITS"] = limits
        try:
            a, b = replay("replay-up", str(scenario)), replay("replay-up", str(scenario))
        finally:
            os.environ.pop("REPLAYBOOK_SESSION_LIMITS", None)
        box_a, box_b = shell_container(a), shell_container(b)
        idle = round_trips(b, box_b, rounds)
        for command in (MEMORY_HOG, cpu_burner(), FORK_BOMB):
            box_a.exec_run(["sh", "-c", command], detach=True)
        time.sleep(SETTLE_SECONDS)
        under_attack = round_trips(b, box_b, rounds)
        seen = engine_view(box_a)
        load = os.getloadavg()[0]
        teardown = timed(lambda: [replay("replay-down", s) for s in (a, b)])
        return {"limits": limits, "idle": idle, "attack": under_attack, "a": seen, "load": load,
                "teardown": teardown}


def line(name: str, times: list[float]) -> str:
    return f"{name}: median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms"


def report(case: dict[str, Any]) -> None:
    print(f"limits {case['limits']}: A's container as the engine saw it under attack: "
          f"{case['a']['pids']:.0f} processes (limit {case['a']['pids_limit']:.0f}), "
          f"{case['a']['memory_mb']:.0f} MiB (limit {case['a']['memory_limit_mb']:.0f}), "
          f"cpus limit {case['a']['cpus_limit']:g}; load {case['load']:.1f}; "
          f"teardown {case['teardown']:.1f} s")
    for phase in ("idle", "attack"):
        for what in ("check", "exec"):
            print(f"  A {phase:6} B {line(what, case[phase][what])}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scenario", type=Path, default=T_EXIT)
    parser.add_argument("--only", choices=("on", "off"))
    options = parser.parse_args()
    for limits in ("on", "off"):
        if options.only in (None, limits):
            report(one_case(limits, options.scenario, options.rounds))
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
