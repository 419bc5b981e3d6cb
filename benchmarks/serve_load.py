"""A training day under load: N trainees (default 12) play one scenario at once through a real
`replaybook serve`, each with a WebSocket client typing a command every second.

One run, side by side, in a temporary REPLAYBOOK_HOME:
1. The baseline without serve: `replay-up SCENARIO | replay-break` for N sessions in parallel,
   then `replay-down --all` (what the issue measured before serve existed), each timed.
2. `replaybook serve --max-sessions N` as a user starts it (its own process, read from its
   printed facilitator URL). A training with N named seats; every seat's Start is pressed at
   once; timed until every seat's page says `active` (up, broken, the clock running).
3. Every trainee's page socket (`/ws/seat`) and shell socket (`/ws/terminal`) are opened, as
   the browser page opens them. For a window (default 60 s) each client types a command every
   second, one key at a time, each key sent once the previous one came back: keystroke-to-echo
   latency is the time from a key's send to its echo on the socket. The clients start spread
   over the first second (a fixed shuffle of i/N s), as a room's trainees do not type in step.
   Over that window: the CPU of everything replaybook runs for the trainees, the server and
   every process under it (watchers, shells, the guards' scripts: the children they waited for
   are counted) from psutil, and the probe sidecars from the engine's own accounting (the stats
   API's cgroup total at each end of the window); the resident memory of the server with its
   descendants, sampled every 2 s (the highest sum over the window; the highest over the whole
   play, the fixes and their holds included, is shown apart), plus the probes' memory at the
   window's end.
4. Each trainee types the fix (a paste, as one message), spread over 3 s (the same shuffle).
   Fix-to-page latency is the time from the fix's own output on the terminal (it ends with
   `&& echo FIX-LANDED`: nginx reloaded) to the page socket's first view saying `verifying`
   (the check passes) or `resolved`.
5. SIGTERM to the server, as Ctrl-C at the end of the day, timed until it exited (it tears down
   every session it started); then the engine is asked, by label, for anything left.
Everything is torn down on every path (`replay-down --all` of the temporary home, the server
killed), Ctrl-C and SIGTERM included.

Usage: .venv/bin/python benchmarks/serve_load.py [--sessions 12] [--seconds 60] [--no-baseline]
Figures are written down in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import psutil
from benchkit import BIN, free_port, replay, serve_api
from websockets.asyncio.client import ClientConnection, connect

SCENARIO = "001-nginx-502"
FIX = ('sed -i "s/server app:3001 /server app:3000 /" /etc/nginx/conf.d/checkout.conf '
       "&& nginx -s reload && echo FIX-LANDED\r")
PROBE_SERVICE = "replaybook-probe"
PASSING = ("verifying", "resolved")
TARGET_ECHO_P95_MS = 50.0
TARGET_FIX_P95_S = 1.0
TARGET_CPU_SHARE = 0.40
TARGET_RSS_MB = 400.0


# -- the server, the temporary home, teardown on every path -----------------------------------




@contextmanager
def temporary_home() -> Iterator[Path]:
    home = Path(tempfile.mkdtemp(prefix="serve-load-"))
    os.environ["REPLAYBOOK_HOME"] = str(home)
    try:
        yield home
    finally:
        subprocess.run([str(BIN / "replay-down"), "--all"], capture_output=True, check=False, timeout=600)
        shutil.rmtree(home, ignore_errors=True)


class Server:
    """`replaybook serve` in a process of its own, as a facilitator starts it."""

    def __init__(self, sessions: int) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [str(BIN / "replaybook"), "serve", "--bind", f"127.0.0.1:{self.port}",
             "--max-sessions", str(sessions)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # the facilitator URL, once it listens
        found = re.search(r"token=(\S+)", line)
        if found is None:
            self.kill()
            raise RuntimeError(f"serve printed no facilitator URL: {line!r}\n{self.stderr()}")
        self.token = found.group(1)
        self.base = f"http://127.0.0.1:{self.port}"

    def stderr(self) -> str:
        if self.process.poll() is None or self.process.stderr is None:
            return ""
        return self.process.stderr.read()

    def api(self, path: str, token: str, body: Any = None) -> Any:
        return serve_api(self.base, path, token, body, timeout=60)

    def stop(self) -> float:
        """SIGTERM, as at the end of the day: the seconds until it exited."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=600)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError("serve did not stop within 10 minutes of SIGTERM") from None
        return time.monotonic() - started

    def kill(self) -> None:
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def stop_on_signals() -> None:
    def interrupted(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)


