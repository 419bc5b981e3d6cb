"""The HUD process: draws :func:`render` full-screen and redraws when something changes.

Three things wake the loop, all through one self-pipe that ``select`` waits on:
  * the next whole second (the SLA countdown),
  * a change of ``session.toml`` (a watchfiles watcher on the session directory, in a thread),
  * a signal: SIGWINCH (re-measure and redraw), SIGTERM/SIGHUP/SIGINT (leave).
The state file is read only when the watcher says it changed; the per-second tick redraws
from the state already in memory. The loop ends when the session directory disappears.
Plain ANSI, no curses or rich: the process stays small (see docs/terminal.md).
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import sys
import termios
import threading
import time
import tty
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

from libreplay.core import paths
from libreplay.core.errors import ReplayError
from libreplay.core.signals import handling
from libreplay.core.watch import WatchEvent, follow_directory
from libreplay.session.state import SESSION_FILE, SessionState, load_session, now

from .render import Layout, Line, render

STYLES = {"bold": "\x1b[1m", "dim": "\x1b[2m", "green": "\x1b[1;32m", "red": "\x1b[1;31m",
          "yellow": "\x1b[33m"}
RESET = "\x1b[0m"
ENTER_SCREEN = "\x1b[?1049h\x1b[?25l"  # alternate screen, cursor hidden
LEAVE_SCREEN = "\x1b[?25h\x1b[?1049l"


def paint(lines: list[Line], width: int) -> str:
    """The escape-sequence string that draws ``lines`` from the top-left, clearing leftovers."""
    out = ["\x1b[H"]
    for index, line in enumerate(lines):
        text = line.text[:width]
        style = STYLES.get(line.style, "")
        out.append(f"{style}{text}{RESET if style else ''}\x1b[K")
        if index < len(lines) - 1:
            out.append("\r\n")
    out.append("\x1b[J")  # whatever was below the last line (a taller previous draw) goes
    return "".join(out)


@dataclass
class Wake:
    """A self-pipe: threads and signal handlers write a byte, the loop selects on it."""

    read_fd: int
    write_fd: int

    @classmethod
    def create(cls) -> Wake:
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        os.set_blocking(write_fd, False)
        return cls(read_fd, write_fd)

    def ring(self) -> None:
        with contextlib.suppress(OSError):  # a full pipe already means "wake up"
            os.write(self.write_fd, b"x")

    def drain(self) -> None:
        with contextlib.suppress(OSError):
            while os.read(self.read_fd, 512):
                pass

    def close(self) -> None:
        for fd in (self.read_fd, self.write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


class Hud:
    def __init__(self, session_id: str, layout: Layout, out: TextIO = sys.stdout) -> None:
        self.session_id = session_id
        self.layout = layout
        self.out = out
        self.directory = paths.session_dir(session_id)
        self.wake = Wake.create()
        self.stop = threading.Event()  # also the watcher's stop_event
        self.changed = threading.Event()
        self.keys_open = True
        self.state: SessionState | None = None
        self.draws = 0

    # -- the loop ------------------------------------------------------------------------

    def run(self) -> None:
        self.state = load_session(self.session_id)  # NotFound if there is no such session
        watcher = threading.Thread(target=self._watch, name="hud-watch", daemon=True)
        with self._signals(), self._screen():
            watcher.start()
            while not self.stop.is_set():
                # A stat of the directory, not a read of the file: the file is only read when
                # the watcher reports a change. This catches a removal the watcher missed.
                if not self.directory.is_dir():
                    break
                if self.changed.is_set():
                    self.changed.clear()
                    if not self._reload():
                        break
                self.draw()
                self._sleep_until_next_second()
            self.stop.set()
        watcher.join(timeout=2)
        self.wake.close()

    def draw(self) -> None:
        assert self.state is not None
        size = shutil.get_terminal_size(fallback=(40, 24))  # re-measured on every draw
        lines = render(self.state, now(), size.columns, size.lines, self.layout)
        with contextlib.suppress(OSError, ValueError):  # the pane went away under us
            self.out.write(paint(lines, size.columns))
            self.out.flush()
        self.draws += 1

    def _reload(self) -> bool:
        """Read the state again; False once the session is gone."""
        if not self.directory.is_dir():
            return False
        try:
            self.state = load_session(self.session_id)
        except ReplayError:
            return self.directory.is_dir()  # removed between the check and the read, or torn
        return True

    def _sleep_until_next_second(self) -> None:
        timeout = 1.0 - (time.time() % 1.0) + 0.005
        watched = [self.wake.read_fd]
        stdin = self._stdin_fd() if self.keys_open else None
        if stdin is not None:
            watched.append(stdin)
        try:
            ready, _, _ = select.select(watched, [], [], timeout)
        except InterruptedError:
            return
        if self.wake.read_fd in ready:
            self.wake.drain()
        if stdin is not None and stdin in ready:
            self._read_keys(stdin)

    # -- the watcher thread --------------------------------------------------------------

    def _watch(self) -> None:
        def wake(_why: WatchEvent) -> None:
            # The first CHANGED, once the watch is in place, also means "read again": a change
            # made between the first read and the watch being set up is not lost. GONE: the
            # loop finds the directory missing.
            self.changed.set()
            self.wake.ring()

        follow_directory(self.directory, wake, self.stop, names={SESSION_FILE})

    # -- terminal and signals ------------------------------------------------------------

    @contextlib.contextmanager
    def _screen(self) -> Iterator[None]:
        stdin = self._stdin_fd()
        saved = termios.tcgetattr(stdin) if stdin is not None else None
        if stdin is not None:
            # Raw: typed keys are neither echoed over the HUD nor turned into signals (a stray
            # Ctrl-C in the HUD pane must not close it); _read_keys decides what they mean.
            tty.setraw(stdin)
        self._write(ENTER_SCREEN)
        try:
            yield
        finally:
            self._write(RESET + LEAVE_SCREEN)
            if stdin is not None and saved is not None:
                with contextlib.suppress(termios.error):
                    termios.tcsetattr(stdin, termios.TCSADRAIN, saved)

    def _signals(self) -> contextlib.AbstractContextManager[None]:
        def leave(_signum: int) -> None:
            self.stop.set()
            self.wake.ring()

        def resize(_signum: int) -> None:
            self.wake.ring()

        return handling({signal.SIGTERM: leave, signal.SIGHUP: leave, signal.SIGINT: leave,
                         signal.SIGWINCH: resize})

    def _stdin_fd(self) -> int | None:
        try:
            fd = sys.stdin.fileno()
        except (AttributeError, ValueError, OSError):
            return None
        return fd if os.isatty(fd) else None

    def _read_keys(self, fd: int) -> None:
        """Keys typed into the HUD are swallowed; standalone, ``q`` or Ctrl-C leaves."""
        try:
            keys = os.read(fd, 1024)
        except OSError:
            keys = b""
        if not keys:
            self.keys_open = False  # end of input: stop selecting on it, or the loop would spin
        elif not self.layout.in_tmux and (b"q" in keys or b"\x03" in keys):
            self.stop.set()

    def _write(self, text: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.out.write(text)
            self.out.flush()


def run_hud(session_id: str, layout: Layout) -> int:
    """Run until the session directory disappears or a signal asks to stop; returns draws made."""
    hud = Hud(session_id, layout)
    hud.run()
    return hud.draws
