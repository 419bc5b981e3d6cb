"""A fake session engine for replaybook serve's tests: sessions are states in memory, the
shell is a real program on a real PTY (``cat``, or a small shell) behind the same stream
interface as the engine's exec, nothing touches Docker."""

from __future__ import annotations

import fcntl
import itertools
import os
import signal
import struct
import subprocess
import termios
import threading
from collections.abc import Callable
from contextlib import suppress
from datetime import timedelta
from pathlib import Path

from libreplay.core.errors import NotFound, SessionError
from libreplay.session.state import ABANDONED, ACTIVE, RESOLVED, SessionState, now

HINTS = ["Look at the proxy's error log.", "The upstream's port is <b>wrong</b>."]


class FakeEngine:
    def __init__(self, shell: list[str] | None = None, *, fail_start: str = "") -> None:
        self.shell_argv = shell or ["cat"]
        self.doors: list[PtyDoor] = []
        self.fail_start = fail_start
        self.states: dict[str, SessionState] = {}
        self.ended: list[str] = []
        self.started: list[tuple[str, str]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def start(self, scenario: str, *, player: str, sla_minutes: int | None) -> str:
        if self.fail_start:
            raise SessionError(self.fail_start)
        with self._lock:
            session_id = f"fake{next(self._ids):04d}"
        started = now()
        sla = 60 * (sla_minutes or 15)
        self.states[session_id] = SessionState(
            id=session_id, scenario=scenario, pack="official", scenario_dir="/nowhere",
            project=f"replaybook-{session_id}", status=ACTIVE, fault="f", shell_service="proxy",
            services=["proxy", "app"], sla_seconds=sla, created_at=started, started_at=started,
            deadline=started + timedelta(seconds=sla), hints_total=len(HINTS), player=player,
            page="PAGE: <script>alert(1)</script> 502s", title="Bad \x1b[31mgateway",
        )
        self.started.append((session_id, player))
        return session_id

    def state(self, session_id: str) -> SessionState | None:
        return self.states.get(session_id)

    def hint(self, session_id: str) -> tuple[int, int, str] | None:
        state = self.states[session_id]
        if state.hints_used >= len(HINTS):
            return None
        state.hints_used += 1
        state.hints_revealed = [*state.hints_revealed, HINTS[state.hints_used - 1]]
        return state.hints_used, len(HINTS), HINTS[state.hints_used - 1]

    def resolve(self, session_id: str) -> None:
        state = self.states[session_id]
        state.status, state.score, state.resolved_at = RESOLVED, 870, now()

    def end(self, session_id: str) -> None:
        if session_id not in self.states:
            raise NotFound(session_id)
        state = self.states.pop(session_id)
        if state.status == ACTIVE:
            state.status = ABANDONED
        self.ended.append(session_id)

    def shell(self, session_id: str, service: str) -> PtyDoor:
        door = PtyDoor(self.shell_argv)
        self.doors.append(door)
        return door

    def debrief(self, session_id: str) -> list[str]:
        state = self.states.get(session_id)
        return ["== debrief ==", f"Outcome: {state.status if state else 'ended'}"]


class PtyShell:
    """A program on a pseudo-terminal of its own, as a shell stream."""

    def __init__(self, argv: list[str], rows: int, cols: int) -> None:
        self.master, child_end = os.openpty()
        self.resize(rows, cols)
        try:
            # Its controlling terminal, in a session of its own (a test's program: not core.proc's
            # business, whose children are replaybook's).
            self.child = subprocess.Popen(
                argv, stdin=child_end, stdout=child_end, stderr=child_end, close_fds=True,
                env={**os.environ, "TERM": "xterm"}, start_new_session=True,
                preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),  # noqa: PLW1509 - one ioctl
            )
        finally:
            os.close(child_end)
        self._lock = threading.Lock()

    def read(self) -> bytes:
        try:
            return os.read(self.master, 64 * 1024)
        except OSError:  # EIO: the program ended; EBADF: closed
            return b""

    def write(self, data: bytes) -> None:
        with self._lock:  # close() stops the program first: a blocked write then fails
            if self.master < 0:
                raise OSError("closed")
            while data:
                data = data[os.write(self.master, data):]

    def resize(self, rows: int, cols: int) -> None:
        with suppress(OSError):
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def close(self) -> None:
        if self.child.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.child.pid, signal.SIGKILL)
        self.child.wait(5)
        with self._lock:
            master, self.master = self.master, -1
        if master >= 0:
            with suppress(OSError):
                os.close(master)


class PtyDoor:
    """Opens the fake shell: at once (its container always runs); leaving it ends the visit."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.opened: list[PtyShell] = []

    def open(self, rows: int, cols: int, *, say: Callable[[str], None],
             stopped: threading.Event) -> PtyShell | None:
        if stopped.is_set():
            return None
        shell = PtyShell(self.argv, rows, cols)
        self.opened.append(shell)
        return shell

    def reopen_line(self) -> str | None:
        return None


def helper_processes(root: int) -> list[str]:
    """``root``'s descendants that would watch a session or carry a terminal (a watcher, a
    shell, a recorder): serve runs none, its watchers and terminals are its own threads. A
    guard's `docker compose exec -T` (no terminal) is the scenario's check, not one of them."""
    import psutil

    found = []
    for child in psutil.Process(root).children(recursive=True):
        try:
            line = " ".join(child.cmdline())
        except psutil.Error:
            continue
        words = [Path(word).name for word in line.split()]
        terminal = words[:1] == ["docker"] and "-it" in words
        if terminal or {"replay-shell", "replay-check", "asciinema"} & set(words) or "asciinema" in line:
            found.append(line)
    return found
