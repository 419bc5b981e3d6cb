"""A fake session engine for replaybook serve's tests: sessions are states in memory, the
shell is a real program on a real PTY (``cat``, or a small shell), nothing touches Docker."""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta
from pathlib import Path

from libreplay.core.errors import NotFound, SessionError
from libreplay.session.state import ABANDONED, ACTIVE, RESOLVED, SessionState, now

HINTS = ["Look at the proxy's error log.", "The upstream's port is <b>wrong</b>."]


class FakeEngine:
    def __init__(self, shell: list[str] | None = None, *, fail_start: str = "") -> None:
        self.shell = shell or ["cat"]
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

    def shell_argv(self, session_id: str, service: str, *, record: Path | None) -> list[str]:
        return list(self.shell)

    def debrief(self, session_id: str) -> list[str]:
        state = self.states.get(session_id)
        return ["== debrief ==", f"Outcome: {state.status if state else 'ended'}"]
