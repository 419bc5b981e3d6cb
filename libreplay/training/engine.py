"""The session engine behind a training day: the same up, break, hint, watch and down that
``replaybook run`` drives, behind an interface (:class:`SessionEngine`) so the web layer and
the orchestration are tested against a fake.

:class:`LifecycleEngine` is the real one: ``libreplay.session.lifecycle`` in this process (on a
worker thread: its signal handling is the main thread's only, and the server's own stop tears
every session down), the fix watcher ``libreplay.session.watcher.watch`` on a thread of this
process per session (what ``replay-check --watch --through-deadline --keep-stack`` runs for
``replaybook run``, without a process of its own), and the trainee's shells as execs of the
engine's API in this process (``libreplay.play.shell.ServiceShell``: no docker CLI; no process
per terminal over a unix socket or TCP, the SDK's ``ssh`` child per connection over ssh://).
"""

from __future__ import annotations

import os
import threading
import traceback
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from libreplay.core import paths
from libreplay.core.errors import NotFound, ReplayError
from libreplay.core.text import inert
from libreplay.session.checks import CHECK_TIMEOUT_SECONDS
from libreplay.session.owners import start_time
from libreplay.session.state import SessionState, update_session
from libreplay.training.terminal import ShellDoor

if TYPE_CHECKING:
    from libreplay.session.watcher import WatchStop

# How long end() waits for a watcher to stop before tearing its session down all the same: a
# check.sh run under way (CHECK_TIMEOUT_SECONDS at most) is not cut short, and its loop returns
# right after it (a guard round goes on on the guards' own thread, which ends with the watch).
# A watcher still running after that finds its session gone and, its stop asked, ends quietly
# (session/watcher.py, watch): the session is recorded as abandoned, not as an error.
WATCHER_STOP_GRACE_SECONDS = CHECK_TIMEOUT_SECONDS + 5.0
WATCH_LOG = ".watch.log"  # in the session directory, as replaybook run names its watcher's log


class SessionEngine(Protocol):
    def start(self, scenario: str, *, player: str, sla_minutes: int | None) -> str:
        """Up, broken, watched: the session id (blocks until the clock runs)."""
        ...

    def state(self, session_id: str) -> SessionState | None:
        """The session's state, or None once it is gone."""
        ...

    def hint(self, session_id: str) -> tuple[int, int, str] | None: ...

    def end(self, session_id: str) -> None:
        """Stop watching and tear down (an unfinished session is recorded as abandoned)."""
        ...

    def shell(self, session_id: str, service: str) -> ShellDoor:
        """How the session's shell in ``service`` is opened (again)."""
        ...

    def debrief(self, session_id: str) -> list[str]: ...


def append_watch_log(session_id: str, lines: list[str]) -> None:
    """Add ``lines`` (made inert) to the session's ``.watch.log``; nothing once its directory went."""
    log_file = paths.session_dir(session_id) / WATCH_LOG
    with suppress(OSError), log_file.open("a", encoding="utf-8") as log:
        log.writelines(inert(line) + "\n" for line in lines)


def _end_in_error(session_id: str, error: str) -> None:
    """A session whose watcher died of a fault of ours cannot go on unwatched (fixes unnoticed,
    hints unanswered until its lifetime ends): it ends in error, recorded as abandoned, as
    watch() ends one whose engine went away; the page and the board show it."""
    from libreplay.session.lifecycle import finish
    from libreplay.session.state import ERROR

    with suppress(ReplayError, OSError):
        finish(session_id, ERROR, error=error)


def _owned_by_us(state: SessionState) -> None:
    state.owner_pid, state.owner_started = os.getpid(), start_time(os.getpid())


@dataclass(frozen=True)
class _Watching:
    """A session's watcher: its thread and the way to stop it."""

    thread: threading.Thread
    stop: WatchStop