# -- what replaybook runs for the trainees: CPU and memory --------------------------------------


def tree_cpu_seconds(root: psutil.Process) -> float:
    """CPU time of ``root`` and everything under it: the live ones' own and their waited-for
    children's (a process that ended is in its parent's children times)."""
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        with suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
    return total


def own_cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def tree_rss_mb(root: psutil.Process) -> tuple[float, int]:
    """Resident memory of ``root`` and its descendants (MB), and how many processes they are."""
    total, count = 0, 0
    for process in [root, *root.children(recursive=True)]:
        with suppress(psutil.NoSuchProcess):
            total += process.memory_info().rss
            count += 1
    return total / 2**20, count


def this_home() -> str:
    """The label value of the temporary home's sessions: other sessions on the engine (another
    home's) are neither measured nor taken for leftovers."""
    from libreplay.session.stack import home_id

    return home_id()


def probes() -> list[Any]:
    from libreplay.engine import docker_api

    return list(docker_api.labelled("containers", running_only=True, service=PROBE_SERVICE, home=this_home()))


def probe_cpu_seconds() -> dict[str, float]:
    return {c.id: c.stats(stream=False, one_shot=True)["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9
            for c in probes()}


def probe_rss_mb() -> float:
    """The probes' memory as `docker stats` counts it: the cgroup's usage less its inactive page
    cache (files read once, which the kernel drops first)."""
    total = 0
    for container in probes():
        memory = container.stats(stream=False, one_shot=True)["memory_stats"]
        stats = memory.get("stats", {})
        total += memory.get("usage", 0) - stats.get("total_inactive_file", stats.get("inactive_file", 0))
    return total / 2**20


@dataclass
class Sampler:
    """The server tree's resident memory every 2 s, on a thread: its peak over the typing window
    (the issue's condition), and over the whole play (the room's fixes and their holds too,
    when every session's guards run a round every 2 s)."""

    root: psutil.Process
    peak_mb: float = 0.0
    peak_processes: int = 0
    server_peak_mb: float = 0.0  # the server process alone
    play_peak_mb: float = 0.0
    play_peak_processes: int = 0
    in_window: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> Sampler:
        threading.Thread(target=self._run, daemon=True).start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(2.0):
            mb, count = tree_rss_mb(self.root)
            self.play_peak_mb = max(self.play_peak_mb, mb)
            self.play_peak_processes = max(self.play_peak_processes, count)
            if not self.in_window.is_set():
                continue
            with suppress(psutil.NoSuchProcess):
                self.server_peak_mb = max(self.server_peak_mb, self.root.memory_info().rss / 2**20)
            self.peak_mb, self.peak_processes = max(self.peak_mb, mb), max(self.peak_processes, count)


# -- the trainees ------------------------------------------------------------------------------


@dataclass
class Trainee:
    name: str
    token: str
    echo_ms: list[float] = field(default_factory=list)
    session: str = ""
    lost_keys: int = 0
    commands: int = 0
    fix_landed: float | None = None
    page_passing: float | None = None
    page_resolved: float | None = None


class Terminal:
    """One trainee's shell socket: what it printed, and a way to wait for more."""

    def __init__(self, socket_: ClientConnection) -> None:
        self.socket = socket_
        self.seen = bytearray()
        self.arrived = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.socket:
            if isinstance(message, bytes):
                self.seen += message
                self.arrived.set()

    async def until(self, wanted: bytes, start: int, timeout: float) -> int | None:
        """Wait until ``wanted`` shows after offset ``start``: the offset past it, or None."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.seen.find(wanted, start)
            if found >= 0:
                return found + len(wanted)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.arrived.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), left)

    async def type(self, text: str) -> None:
        await self.socket.send(json.dumps({"input": text}))


async def follow_page(server: Server, trainee: Trainee, origin: str) -> None:
    """The trainee's page socket: when it first says the check passes, and resolved."""
    url = f"ws://127.0.0.1:{server.port}/ws/seat?token={trainee.token}"
    async with connect(url, origin=origin, ping_interval=None) as page:  # type: ignore[arg-type]
        async for message in page:
            status = json.loads(message).get("status")
            if status in PASSING and trainee.page_passing is None:
                trainee.page_passing = time.monotonic()
            if status == "resolved":
                trainee.page_resolved = time.monotonic()
                return


async def keystrokes(terminal: Terminal, trainee: Trainee, until: float, phase: float) -> None:
    """A command a second, typed a key at a time, each key's echo timed; the first one after
    ``phase`` seconds (people in a room do not type in step)."""
    await asyncio.sleep(phase)
    while time.monotonic() < until:
        started = time.monotonic()
        trainee.commands += 1
        command = f"echo tick-{trainee.commands}"
        for key in command:
            mark = len(terminal.seen)
            sent = time.monotonic()
            await terminal.type(key)
            if await terminal.until(key.encode(), mark, timeout=5.0) is None:
                trainee.lost_keys += 1
            else:
                trainee.echo_ms.append((time.monotonic() - sent) * 1000)
        mark = len(terminal.seen)
        await terminal.type("\r")
        # Only the command's output ends the line after the word (bash may put bracketed-paste
        # codes before it); the typed line's echo does not.
        await terminal.until(f"tick-{trainee.commands}\r\n".encode(), mark, timeout=5.0)
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))


