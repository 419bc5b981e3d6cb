"""What idle sessions cost: the CPU and memory replaybook adds to N broken, unplayed sessions.

N sessions (default 12) of one scenario (default the official 001-nginx-502) are brought up and
broken in a temporary REPLAYBOOK_HOME, each with its real watcher (`replay-check --watch`).
After a settling pause, over one window (default 60 s) it measures:
- the probe containers' CPU, from the engine's own accounting of each container (the cgroup's
  total usage in the stats API, read once at each end of the window);
- the watcher processes' CPU (psutil), on their own and with the children they waited for
  (the scripts of exit_zero checks and guards: bash and the Compose CLI);
- the watchers' resident memory at the end of the window.
Everything is torn down on every path: the watchers are stopped and `replay-down --all` removes
every session of the temporary home, on success, on a failure and on Ctrl-C or SIGTERM.

Usage: .venv/bin/python benchmarks/idle_cost.py [--sessions 12] [--seconds 60] [--scenario 001-nginx-502]
Figures are written down in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

import psutil
from benchkit import BIN, replay

PROBE_SERVICE = "replaybook-probe"
TARGET_SHARE_PER_SESSION = 0.01  # of one core
TARGET_WATCHER_MB = 30.0


def broken_session(scenario: str) -> str:
    session = replay("replay-up", scenario)
    replay("replay-break", session)
    return session


def probe_cpu_seconds(sessions: list[str]) -> dict[str, float]:
    """Each session's probe container's total CPU time so far (engine accounting), in seconds."""
    from libreplay.engine import docker_api

    used = {}
    for session in sessions:
        found = docker_api.labelled(
            "containers", running_only=True, project=f"replaybook-{session}", service=PROBE_SERVICE
        )
        if found:
            stats = found[0].stats(stream=False, one_shot=True)
            used[session] = stats["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9
    return used


def cpu_seconds(process: psutil.Process, *, children: bool) -> float:
    times = process.cpu_times()
    own = times.user + times.system
    return float(own + times.children_user + times.children_system) if children else float(own)


@dataclass
class Window:
    seconds: float
    probes: dict[str, float]  # CPU seconds per session's probe over the window
    watchers: dict[str, float]  # CPU seconds of each watcher itself
    watchers_with_children: dict[str, float]  # ... with the scripts it ran
    rss_mb: dict[str, float]
    threads: dict[str, int]


def measure(sessions: list[str], watchers: dict[str, psutil.Process], seconds: float) -> Window:
    probes_before = probe_cpu_seconds(sessions)
    own_before = {s: cpu_seconds(p, children=False) for s, p in watchers.items()}
    all_before = {s: cpu_seconds(p, children=True) for s, p in watchers.items()}
    started = time.monotonic()
    time.sleep(seconds)
    probes_after = probe_cpu_seconds(sessions)
    elapsed = time.monotonic() - started
    return Window(
        seconds=elapsed,
        probes={s: probes_after[s] - probes_before[s] for s in probes_before if s in probes_after},
        watchers={s: cpu_seconds(p, children=False) - own_before[s] for s, p in watchers.items()},
        watchers_with_children={
            s: cpu_seconds(p, children=True) - all_before[s] for s, p in watchers.items()
        },
        rss_mb={s: p.memory_info().rss / 2**20 for s, p in watchers.items()},
        threads={s: p.num_threads() for s, p in watchers.items()},
    )


def report(window: Window, sessions: int) -> bool:
    def share(values: dict[str, float]) -> float:
        return sum(values.values()) / window.seconds

    probes, own = share(window.probes), share(window.watchers)
    with_children = share(window.watchers_with_children)
    per_session = (probes + with_children) / sessions
    rss = list(window.rss_mb.values())
    print(f"window: {window.seconds:.1f} s, {sessions} sessions (share of one core)")
    print(f"probe containers: {probes:.2%} together, {probes / sessions:.2%} each")
    print(f"watchers: {own:.2%} together on their own, {with_children:.2%} with the scripts they ran")
    target = TARGET_SHARE_PER_SESSION
    print(f"per session, probe + watcher + scripts: {per_session:.2%} (target <= {target:.0%})")
    print(
        f"watcher RSS: mean {statistics.mean(rss):.1f} MB, max {max(rss):.1f} MB, total {sum(rss):.0f} MB "
        f"(target <= {TARGET_WATCHER_MB:.0f} MB each); threads {max(window.threads.values())} at most"
    )
    return per_session <= TARGET_SHARE_PER_SESSION and max(rss) <= TARGET_WATCHER_MB


@contextmanager
def interrupts_raise() -> Iterator[None]:
    """SIGTERM as Ctrl-C, so the teardown below runs for both."""

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def tear_down(watchers: dict[str, subprocess.Popen[bytes]]) -> None:
    with interrupts_ignored():
        for watcher in watchers.values():
            watcher.terminate()
        for watcher in watchers.values():
            try:
                watcher.wait(timeout=30)
            except subprocess.TimeoutExpired:
                watcher.kill()
        subprocess.run([str(BIN / "replay-down"), "--all"], capture_output=True, check=False, env=os.environ)


@contextmanager
def interrupts_ignored() -> Iterator[None]:
    """A second Ctrl-C must not cut the teardown short."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN), signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=60.0, help="the measured window")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds before the window opens")
    parser.add_argument("--scenario", default="001-nginx-502")
    parser.add_argument("--parallel", type=int, default=3, help="sessions brought up at once")
    args = parser.parse_args()
    watchers: dict[str, subprocess.Popen[bytes]] = {}
    with tempfile.TemporaryDirectory(prefix="replaybook-idle-") as home, interrupts_raise():
        os.environ["REPLAYBOOK_HOME"] = home
        try:
            with ThreadPoolExecutor(args.parallel) as pool:
                sessions = list(pool.map(broken_session, [args.scenario] * args.sessions))
            for session in sessions:
                watchers[session] = subprocess.Popen(
                    [str(BIN / "replay-check"), session, "--watch"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ,
                )  # fmt: skip
            print(f"{len(sessions)} sessions of {args.scenario} up and broken; settling", file=sys.stderr)
            time.sleep(args.settle)
            processes = {session: psutil.Process(w.pid) for session, w in watchers.items()}
            window = measure(sessions, processes, args.seconds)
        except KeyboardInterrupt:
            print("interrupted: tearing down", file=sys.stderr)
            return 130
        finally:
            tear_down(watchers)
    return 0 if report(window, len(sessions)) else 1


if __name__ == "__main__":
    sys.exit(main())
