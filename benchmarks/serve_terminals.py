"""What `replaybook serve`'s browser terminals cost, and how quickly a key comes back.

`replaybook serve` of this interpreter's virtual environment runs on a free loopback port in a
temporary REPLAYBOOK_HOME; a training of N seats (default 4) of one scenario (default the
official 001-nginx-502) is created and every seat started through the HTTP API, and every
trainee's terminal is opened over a real WebSocket (the `websockets` client), up to its prompt.
Then, terminals open and idle:
- the server's resident memory, and that of its children by kind: the sessions' watchers
  (`replay-check --watch`) and whatever carries a terminal (anything else: replay-shell,
  asciinema, docker before serve's terminals were execs of the engine's API);
- their CPU over one window (default 20 s), as a share of one core;
and then the keystroke-to-echo latency on one terminal: K keystrokes (default 100), each sent
as the page sends it ({"input": "x"}) once the previous one came back; p50 and p95.
SIGTERM stops the server, which tears every session down; `replay-down --all` in the temporary
home follows on every path, and the home is removed.

Usage: .venv/bin/python benchmarks/serve_terminals.py [--seats 4] [--seconds 20] [--keys 100]
Run it with /work/main/.venv/bin/python (another checkout's environment) for a before/after.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from contextlib import suppress
from typing import Any

import psutil
from benchkit import BIN, free_port, replay, serve_api

MB = 1024 * 1024






def started(base: str, tokens: list[str]) -> list[str]:
    for token in tokens:
        serve_api(base, "/api/seat/start", token, {})
    sessions: dict[str, str] = {}
    deadline = time.monotonic() + 900
    while len(sessions) < len(tokens):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the sessions did not start: {sessions}")
        for token in tokens:
            view = serve_api(base, "/api/seat", token)
            if view.get("error"):
                raise RuntimeError(view["error"])
            if view.get("session") and view.get("status") == "active":
                sessions[token] = view["session"]
        time.sleep(1)
    return [sessions[token] for token in tokens]


def open_terminal(base: str, token: str) -> Any:
    from websockets.sync.client import connect

    url = base.replace("http://", "ws://") + f"/ws/terminal?token={token}&service=web"
    with warnings.catch_warnings():  # held open across the measures: no `with` block fits
        warnings.simplefilter("ignore", DeprecationWarning)
        terminal = connect(url, origin=base, max_size=None)  # type: ignore[arg-type]
    seen = b""
    deadline = time.monotonic() + 60
    while b"# " not in seen:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no prompt: {seen!r}")
        seen += terminal.recv(timeout=60)
    return terminal


def kinds(server: psutil.Process) -> dict[str, list[psutil.Process]]:
    """The server, its watchers (with the checks they run), its reaper (core.proc's, one per
    process), and every other child: what carries the terminals."""
    found: dict[str, list[psutil.Process]] = {"server": [server], "watchers": [], "reaper": [],
                                              "terminals": []}
    for child in server.children():
        with suppress(psutil.Error):
            line = " ".join(child.cmdline())
            kind = "watchers" if "replay-check" in line else "reaper" if "trap '' HUP INT TERM" in line \
                else "terminals"
            found[kind] += [child, *child.children(recursive=True)]
    return found


def names(processes: list[psutil.Process]) -> str:
    seen = []
    for process in processes:
        with suppress(psutil.Error):
            seen.append(" ".join(process.cmdline())[:60])
    return "; ".join(seen)


def rss_mb(processes: list[psutil.Process]) -> float:
    total = 0
    for process in processes:
        with suppress(psutil.Error):
            total += process.memory_info().rss
    return total / MB


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        with suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def latencies(terminal: Any, keys: int) -> list[float]:
    measured = []
    for n in range(keys):
        key = "abcdefghijklmnopqrstuvwxyz"[n % 26]
        began = time.perf_counter()
        terminal.send(json.dumps({"input": key}))
        got = b""
        while key.encode() not in got:
            got += terminal.recv(timeout=10)
        measured.append((time.perf_counter() - began) * 1000)
    terminal.send(json.dumps({"input": "\x15"}))  # Ctrl-U: the line typed is cleared
    return measured


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seats", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--keys", type=int, default=100)
    parser.add_argument("--scenario", default="001-nginx-502")
    options = parser.parse_args()
    home = tempfile.mkdtemp(prefix="replaybook-bench-serve-")
    os.environ["REPLAYBOOK_HOME"] = home
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([str(BIN / "replaybook"), "serve", "--bind", f"127.0.0.1:{port}",
                                "--max-sessions", str(options.seats)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    terminals: list[Any] = []
    try:
        assert process.stdout is not None
        facilitator = process.stdout.readline().strip().rsplit("token=", 1)[1]
        made = serve_api(base, "/api/trainings", facilitator, {
            "scenarios": [options.scenario], "seats": [f"t{n}" for n in range(options.seats)],
            "session_minutes": 60})
        tokens = [invite["url"].rsplit("/", 1)[1] for invite in made["invites"]]
        began = time.monotonic()
        started(base, tokens)
        print(f"{options.seats} sessions up in {time.monotonic() - began:.0f} s", file=sys.stderr)
        terminals = [open_terminal(base, token) for token in tokens]
        time.sleep(5)  # settled
        server = psutil.Process(process.pid)
        found = kinds(server)
        before = {kind: cpu_seconds(group) for kind, group in found.items()}
        time.sleep(options.seconds)
        found = kinds(server)
        for kind, group in found.items():
            share = (cpu_seconds(group) - before[kind]) / options.seconds
            print(f"{kind:9}: {len(group):2} process(es), RSS {rss_mb(group):6.1f} MB, "
                  f"CPU {100 * share:5.1f} % of one core (idle, terminals open)")
            if kind == "terminals" and group:
                print(f"  {names(group[:4])} …")
        measured = latencies(terminals[0], options.keys)
        quantiles = statistics.quantiles(measured, n=100)
        print(f"keystroke to echo over {options.keys} keys: p50 {statistics.median(measured):.1f} ms, "
              f"p95 {quantiles[94]:.1f} ms, max {max(measured):.1f} ms")
    finally:
        for terminal in terminals:
            with suppress(Exception):
                terminal.close()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=600)
        with suppress(RuntimeError):
            replay("replay-down", "--all")
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