async def play(server: Server, trainees: list[Trainee], seconds: float, window: Window) -> None:
    origin = f"http://127.0.0.1:{server.port}"
    pages = [asyncio.create_task(follow_page(server, t, origin)) for t in trainees]
    terminals = []
    for trainee in trainees:
        url = f"ws://127.0.0.1:{server.port}/ws/terminal?token={trainee.token}&service=web"
        terminals.append(Terminal(await connect(url, origin=origin, ping_interval=None)))  # type: ignore[arg-type]
    for terminal in terminals:
        if await terminal.until(b"# ", 0, timeout=60) is None:
            raise RuntimeError("a trainee's shell showed no prompt within a minute")
    await asyncio.sleep(3)  # the shells' first rounds (the watchers see them open) settle
    await asyncio.to_thread(window.begin)  # the engine's stats take a while: off the loop
    until = time.monotonic() + seconds
    phases = random.Random(15).sample([n / len(trainees) for n in range(len(trainees))], len(trainees))
    await asyncio.gather(*(keystrokes(term, t, until, phase)
                           for term, t, phase in zip(terminals, trainees, phases, strict=True)))
    await asyncio.to_thread(window.end)
    await asyncio.gather(*(fix(term, t, 3 * phase)
                           for term, t, phase in zip(terminals, trainees, phases, strict=True)))
    await asyncio.wait_for(asyncio.gather(*pages), timeout=120)
    for terminal in terminals:
        await terminal.socket.close()


async def fix(terminal: Terminal, trainee: Trainee, after: float) -> None:
    await asyncio.sleep(after)  # the room's fixes come within a few seconds, not at one instant
    mark = len(terminal.seen)
    await terminal.type(FIX)
    if await terminal.until(b"FIX-LANDED\r\n", mark, timeout=30) is None:
        raise RuntimeError(f"{trainee.name}'s fix never ran")
    trainee.fix_landed = time.monotonic()


@dataclass
class Window:
    server: psutil.Process
    sampler: Sampler
    seconds: float = 0.0
    cpu_server: float = 0.0
    cpu_server_alone: float = 0.0  # the server process's own, its children's aside
    cpu_probes: float = 0.0
    probe_mb: float = 0.0
    _start: tuple[float, float, float, dict[str, float]] = (0.0, 0.0, 0.0, {})

    def begin(self) -> None:
        self.sampler.in_window.set()
        self._start = (time.monotonic(), tree_cpu_seconds(self.server), own_cpu_seconds(self.server),
                       probe_cpu_seconds())

    def end(self) -> None:
        self.sampler.in_window.clear()
        began, server_cpu, own_cpu, probe_cpu = self._start
        self.seconds = time.monotonic() - began
        self.cpu_server = tree_cpu_seconds(self.server) - server_cpu
        self.cpu_server_alone = own_cpu_seconds(self.server) - own_cpu
        after = probe_cpu_seconds()
        self.cpu_probes = sum(after[c] - probe_cpu.get(c, after[c]) for c in after)
        self.probe_mb = probe_rss_mb()


