"""Fix-detection latency and watcher CPU, measured on the real engine.

For each sample: a fresh session of an http_200 scenario is brought up and broken, the real
watcher (`replay-check --watch`) is started, and the fix is applied inside the container,
which stamps the moment it lands (container and host share one clock). The latency is
from that stamp to the moment `session.toml` on the host says the fix was seen: `verifying`
(the hold begins; the hold itself is a rule of the game, not latency, so it is set to 0 here and
the session resolves at once). Before each fix
the watcher idles for a while; its CPU time over that idle window and over the whole run
gives its share of one core.

Usage: .venv/bin/python benchmarks/detection_latency.py [--samples 20] [--idle 10]
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
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "tests" / "fixtures" / "testpack" / "t-http"
BIN = Path(sys.executable).parent


def replay(*argv: str) -> str:
    result = subprocess.run(
        [str(BIN / argv[0]), *argv[1:]], capture_output=True, text=True, check=False, env=os.environ
    )
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{result.stderr}")
    return result.stdout.strip()


def session_status(session: str) -> str:
    path = Path(os.environ["REPLAYBOOK_HOME"]) / "state" / "sessions" / session / "session.toml"
    try:
        return str(tomllib.loads(path.read_text()).get("status", ""))
    except (OSError, tomllib.TOMLDecodeError):
        return ""


def one_sample(idle_seconds: float) -> tuple[float, float, float]:
    """Return (latency seconds, idle CPU share, whole-run CPU share) of the watcher."""
    session = replay("replay-up", str(SCENARIO))
    try:
        replay("replay-break", session, "--fault", "script")
        watcher = subprocess.Popen(
            [str(BIN / "replay-check"), session, "--watch"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ,
        )  # fmt: skip
        process = psutil.Process(watcher.pid)
        time.sleep(1.0)  # start-up (imports, attaching to the probe) is not idle time
        idle_wall, idle_cpu = time.monotonic(), _cpu(process)
        time.sleep(idle_seconds)
        idle_share = (_cpu(process) - idle_cpu) / (time.monotonic() - idle_wall)
        fix = subprocess.run(
            ["docker", "compose", "-p", f"replaybook-{session}", "exec", "-T", "app", "sh", "-c",
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
        return latency, idle_share, whole_share
    finally:
        replay("replay-down", session)


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds the watcher idles per sample")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="replaybook-bench-") as home:
        os.environ["REPLAYBOOK_HOME"] = home
        os.environ["REPLAYBOOK_HOLD_SECONDS"] = "0"
        latencies, idle_shares, whole_shares = [], [], []
        for index in range(args.samples):
            latency, idle_share, whole_share = one_sample(args.idle)
            latencies.append(latency)
            idle_shares.append(idle_share)
            whole_shares.append(whole_share)
            print(
                f"sample {index + 1:2}: {latency * 1000:6.0f} ms, watcher idle CPU {idle_share:.2%}",
                file=sys.stderr,
            )
    latencies.sort()
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    print(f"samples: {len(latencies)}")
    print(
        f"fix -> seen (verifying) latency: median {statistics.median(latencies) * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
    )
    print(
        f"watcher CPU (share of one core): idle mean {statistics.mean(idle_shares):.2%}, "
        f"idle max {max(idle_shares):.2%}, idle + detection mean {statistics.mean(whole_shares):.2%}"
    )


if __name__ == "__main__":
    main()
