"""One run of ``replaybook serve``: its facilitator token and its training day.

The facilitator token lives only in this process, as its hash (the URL printed once carries
it): it dies with the server, and with it every session the server started (:meth:`stop`).
What a server killed without that clean-up left behind, the next one tears down at its start
(:meth:`tear_down_left_behind`, libreplay/training/leftovers.py).

While it serves (:meth:`catch_thread_faults` to :meth:`stop`), an exception that no thread of
the server catches (a watcher's follower, its guards, a trainee's ``docker`` tool request) is
said made inert, never printed raw by Python's default hook: its text may carry what a trainee
typed, and escape sequences would reach the facilitator's terminal.
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable

from libreplay.core.signals import shielded
from libreplay.core.text import inert
from libreplay.training.day import DEFAULT_IDLE_MINUTES, TrainingDay
from libreplay.training.engine import LifecycleEngine, SessionEngine, append_watch_log
from libreplay.training.leftovers import LeftBehind, tear_down_left_behind
from libreplay.training.model import new_token, token_hash


def _to_stderr(line: str) -> None:
    print(inert(line), file=sys.stderr, flush=True)


class Serving:
    def __init__(self, *, max_sessions: int, idle_minutes: int = DEFAULT_IDLE_MINUTES,
                 engine: SessionEngine | None = None, say: Callable[[str], None] | None = None) -> None:
        """``say``: a line for the facilitator at the server's terminal (a session's watcher failed)."""
        self.token = new_token()
        self.token_hash = token_hash(self.token)
        self._say = say or _to_stderr
        self.day = TrainingDay(engine if engine is not None else LifecycleEngine(say=say),
                               max_sessions=max_sessions, idle_minutes=idle_minutes)
        self._previous_hook: Callable[[threading.ExceptHookArgs], object] | None = None

    def tear_down_left_behind(self) -> list[LeftBehind]:
        """The sessions a server that went away (SIGKILL) left on this home, torn down."""
        return tear_down_left_behind()

    def catch_thread_faults(self) -> None:
        """Until :meth:`stop`, what no thread of this process catches goes through
        :meth:`thread_failed` rather than Python's own hook."""
        if self._previous_hook is None:
            self._previous_hook = threading.excepthook
            threading.excepthook = self.thread_failed

    def thread_failed(self, args: threading.ExceptHookArgs) -> None:
        """One line on the server's stderr (the thread, the error), the trace in the session's
        ``.watch.log`` when the thread's name carries a live session's id (``watch-<id>``,
        ``follow-<id>``), else on stderr after it; all of it made inert."""
        if args.exc_type is SystemExit:  # as Python's own hook: a thread's sys.exit() is no fault
            return
        try:
            self._report_thread_fault(args)
        except Exception:  # noqa: BLE001 - never Python's own raw print of what failed here
            self._say(f"a thread of the server failed ({inert(args.exc_type.__name__)}); so did its report")

    def _report_thread_fault(self, args: threading.ExceptHookArgs) -> None:
        name = args.thread.name if args.thread is not None else "?"
        said = " ".join(inert(str(args.exc_value)).split()) if args.exc_value is not None else ""
        summary = f"{args.exc_type.__name__}: {said}" if said else args.exc_type.__name__
        trace = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
        session = self._session_of(name)
        if session is not None:
            append_watch_log(session, [f"thread {name} failed:", trace.rstrip("\n")])
            self._say(inert(f"session {session}: its thread {name} failed: {summary} (the trace is in "
                            "its .watch.log)"))
        else:
            self._say(inert(f"thread {name} failed: {summary}\n{trace.rstrip()}"))

    def _session_of(self, thread_name: str) -> str | None:
        for session_id in self.day.live_sessions():
            if thread_name.endswith(f"-{session_id}"):
                return session_id
        return None

    def stop(self) -> list[str]:
        """Tear down every session this server started (a second Ctrl-C waits for it); then the
        thread hook in place before :meth:`catch_thread_faults` is back."""
        try:
            with shielded():
                return self.day.shutdown()
        finally:
            # Only our own hook is taken back (one installed after it stays), and only once the
            # sessions are down: a watcher's thread that outlived its grace may still fail.
            if self._previous_hook is not None and threading.excepthook == self.thread_failed:
                threading.excepthook = self._previous_hook
            self._previous_hook = None
