"""One full-screen terminal program's loop, shared by the HUD and ``replaybook dev``'s console.

:class:`FullScreen` owns what both need around their pictures: the alternate screen with the
cursor hidden, stdin in raw mode (typed keys are neither echoed over the picture nor turned
into signals: the program decides what they mean), the stop signals and SIGWINCH, and a
self-pipe (:class:`Wake`) that threads and signal handlers ring. :meth:`FullScreen.wait`
sleeps until the next whole second, a ring or a key. Plain ANSI, no curses (docs/terminal.md).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

from libreplay.core.signals import STOP_SIGNALS, handling
from libreplay.core.terminal import raw_mode

from .render import Line

STYLES = {"bold": "\x1b[1m", "dim": "\x1b[2m", "green": "\x1b[1;32m", "red": "\x1b[1;31m",
          "yellow": "\x1b[33m"}
RESET = "\x1b[0m"
ENTER_SCREEN = "\x1b[?1049h\x1b[?25l"  # alternate screen, cursor hidden
LEAVE_SCREEN = "\x1b[?25h\x1b[?1049l"
KEYS_READ_AT_ONCE = 1024


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


class FullScreen:
    """The terminal side of a full-screen program. ``stop`` is set by a stop signal (SIGINT,
    SIGTERM, SIGHUP: leave cleanly); SIGWINCH and :meth:`ring` only wake :meth:`wait`."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out
        self.wake = Wake.create()
        self.stop = threading.Event()
        self.keys_open = True  # False once stdin reached its end: no longer selected on

    @contextlib.contextmanager
    def shown(self) -> Iterator[None]:
        """The signals handled, stdin raw and the alternate screen, all as they were on leaving."""
        with self._signals(), self._raw_screen():
            yield

    def ring(self) -> None:
        """Wake :meth:`wait` (safe from any thread)."""
        self.wake.ring()

    def write(self, text: str) -> None:
        with contextlib.suppress(OSError, ValueError):  # the pane went away under us
            self.out.write(text)
            self.out.flush()

    def draw(self, lines: list[Line], width: int) -> None:
        self.write(paint(lines, width))

    def wait(self) -> str | None:
        """Until the next whole second (a clock on screen moves with it), a ring or keys: the
        keys typed ("" for none), or None when stdin has just reached its end."""
        timeout = 1.0 - (time.time() % 1.0) + 0.005
        stdin = self._stdin_fd() if self.keys_open else None
        watched = [self.wake.read_fd, *([stdin] if stdin is not None else [])]
        try:
            ready, _, _ = select.select(watched, [], [], timeout)
        except InterruptedError:
            return ""
        if self.wake.read_fd in ready:
            self.wake.drain()
        if stdin is None or stdin not in ready:
            return ""
        try:
            keys = os.read(stdin, KEYS_READ_AT_ONCE)
        except OSError:
            keys = b""
        if not keys:
            self.keys_open = False  # stop selecting on it, or the loop would spin
            return None
        return keys.decode(errors="replace")

    def close(self) -> None:
        self.wake.close()

    def _signals(self) -> contextlib.AbstractContextManager[None]:
        def leave(_signum: int) -> None:
            self.stop.set()
            self.wake.ring()

        def resize(_signum: int) -> None:
            self.wake.ring()

        return handling({**dict.fromkeys(STOP_SIGNALS, leave), signal.SIGWINCH: resize})

    @contextlib.contextmanager
    def _raw_screen(self) -> Iterator[None]:
        stdin = self._stdin_fd()
        # Raw: a stray Ctrl-C arrives as a key, not as a signal (the stop signals sent from
        # elsewhere are _signals'); no stdin terminal, nothing to set.
        with raw_mode(stdin) if stdin is not None else contextlib.nullcontext():
            self.write(ENTER_SCREEN)
            try:
                yield
            finally:
                self.write(RESET + LEAVE_SCREEN)

    @staticmethod
    def _stdin_fd() -> int | None:
        try:
            fd = sys.stdin.fileno()
        except (AttributeError, ValueError, OSError):
            return None
        return fd if os.isatty(fd) else None