# -- the run -------------------------------------------------------------------------------------


def baseline(sessions: int, scenario: str, made: list[str]) -> tuple[float, float]:
    """`replay-up | replay-break` N times in parallel, then `replay-down --all`: seconds each
    (the sessions' ids are added to ``made``)."""
    up = f"{BIN / 'replay-up'} {scenario} | {BIN / 'replay-break'}"
    started = time.monotonic()
    with ThreadPoolExecutor(sessions) as pool:
        results = list(pool.map(lambda _n: subprocess.run(["bash", "-o", "pipefail", "-c", up],
                                                          capture_output=True, text=True, check=False),
                                range(sessions)))
    up_seconds = time.monotonic() - started
    made += [line for r in results for line in r.stdout.split() if line]
    failed = [r.stderr for r in results if r.returncode != 0]
    started = time.monotonic()
    replay("replay-down", "--all")
    down_seconds = time.monotonic() - started
    if failed:
        raise RuntimeError(f"{len(failed)} baseline session(s) failed:\n{failed[0]}")
    return up_seconds, down_seconds


def start_all(server: Server, trainees: list[Trainee]) -> float:
    """Press every seat's Start at once: the seconds until every page says active."""
    started = time.monotonic()
    with ThreadPoolExecutor(len(trainees)) as pool:
        list(pool.map(lambda t: server.api("/api/seat/start", t.token, {}), trainees))
    waiting = set(range(len(trainees)))
    while waiting:
        if time.monotonic() - started > 900:
            raise RuntimeError(f"{len(waiting)} session(s) not active after 15 minutes")
        for index in sorted(waiting):
            view = server.api("/api/seat", trainees[index].token)
            trainees[index].session = view.get("session") or ""
            if view.get("error"):
                raise RuntimeError(f"{trainees[index].name}'s session failed: {view['error']}")
            if view.get("status") == "active":
                waiting.discard(index)
        time.sleep(0.25)
    return time.monotonic() - started


