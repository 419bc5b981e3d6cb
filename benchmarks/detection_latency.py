"""Fix-detection latency and watcher CPU, measured on the real engine, for both success conditions.

For each condition (``http_200``: tests/fixtures/testpack/t-http, followed through the probe;
``exit_zero``: tests/fixtures/testpack/t-exit, whose check.sh runs through ``docker compose
exec``) and each sample: a fresh session is brought up and broken, the real
watcher (`replay-check --watch`) is started, and the fix is applied inside the container,
which stamps the moment it lands (container and host share one clock). The latency is
from that stamp to the moment `session.toml` on the host says the fix was seen: `verifying`
(the hold begins; the hold itself is a rule of the game, not latency, so it is set to 0 here and
the session resolves at once). Before each fix
the watcher idles for a while; its CPU time over that idle window and over the whole run
gives its share of one core; "with children" adds the check.sh runs it waited for (bash, the
Compose CLI), which an exit_zero watcher starts.

Usage: .venv/bin/python benchmarks/detection_latency.py [--samples 20] [--idle 10]
       [--condition http_200|exit_zero|both]
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
import tomllib
from dataclasses import dataclass
from pathlib import Path

import psutil
from benchkit import BIN, replay

ROOT = Path(__file__).resolve().parent.parent
TESTPACK = ROOT / "tests" / "fixtures" / "testpack"


@dataclass(frozen=True)
class Condition:
    """A scenario of one success condition, how to break it, and the fix applied in a container."""

    name: str
    scenario: Path
    break_args: tuple[str, ...]
    service: str


CONDITIONS = {
    "http_200": Condition("http_200", TESTPACK / "t-http", ("--fault", "script"), "app"),
    "exit_zero": Condition("exit_zero", TESTPACK / "t-exit", (), "box"),
}


def session_status(session: str) -> str:
    path = Path(os.environ["REPLAYBOOK_HOME"]) / "state" / "sessions" / session / "session.toml"
    try:
        return str(tomllib.loads(path.read_text()).get("status", ""))
    except (OSError, tomllib.TOMLDecodeError):
        return ""


@dataclass
class Sample:
    latency: float  # seconds from the fix landing to session.toml saying verifying
    idle_share: float  # the watcher's own CPU over the idle window, share of one core
    idle_share_children: float  # the same with the check.sh runs it waited for
    whole_share: float  # the watcher's own CPU from the idle window's start through detection


def one_sample(condition: Condition, idle_seconds: float) -> Sample:
    session = replay("replay-up", str(condition.scenario))
    try:
        replay("replay-break", session, *condition.break_args)
        watcher = subprocess.Popen(
            [str(BIN / "replay-check"), session, "--watch"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ,
        )  # fmt: skip
        process = psutil.Process(watcher.pid)
        time.sleep(1.0)  # start-up (imports, attaching to the probe) is not idle time
        idle_wall, idle_cpu, idle_all = time.monotonic(), _cpu(process), _cpu(process, children=True)
        time.sleep(idle_seconds)
        idle_elapsed = time.monotonic() - idle_wall
        idle_share = (_cpu(process) - idle_cpu) / idle_elapsed
        idle_children = (_cpu(process, children=True) - idle_all) / idle_elapsed
        fix = subprocess.run(
            ["docker", "compose", "-p", f"replaybook-{session}", "exec", "-T", condition.service, "sh", "-c",
             "echo up > /srv/state; date +%s.%N"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        landed = float(fix.stdout.strip().splitlines()[-1])
        while session_status(session) not in ("verifying", "resolved"):
            time.sleep(0.002)
        latency = time.time() - landed
        # From the end of start-up through the detection: the watcher's steady share.
        whole_share = (_cpu(process) - idle_cpu) / (time.monotonic() - idle_wall)
        watcher.wait(timeout=30)
        return Sample(latency, idle_share, idle_children, whole_share)
    finally:
        replay("replay-down", session)


def _cpu(process: psutil.Process, *, children: bool = False) -> float:
    times = process.cpu_times()
    own = float(times.user + times.system)
    return own + float(times.children_user + times.children_system) if children else own


def run_condition(condition: Condition, samples: int, idle: float) -> None:
    taken: list[Sample] = []
    for index in range(samples):
        sample = one_sample(condition, idle)
        taken.append(sample)
        print(
            f"{condition.name} sample {index + 1:2}: {sample.latency * 1000:6.0f} ms, watcher idle CPU "
            f"{sample.idle_share:.2%} ({sample.idle_share_children:.2%} with check.sh)",
            file=sys.stderr,
        )
    latencies = sorted(sample.latency for sample in taken)
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    print(f"{condition.name}: samples: {len(latencies)}")
    print(
        f"{condition.name}: fix -> seen (verifying) latency: median "
        f"{statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"max {latencies[-1] * 1000:.0f} ms"
    )
    idle_shares = [sample.idle_share for sample in taken]
    print(
        f"{condition.name}: watcher CPU (share of one core): idle mean {statistics.mean(idle_shares):.2%}, "
        f"idle max {max(idle_shares):.2%}, idle with check.sh runs mean "
        f"{statistics.mean(sample.idle_share_children for sample in taken):.2%}, "
        f"idle + detection mean {statistics.mean(sample.whole_share for sample in taken):.2%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds the watcher idles per sample")
    parser.add_argument("--condition", choices=[*CONDITIONS, "both"], default="both")
    args = parser.parse_args()
    chosen = list(CONDITIONS.values()) if args.condition == "both" else [CONDITIONS[args.condition]]
    with tempfile.TemporaryDirectory(prefix="replaybook-bench-") as home:
        os.environ["REPLAYBOOK_HOME"] = home
        os.environ["REPLAYBOOK_HOLD_SECONDS"] = "0"
        for condition in chosen:
            run_condition(condition, args.samples, args.idle)


if __name__ == "__main__":
    main()
