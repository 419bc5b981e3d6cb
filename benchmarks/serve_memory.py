"""What `replaybook serve` holds in memory with its sessions watched: the resident memory of the
server process, and of everything it runs (its process tree), idle and with 1 and N sessions.

A real `replay-serve` runs on a free loopback port in a temporary REPLAYBOOK_HOME; the script
makes a training with N named seats through the facilitator's API, starts one seat and waits
for it to be active (broken, watched), measures, then starts the others (3 at a time, as the
server allows) and measures again. Each measure is taken after a settling pause: the RSS of the
server process (psutil), and the RSS summed over its whole process tree, with the number of
`replay-check` processes in it (the fix watchers, when they were children).

Everything is torn down on every path: serve is stopped with SIGTERM (it tears down every
session it started) and `replay-down --all` of the temporary home removes what is left.

Usage: .venv/bin/python benchmarks/serve_memory.py [--sessions 4] [--scenario 001-nginx-502]
Figures are written down in docs/benchmarks.md ("Serve's memory").
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from benchkit import BIN, free_port, replay, serve_api

SETTLE_SECONDS = 10.0
START_TIMEOUT_SECONDS = 600.0


@dataclass(frozen=True)
class Measure:
    sessions: int
    server_mb: float
    tree_mb: float
    watcher_children: int
    threads: int






def measure(server: psutil.Process, sessions: int) -> Measure:
    time.sleep(SETTLE_SECONDS)
    tree = [server, *server.children(recursive=True)]
    total = 0
    watchers = 0
    for process in tree:
        try:
            total += process.memory_info().rss
            watchers += any("replay-check" in part for part in process.cmdline()[:2])
        except psutil.Error:
            continue
    return Measure(sessions, server.memory_info().rss / 2**20, total / 2**20, watchers, server.num_threads())


def wait_active(base: str, tokens: list[str]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    pending = list(tokens)
    while pending:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} seat(s) never became active")
        for token in list(pending):
            view = serve_api(base, "/api/seat", token)
            if view.get("error"):
                raise RuntimeError(f"a seat failed: {view['error']}")
            if view.get("status") == "active":
                pending.remove(token)
        time.sleep(2)


def start_seats(base: str, tokens: list[str]) -> None:
    for token in tokens:
        serve_api(base, "/api/seat/start", token, {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--scenario", default="001-nginx-502")
    options = parser.parse_args()
    home = tempfile.mkdtemp(prefix="replaybook-serve-memory-")
    os.environ["REPLAYBOOK_HOME"] = home
    port = free_port()
    said = (Path(home) / "serve.err").open("w")  # open while serve runs, closed at the end
    serve = subprocess.Popen(
        [str(BIN / "replay-serve"), "--bind", f"127.0.0.1:{port}", "--max-sessions", str(options.sessions)],
        stdout=subprocess.PIPE, stderr=said, text=True, env=os.environ,
    )
    try:
        assert serve.stdout is not None
        url = serve.stdout.readline().strip()
        token = re.search(r"token=(\S+)", url)
        if token is None:
            raise RuntimeError(f"serve printed no URL: {url!r}")
        base = f"http://127.0.0.1:{port}"
        server = psutil.Process(serve.pid)
        results = [measure(server, 0)]
        made = serve_api(base, "/api/trainings", token.group(1), {
            "scenarios": [options.scenario], "seats": [f"t{n}" for n in range(options.sessions)],
            "session_minutes": 60,
        })
        tokens = [invite["url"].rsplit("/", 1)[1] for invite in made["invites"]]
        start_seats(base, tokens[:1])
        wait_active(base, tokens[:1])
        results.append(measure(server, 1))
        for first in range(1, len(tokens), 3):
            start_seats(base, tokens[first:first + 3])
            wait_active(base, tokens[first:first + 3])
        results.append(measure(server, len(tokens)))
    finally:
        serve.terminate()
        try:
            serve.wait(timeout=300)
        except subprocess.TimeoutExpired:
            serve.kill()
        try:
            replay("replay-down", "--all")
        except RuntimeError as failure:
            print(failure)
        said.close()
        told = (Path(home) / "serve.err").read_text(errors="replace").splitlines()
        shutil.rmtree(home, ignore_errors=True)
    # What serve said besides its address and its stop: a watcher that stopped, a pool's warning.
    for line in told[1:]:
        if not line.startswith(("Interrupted", "Tore down")):
            print(f"serve said: {line}")
    print("| sessions | server RSS | server + children RSS | replay-check children | server threads |")
    print("|---|---|---|---|---|")
    for found in results:
        print(f"| {found.sessions} | {found.server_mb:.1f} MB | {found.tree_mb:.1f} MB | "
              f"{found.watcher_children} | {found.threads} |")


if __name__ == "__main__":
    main()
