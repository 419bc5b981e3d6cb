"""A shell in a service container, carried to browsers: what it prints goes to every listener
(the trainee's terminal, a facilitator watching read-only) and into its recording; what is
typed comes from the one writer the web layer lets write (the trainee). Terminal bytes go only
to a terminal emulator (xterm.js), never into a page.

The shell is a :class:`ShellStream` the engine's :class:`ShellDoor` opens (the real one: an exec
of the engine's API, in this process: libreplay.play.shell.ServiceShell). The bridge keeps the
semantics of ``replay-shell``'s visit: while the container is not running the terminal says so
and waits; when the container stops under the shell it is opened again; when the trainee leaves
the shell (``exit``) the bridge ends (the day makes a new one on the next visit, appending to
the recording).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Protocol

from libreplay.core.errors import ReplayError
from libreplay.core.text import inert
from libreplay.training.recording import CastRecorder

BACKLOG_BYTES = 64 * 1024  # what a listener who arrives late is shown first (a mentor's view)
STOP_GRACE_SECONDS = 3.0
# Typed input waits for the shell in a queue of its own (a writer thread blocks, never the
# caller): this many pieces at most, then more is dropped until the shell reads again.
PENDING_INPUT_PIECES = 64
# Dropped input is said on the terminal itself (every listener sees it; the recording does
# not): one line, at most this often, so a long paste into a busy shell does not flood it.
DROPPED_NOTICE_SECONDS = 5.0
DROPPED_NOTICE = ("[replaybook] the shell is not reading what you type: some input was dropped. "
                  "Type it again once the shell answers.")
_WAKE = b""  # put on the input queue to have the writer look at a new size

Listener = Callable[[bytes], None]  # b"" once: the shell ended


class ShellStream(Protocol):
    """An open shell: read() waits for output (b"" once it ended), write() may block while the
    shell does not read (OSError once it is gone), close() wakes both up."""

    def read(self) -> bytes: ...

    def write(self, data: bytes) -> None: ...

    def resize(self, rows: int, cols: int) -> None: ...

    def close(self) -> None: ...


class ShellDoor(Protocol):
    """How a service's shell is opened (again), as the engine knows it."""

    def open(self, rows: int, cols: int, *, say: Callable[[str], None],
             stopped: threading.Event) -> ShellStream | None:
        """The shell, once it can be opened (saying why it waits meanwhile); None once
        ``stopped`` is set; a ReplayError when it never will (the session ended)."""
        ...

    def reopen_line(self) -> str | None:
        """Once the shell ended: None when the trainee left it, else what to say before it is
        opened again (its container stopped under it)."""
        ...


