"""A shell on a pseudo-terminal, carried to browsers: what it prints goes to every listener
(the trainee's terminal, a facilitator watching read-only); what is typed comes from the one
writer the web layer lets write (the trainee). Terminal bytes go only to a terminal emulator
(xterm.js), never into a page.
"""

from __future__ import annotations

import fcntl
import os
import queue
import struct
import termios
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress

from libreplay.core import proc

BACKLOG_BYTES = 64 * 1024  # what a listener who arrives late is shown first (a mentor's view)
READ_BYTES = 64 * 1024
STOP_GRACE_SECONDS = 3.0
# Typed input waits for the shell in a queue of its own (a writer thread blocks, never the
# caller): this many pieces at most, then more is dropped until the shell reads again.
PENDING_INPUT_PIECES = 64

Listener = Callable[[bytes], None]  # b"" once: the shell ended


class TerminalBridge:
    def __init__(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
                 rows: int = 24, cols: int = 80) -> None:
        self.argv = list(argv)
        self._env = dict(env) if env is not None else dict(os.environ)
        self._env.setdefault("TERM", "xterm-256color")
        self._size = (rows, cols)
        self._listeners: list[Listener] = []
        self._backlog = bytearray()
        self._lock = threading.Lock()
        self._master = -1
        self._child: proc.Child | None = None
        self._input: queue.Queue[bytes | None] = queue.Queue(maxsize=PENDING_INPUT_PIECES)
        self.ended = threading.Event()
        # start() and close() in turn: a bridge closed before it started never starts (the
        # session ended while its shell was being opened), one being started is closed after.
        self._life = threading.Lock()
        self._stopped = False

    def start(self) -> None:
        with self._life:
            if self._stopped:
                return
            self._start()

    def _start(self) -> None:
        master, child_end = os.openpty()
        self._master = master
        self._set_size(*self._size)
        try:
            self._child = proc.spawn_on_terminal(self.argv, child_end, env=self._env)
        except BaseException:
            os.close(master)
            self._master = -1
            raise
        finally:
            os.close(child_end)
        threading.Thread(target=self._pump, name="terminal-bridge", daemon=True).start()
        # The writer holds a copy of the master of its own, closed by itself only: a write
        # that blocks while close() runs can never land on a reused descriptor number.
        threading.Thread(target=self._feed, args=(os.dup(master),), name="terminal-input",
                         daemon=True).start()

    def _pump(self) -> None:
        while True:
            try:
                chunk = os.read(self._master, READ_BYTES)
            except OSError:  # EIO: every holder of the child end is gone
                chunk = b""
            with self._lock:
                if chunk:
                    self._backlog += chunk
                    del self._backlog[:-BACKLOG_BYTES]
                listeners = list(self._listeners)
            for listener in listeners:
                with suppress(Exception):  # one listener's failure is not the others'
                    listener(chunk)
            if not chunk:
                break
        if self._child is not None:
            self._child.wait(STOP_GRACE_SECONDS)
        self.ended.set()

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Add a listener, first handed what the shell printed lately; returns its removal."""
        with self._lock:
            backlog = bytes(self._backlog)
            self._listeners.append(listener)
        if backlog:
            listener(backlog)
        if self.ended.is_set():
            listener(b"")

        def remove() -> None:
            with self._lock, suppress(ValueError):
                self._listeners.remove(listener)

        return remove

    def write(self, data: bytes) -> bool:
        """Hand ``data`` to the shell without waiting for it to read: False if it was dropped
        (the shell ended, or has not read what was typed before)."""
        if self.ended.is_set() or self._master < 0 or not data:
            return False
        try:
            self._input.put_nowait(data)
        except queue.Full:
            return False
        return True

    def _feed(self, master: int) -> None:
        try:
            while (data := self._input.get()) is not None:
                while data:
                    data = data[os.write(master, data):]
        except OSError:  # the shell is gone
            pass
        finally:
            os.close(master)

    def resize(self, rows: int, cols: int) -> None:
        rows, cols = max(2, min(rows, 500)), max(10, min(cols, 1000))
        self._size = (rows, cols)
        if self._master >= 0 and not self.ended.is_set():
            self._set_size(rows, cols)

    def _set_size(self, rows: int, cols: int) -> None:
        with suppress(OSError):
            fcntl.ioctl(self._master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def close(self) -> None:
        """Stop the shell (its whole process group) and release the terminal."""
        with self._life:
            self._stopped = True
            if self._child is None:  # never started: nothing runs, nothing to wait for
                self.ended.set()
        child = self._child
        if child is not None and child.poll() is None:
            child.stop(grace=STOP_GRACE_SECONDS)
        self.ended.wait(STOP_GRACE_SECONDS)
        with suppress(queue.Full):  # a full queue: the writer stops on the shell's end instead
            self._input.put_nowait(None)
        if self._master >= 0:
            with suppress(OSError):
                os.close(self._master)
            self._master = -1

    @property
    def closed(self) -> bool:
        return self._master < 0