def leftovers(sessions: list[str]) -> list[str]:
    """What the engine still holds of these sessions' Compose projects, by label."""
    from libreplay.engine import docker_api

    kinds = ("containers", "networks", "volumes")
    return [o.name for session in sessions for kind in kinds
            for o in docker_api.labelled(kind, project=f"replaybook-{session}")]  # type: ignore[arg-type]


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else (values[0] if values else 0.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--scenario", default=SCENARIO)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    stop_on_signals()
    sessions: list[str] = []
    with temporary_home():
        figures: dict[str, Any] = {}
        if not args.no_baseline:
            figures["baseline_up_s"], figures["baseline_down_s"] = baseline(args.sessions, args.scenario,
                                                                              sessions)
            print(f"baseline: up|break {figures['baseline_up_s']:.1f} s, down --all "
                  f"{figures['baseline_down_s']:.1f} s", file=sys.stderr)
        server = Server(args.sessions)
        try:
            figures.update(serve_run(server, args, sessions))
        finally:
            if server.process.poll() is None:
                figures["serve_down_s"] = server.stop()
        figures["left"] = leftovers(sessions)
    report(figures, args)
    return 0 if not figures["left"] else 1


def serve_run(server: Server, args: argparse.Namespace, sessions: list[str]) -> dict[str, Any]:
    names = [f"trainee-{n + 1:02d}" for n in range(args.sessions)]
    made = server.api("/api/trainings", server.token, {
        "scenarios": [args.scenario], "seats": names, "session_minutes": 60})
    trainees = [Trainee(name, invite["url"].rsplit("/", 1)[1])
                for name, invite in zip(names, made["invites"], strict=True)]
    try:
        up_seconds = start_all(server, trainees)
    finally:
        sessions += [t.session for t in trainees if t.session]
    print(f"serve: {args.sessions} sessions active in {up_seconds:.1f} s", file=sys.stderr)
    root = psutil.Process(server.process.pid)
    with Sampler(root) as sampler:
        window = Window(root, sampler)
        asyncio.run(play(server, trainees, args.seconds, window))
    echo = [ms for t in trainees for ms in t.echo_ms]
    to_page = [t.page_passing - t.fix_landed for t in trainees if t.page_passing and t.fix_landed]
    return {
        "serve_up_s": up_seconds, "window_s": window.seconds,
        "echo_p50_ms": statistics.median(echo), "echo_p95_ms": p95(echo), "keys": len(echo),
        "lost_keys": sum(t.lost_keys for t in trainees), "commands": sum(t.commands for t in trainees),
        "fix_p50_s": statistics.median(to_page), "fix_p95_s": p95(to_page), "fixes_seen": len(to_page),
        "cpu_server": window.cpu_server / window.seconds, "cpu_probes": window.cpu_probes / window.seconds,
        "cpu_server_alone": window.cpu_server_alone / window.seconds,
        "rss_server_mb": sampler.peak_mb, "processes": sampler.peak_processes,
        "rss_server_alone_mb": sampler.server_peak_mb,
        "rss_play_mb": sampler.play_peak_mb, "play_processes": sampler.play_peak_processes,
        "rss_probes_mb": window.probe_mb,
    }


def report(f: dict[str, Any], args: argparse.Namespace) -> None:
    cpu = f["cpu_server"] + f["cpu_probes"]
    rss = f["rss_server_mb"] + f["rss_probes_mb"]
    lines = [
        f"{args.sessions} x {args.scenario} through replaybook serve; typing window {f['window_s']:.0f} s",
        "",
        "| figure | measured | target |",
        "|---|---|---|",
        f"| keystroke → echo, p50 / p95 ({f['keys']} keys, {f['lost_keys']} lost) | "
        f"{f['echo_p50_ms']:.1f} / {f['echo_p95_ms']:.1f} ms | p95 ≤ {TARGET_ECHO_P95_MS:.0f} ms |",
        f"| fix → page shows the check passing, p50 / p95 ({f['fixes_seen']} fixes) | "
        f"{f['fix_p50_s']:.2f} / {f['fix_p95_s']:.2f} s | p95 ≤ {TARGET_FIX_P95_S:.0f} s |",
        f"| CPU: server and everything under it | {100 * f['cpu_server']:.1f} % of a core | |",
        f"| CPU: of which the server process itself | {100 * f['cpu_server_alone']:.1f} % | |",
        f"| CPU: probe sidecars | {100 * f['cpu_probes']:.1f} % | |",
        f"| **CPU together** | **{100 * cpu:.1f} %** | < {100 * TARGET_CPU_SHARE:.0f} % |",
        f"| memory: server tree, peak ({f['processes']} processes at most) | {f['rss_server_mb']:.0f} MB | |",
        f"| memory: the server process alone, peak | {f['rss_server_alone_mb']:.0f} MB | |",
        f"| memory: probe sidecars | {f['rss_probes_mb']:.0f} MB | |",
        f"| **memory together** | **{rss:.0f} MB** | < {TARGET_RSS_MB:.0f} MB |",
        f"| memory: server tree, peak over the whole play, the fixes and holds too "
        f"({f['play_processes']} processes at most) | {f['rss_play_mb']:.0f} MB | |",
        f"| {args.sessions} sessions up and broken through serve (every Start at once) | "
        f"{f['serve_up_s']:.1f} s | ≤ baseline |",
        f"| serve's stop (SIGTERM) tearing all down | {f.get('serve_down_s', 0):.1f} s | ≤ baseline |",
    ]
    if "baseline_up_s" in f:
        lines += [
            f"| baseline: `replay-up \\| replay-break` x {args.sessions} in parallel | "
            f"{f['baseline_up_s']:.1f} s | |",
            f"| baseline: `replay-down --all` | {f['baseline_down_s']:.1f} s | |",
        ]
    lines += ["", f"left in the engine after the stop: {f['left'] or 'nothing'}"]
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
