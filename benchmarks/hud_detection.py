"""What the trainee sees: from a fix landing to the HUD on the screen saying so, in a real
`replaybook run` in tmux, for an http_200 and an exit_zero scenario of the official pack.

Each sample starts `replaybook run SCENARIO` in a terminal of its own (a detached tmux server on
a socket of this script's), waits for the session to be active and its HUD drawn, applies the
scenario's fix with `docker compose exec` (the command prints the container's clock once the
fix is in: container and host share one clock), then reads the session's own tmux panes
(capture-pane, every 20 ms) until one shows "VERIFYING". Every path ends with `replay-down --all`
of the temporary home and both tmux servers killed.

Usage: .venv/bin/python benchmarks/hud_detection.py [--samples 5] [--condition http_200|exit_zero|both]
Figures are written down in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchkit import BIN

COLUMNS, ROWS = 160, 45
SEEN = "VERIFYING"


@dataclass(frozen=True)
class Fix:
    scenario: str
    service: str
    script: str  # run in the service with sh -c; prints nothing


FIXES = {
    "http_200": Fix(
        "001-nginx-502", "web",
        'sed -i "s/server app:3001 /server app:3000 /" /etc/nginx/conf.d/checkout.conf && nginx -s reload',
    ),
    "exit_zero": Fix(
        "009-tls-cert-expired", "edge",
        "cp -L /etc/certrenew/live/edge/fullchain.pem /etc/nginx/tls/edge.crt && "
        "cp -L /etc/certrenew/live/edge/privkey.pem /etc/nginx/tls/edge.key && "
        "chmod 0600 /etc/nginx/tls/edge.key && nginx -s reload",
    ),
}  # fmt: skip


def tmux(socket: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["tmux", "-L", socket, "-f", "/dev/null", *args],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


def session_state(home: Path) -> tuple[str, str]:
    """(session id, status) of the one session of ``home``, or empty strings."""
    sessions = home / "state" / "sessions"
    for directory in sorted(sessions.glob("*")) if sessions.is_dir() else []:
        try:
            state = tomllib.loads((directory / "session.toml").read_text())
            return directory.name, str(state.get("status", ""))
        except (OSError, tomllib.TOMLDecodeError):
            return directory.name, ""
    return "", ""


def hud_says(inner: str, text: str) -> bool:
    panes = tmux(inner, "list-panes", "-a", "-F", "#{pane_id}").stdout.split()
    return any(text in tmux(inner, "capture-pane", "-p", "-t", pane).stdout for pane in panes)


def wait(what: str, until: Callable[[], bool], timeout: float, step: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(step)


def one_sample(fix: Fix, home: Path) -> float:
    outer = f"rbbench-{uuid.uuid4().hex[:8]}"
    command = shlex.join([str(BIN / "replaybook"), "run", fix.scenario])
    env = {k: v for k, v in os.environ.items() if k != "TMUX"}
    subprocess.run(
        ["tmux", "-L", outer, "-f", "/dev/null", "new-session", "-d", "-x", str(COLUMNS), "-y", str(ROWS),
         f"env -u TMUX REPLAYBOOK_HOME={shlex.quote(str(home))} {command}; sleep 3600"],
        check=True, timeout=30, env=env,
    )  # fmt: skip
    session = ""
    try:
        wait("an active session", lambda: session_state(home)[1] == "active", timeout=600)
        session = session_state(home)[0]
        inner = f"replaybook-{session}"
        wait("the HUD", lambda: hud_says(inner, "ACTIVE") or hud_says(inner, "BREACH"), timeout=60)
        time.sleep(2.0)  # the HUD and the watcher settle: this is a trainee who reads the page first
        landed = apply(fix, session)
        while not hud_says(inner, SEEN):
            if time.time() - landed > 30:
                raise RuntimeError("the HUD never said VERIFYING")
            time.sleep(0.02)
        return time.time() - landed
    finally:
        tmux(outer, "kill-server")
        subprocess.run([str(BIN / "replay-down"), "--all"], capture_output=True, check=False,
                       env={**os.environ, "REPLAYBOOK_HOME": str(home)})  # fmt: skip
        if session:
            tmux(f"replaybook-{session}", "kill-server")


def apply(fix: Fix, session: str) -> float:
    done = subprocess.run(
        ["docker", "compose", "-p", f"replaybook-{session}", "exec", "-T", fix.service, "sh", "-c",
         f"{fix.script} >/dev/null 2>&1; date +%s.%N"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return float(done.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--condition", choices=[*FIXES, "both"], default="both")
    args = parser.parse_args()
    chosen = list(FIXES) if args.condition == "both" else [args.condition]
    for condition in chosen:
        latencies = []
        for index in range(args.samples):
            with tempfile.TemporaryDirectory(prefix="replaybook-hudbench-") as home:
                latency = one_sample(FIXES[condition], Path(home))
            latencies.append(latency)
            print(f"{condition} sample {index + 1}: {latency * 1000:.0f} ms", file=sys.stderr)
        latencies.sort()
        p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
        print(
            f"{condition} ({FIXES[condition].scenario}): fix -> HUD says {SEEN}: median "
            f"{statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
            f"min {latencies[0] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms ({len(latencies)} samples)"
        )


if __name__ == "__main__":
    main()