class TerminalBridge:
    def __init__(self, door: ShellDoor, *, record: Path | None = None,
                 rows: int = 24, cols: int = 80) -> None:
        self.door = door
        self._record = record
        self._size = (rows, cols)
        self._resize_due = False
        self._listeners: list[Listener] = []
        self._backlog = bytearray()
        self._lock = threading.Lock()
        self._shell_changed = threading.Condition(self._lock)  # a shell opened, or the bridge ended
        self._stream: ShellStream | None = None
        self._input: queue.Queue[bytes | None] = queue.Queue(maxsize=PENDING_INPUT_PIECES)
        self.dropped_input = 0  # pieces of typed input dropped so far
        self._noticed_at = -DROPPED_NOTICE_SECONDS
        self.ended = threading.Event()
        # start() and close() in turn: a bridge closed before it started never starts (the
        # session ended while its shell was being opened), one being started is closed after.
        self._life = threading.Lock()
        self._stopped = threading.Event()
        self._started = False

    def start(self) -> None:
        with self._life:
            if self._stopped.is_set():
                return
            self._started = True
            threading.Thread(target=self._run, name="terminal-shell", daemon=True).start()
            threading.Thread(target=self._feed, name="terminal-input", daemon=True).start()

    # -- the shell's life, as replay-shell's visit ------------------------------------------------

    def _run(self) -> None:
        recorder: CastRecorder | None = None
        try:
            while not self._stopped.is_set():
                stream = self.door.open(*self._size, say=self.say, stopped=self._stopped)
                if stream is None or not self._hold(stream):
                    break
                if recorder is None and self._record is not None:
                    recorder = self._recorder(self._record)
                self._pump(stream, recorder)
                self._let_go(stream)
                line = None if self._stopped.is_set() else self.door.reopen_line()
                if line is None:
                    break
                self.say(line)
        except ReplayError as failed:
            self.say(failed.message)
        except Exception as failed:  # noqa: BLE001 - an engine failure ends this terminal, said, not the server
            self.say(f"the shell could not be opened: {type(failed).__name__}: {failed}")
        finally:
            if recorder is not None:
                recorder.close()
            self._finish()

    def _recorder(self, path: Path) -> CastRecorder | None:
        rows, cols = self._size
        try:
            return CastRecorder(path, cols=cols, rows=rows)
        except (OSError, ValueError) as failed:
            self.say(f"this shell is not recorded: {failed}")
            return None

    def _hold(self, stream: ShellStream) -> bool:
        """Make ``stream`` the shell typed into; False (and it is closed) if the bridge was
        closed meanwhile: close() closes the stream it finds, or this finds close() was called."""
        with self._lock:
            if not self._stopped.is_set():
                self._stream = stream
                self._resize_due = True  # the page may have resized while the shell was opened
                self._shell_changed.notify_all()
                wake = True
            else:
                wake = False
        if not wake:
            stream.close()
            return False
        with suppress(queue.Full):
            self._input.put_nowait(_WAKE)
        return True

    def _let_go(self, stream: ShellStream) -> None:
        with self._lock:
            self._stream = None
        stream.close()

    def _pump(self, stream: ShellStream, recorder: CastRecorder | None) -> None:
        while chunk := stream.read():
            if recorder is not None:
                recorder.output(chunk)
            self._show(chunk)

    def _show(self, chunk: bytes) -> None:
        with self._lock:
            self._backlog += chunk
            del self._backlog[:-BACKLOG_BYTES]
            listeners = list(self._listeners)
        for listener in listeners:
            with suppress(Exception):  # one listener's failure is not the others'
                listener(chunk)

    def _finish(self) -> None:
        with self._lock:
            self._stream = None
            self.ended.set()
            self._shell_changed.notify_all()
            listeners = list(self._listeners)
        for listener in listeners:
            with suppress(Exception):
                listener(b"")
        with suppress(queue.Full):  # a full queue: the writer drains it (no shell) and meets this later
            self._input.put(None, timeout=STOP_GRACE_SECONDS)

    def say(self, line: str) -> None:
        """A line of ours on the terminal (not recorded: the transcript is the shell's)."""
        self._show(f"\r\n{inert(line)}\r\n".encode())

    # -- listeners, input, size ----------------------------------------------------------------

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Add a listener, first handed what the shell printed lately; returns its removal."""
        with self._lock:
            backlog = bytes(self._backlog)
            self._listeners.append(listener)
            ended = self.ended.is_set()
        if backlog:
            listener(backlog)
        if ended:
            listener(b"")

        def remove() -> None:
            with self._lock, suppress(ValueError):
                self._listeners.remove(listener)

        return remove

    def write(self, data: bytes) -> bool:
        """Hand ``data`` to the shell without waiting for it to read: False if it was dropped
        (the shell ended, or has not read what was typed before: the terminal then says so)."""
        if self.ended.is_set() or not self._started or self._stopped.is_set() or not data:
            return False
        try:
            self._input.put_nowait(data)
        except queue.Full:
            self._dropped()
            return False
        return True

    def _dropped(self) -> None:
        self.dropped_input += 1
        moment = time.monotonic()
        if moment - self._noticed_at >= DROPPED_NOTICE_SECONDS:
            self._noticed_at = moment
            self.say(DROPPED_NOTICE)

    def _feed(self) -> None:
        """The writer: typed input to the shell in order (what is typed while the shell is being
        opened waits for it, as a terminal keeps it until read), sizes applied here too (an
        engine request: never on the caller's thread, the web layer's event loop)."""
        while (data := self._input.get()) is not None:
            with self._shell_changed:
                while self._stream is None and not self.ended.is_set():
                    self._shell_changed.wait()
                stream, resize, self._resize_due = self._stream, self._resize_due, False
            if stream is None:  # the bridge ended: drained
                continue
            if resize:
                with suppress(Exception):  # a shell gone meanwhile has no size
                    stream.resize(*self._size)
            if data:
                with suppress(OSError):  # the shell is gone: its pump ends the visit
                    stream.write(data)

    def resize(self, rows: int, cols: int) -> None:
        rows, cols = max(2, min(rows, 500)), max(10, min(cols, 1000))
        with self._lock:
            if (rows, cols) == self._size:
                return
            self._size, self._resize_due = (rows, cols), True
        with suppress(queue.Full):  # full: the writer is busy and sees the new size next
            self._input.put_nowait(_WAKE)

    def close(self) -> None:
        """Stop the shell (close its stream) and let its threads end."""
        with self._life:
            self._stopped.set()
            if not self._started:  # never started: nothing runs, nothing to wait for
                self.ended.set()
        with self._lock:
            stream = self._stream
        if stream is not None:
            stream.close()
        self.ended.wait(STOP_GRACE_SECONDS)
        with suppress(queue.Full):  # a full queue: the writer stops on the shell's end instead
            self._input.put_nowait(None)

    @property
    def closed(self) -> bool:
        return self._stopped.is_set()
