"""The session engine behind a training day: the same up, break, hint, watch and down that
``replaybook run`` drives, behind an interface (:class:`SessionEngine`) so the web layer and
the orchestration are tested against a fake.

:class:`LifecycleEngine` is the real one: ``libreplay.session.lifecycle`` in this process (on a
worker thread: its signal handling is the main thread's only, and the server's own stop tears
every session down), the fix watcher ``replay-check --watch`` as a child like ``replaybook run``
starts it, and the trainee's shells as execs of the engine's API in this process
(``libreplay.play.shell.ServiceShell``: no docker CLI, no process per terminal).
"""

from __future__ import annotations

import os
import threading
from contextlib import suppress
from typing import Protocol

from libreplay.core import paths, proc
from libreplay.core.errors import NotFound, ReplayError
from libreplay.session.owners import start_time
from libreplay.session.state import SessionState, update_session
from libreplay.training.terminal import ShellDoor

WATCHER_STOP_GRACE_SECONDS = 10.0


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


def _owned_by_us(state: SessionState) -> None:
    state.owner_pid, state.owner_started = os.getpid(), start_time(os.getpid())


class LifecycleEngine:
    """The real engine: one session per seat, each with its watcher."""

    def __init__(self) -> None:
        self._watchers: dict[str, proc.Child] = {}
        self._lock = threading.Lock()
        self._debriefs: dict[str, list[str]] = {}

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
        from libreplay.play.steps import find_executable

        log = paths.session_dir(session_id) / "watch.log"
        argv = [find_executable("replay-check"), "--watch", "--through-deadline", "--keep-stack", session_id]
        env = dict(os.environ, REPLAYBOOK_OWNER_PID=str(os.getpid()))
        child = proc.spawn(argv, env=env, stdin=proc.DISCARD, stdout=proc.DISCARD, stderr=log,
                           own_session=True, dies_with_us=False)
        with self._lock:
            self._watchers[session_id] = child

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
            watcher = self._watchers.pop(session_id, None)
        if watcher is not None and watcher.poll() is None:
            watcher.stop(grace=WATCHER_STOP_GRACE_SECONDS)
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