class LifecycleEngine:
    """The real engine: one session per seat, each with its watcher on a thread of this process.

    ``say``: where a watcher that failed is told of, one line (the server's stderr); the session's
    ``.watch.log`` gets the error and its hint as ``replay-check`` would have printed them."""

    def __init__(self, *, say: Callable[[str], None] | None = None) -> None:
        self._watchers: dict[str, _Watching] = {}
        self._lock = threading.Lock()
        self._debriefs: dict[str, list[str]] = {}
        self._say = say or (lambda _line: None)

    def start(self, scenario: str, *, player: str, sla_minutes: int | None) -> str:
        from libreplay.packs.catalog import resolve_scenario
        from libreplay.session import lifecycle

        state = lifecycle.up(resolve_scenario(scenario), sla_minutes=sla_minutes, player=player)
        # This server answers for the session, as `replaybook run` does for its own: should it be
        # killed (SIGKILL, no teardown), `replaybook sessions` names the session an orphan.
        try:
            update_session(state.id, _owned_by_us)
            lifecycle.break_session(state.id)  # tears the stack down itself when it fails
            self._start_watcher(state.id)
        except BaseException:
            with suppress(ReplayError):
                lifecycle.down(state.id)
            raise
        return state.id

    def _start_watcher(self, session_id: str) -> None:
        """The session's watcher on a thread of this process. It holds the session as this
        process (``holding``: its holder is the server, as its owner is), so a second watcher,
        here or in another process (``replay-check --watch``), is refused; the server killed,
        both are gone and the session is named an orphan, as before."""
        from libreplay.session.watcher import WatchStop

        stop = WatchStop()
        thread = threading.Thread(target=self._watch, args=(session_id, stop), name=f"watch-{session_id}",
                                  daemon=True)
        with self._lock:
            self._watchers[session_id] = _Watching(thread, stop)
        thread.start()

    def _watch(self, session_id: str, stop: WatchStop) -> None:
        """As ``replay-check --watch --through-deadline --keep-stack``: the server tears down.
        Once its stop was asked (end(): the session is being torn down) nothing is said: what
        failed then is the teardown's doing."""
        from libreplay.session.watcher import watch

        try:
            watch(session_id, through_deadline=True, down_on_interrupt=False, stop=stop)
        except ReplayError as failure:  # the session ended in error (watch() recorded it), or refused
            if not stop.is_set():
                said = [f"Error: {failure.message}", *([f"Hint: {failure.hint}"] if failure.hint else [])]
                self._watch_failed(session_id, said, failure.message)
        except Exception as bug:  # noqa: BLE001 - a fault of ours: the trace for the log, one line here
            if not stop.is_set():
                summary = f"{type(bug).__name__}: {bug}"
                self._watch_failed(session_id, [traceback.format_exc()], summary)
                _end_in_error(session_id, f"its watcher failed: {summary}")

    def _watch_failed(self, session_id: str, log_lines: list[str], summary: str) -> None:
        append_watch_log(session_id, log_lines)
        self._say(f"session {session_id}: its watcher stopped: {summary}")

    def state(self, session_id: str) -> SessionState | None:
        from libreplay.session.state import load_session

        try:
            return load_session(session_id)
        except (NotFound, ReplayError):
            return None

    def hint(self, session_id: str) -> tuple[int, int, str] | None:
        from libreplay.session import lifecycle

        return lifecycle.reveal_hint(session_id)

    def end(self, session_id: str) -> None:
        from libreplay.session import lifecycle

        with self._lock:
            watching = self._watchers.pop(session_id, None)
        if watching is not None:
            watching.stop.set()
            watching.thread.join(WATCHER_STOP_GRACE_SECONDS)
        self._keep_debrief(session_id)
        with suppress(NotFound):
            lifecycle.down(session_id)

    def _keep_debrief(self, session_id: str) -> None:
        """The debrief outlives the session's directory, which down removes."""
        with suppress(ReplayError, OSError):
            self._debriefs[session_id] = self._debrief_now(session_id)

    def debrief(self, session_id: str) -> list[str]:
        if session_id in self._debriefs:
            return self._debriefs[session_id]
        try:
            return self._debrief_now(session_id)
        except (ReplayError, OSError):
            return []

    def _debrief_now(self, session_id: str) -> list[str]:
        from libreplay.play.debrief import debrief_lines
        from libreplay.session.snapshot import load_snapshot
        from libreplay.session.state import load_session

        state = load_session(session_id)
        if not state.terminal:
            return []
        return debrief_lines(state, load_snapshot(session_id), None)

    def shell(self, session_id: str, service: str) -> ShellDoor:
        from libreplay.play.shell import ServiceShell

        return ServiceShell(session_id, service)
