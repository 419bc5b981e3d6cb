"""The hold: when a passing check becomes a win (docs/scenario-format.md, "Fair wins").

:class:`Hold` is the watcher's judge. The watcher feeds it what it learns — the check's
answers, the guards' rounds, the end of a restart — and asks it, each time round its loop,
whether the session is due for something (:meth:`Hold.due`). The rules:

- The check passes while ACTIVE and no guard fails: VERIFYING. ``fix_landed_at`` is the time
  of the passing answer (what the score counts), ``verifying_since`` the hold's start. The
  ``survive_restart`` services are restarted first; once they are back the check must pass
  again within RETURN_TIMEOUT_SECONDS, and the hold starts over from there (the fix's time
  stays). Answers and guard rounds during the restart say nothing.
- The check fails during the hold: a relapse, back to ACTIVE (counted, with a note).
- A guard fails (a conclusive round): its message is shown and it is charged once; while
  VERIFYING the hold is suspended, back to ACTIVE without a relapse, and no hold starts until
  every guard passes again (with the check passing).
- The hold is over: resolved once a guard round that *started* after its end passes (at once
  without guards).
- The deadline: a fix seen after it is late (the watcher's TIMEOUT, then fixed_late_at); a
  session still VERIFYING VERIFY_SLACK_SECONDS past the deadline and its hold times out, so no
  hold is ever stuck.

Every change of the session goes through ``update_session`` with the status re-checked under
the lock, so a ``replay-down`` or a ``replay-hint`` meanwhile is never overwritten.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from libreplay.scenario.model import Guard
from libreplay.session.state import ACTIVE, RESOLVED, TIMEOUT, VERIFYING, SessionState, now, update_session
from libreplay.session.verify import RETURN_TIMEOUT_SECONDS, VERIFY_SLACK_SECONDS, GuardsChecked, RestartDone


class Hold:
    """The fair-win rules for one watched session; see the module's docstring."""

    def __init__(
        self, session_id: str, *, guarded: bool, restart: Callable[[Sequence[str]], None],
        resolve: Callable[[], None],
        publish: Callable[[SessionState], None], clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``restart`` starts the survive_restart services' restart (a RestartDone follows on
        the watcher's queue), ``resolve`` records the win (lifecycle.finish), ``publish`` hears
        of every state this writes."""
        self.session_id = session_id
        self.resolve = resolve
        self.guarded = guarded  # the scenario has guards
        self.restart = restart
        self.publish = publish
        self.clock = clock
        self.check_ok = False  # the check's last answer
        self.guards_fail = False  # the last conclusive guard round failed
        self.restarting = False  # the survive_restart services are being restarted
        self.returning_until: float | None = None  # restarted: the check must pass again by then
        self.judged_from: float | None = None  # rounds that started before this say nothing
        self.over_since: float | None = None  # the hold is over: waiting for a round started after it

    # -- what the watcher asks -----------------------------------------------------------------

    @property
    def polling(self) -> bool:
        """The check must be asked (no event will say it): a restarted service coming back."""
        return self.returning_until is not None

    def due(self, state: SessionState, moment: datetime) -> str | None:
        """RESOLVED or TIMEOUT when the session is due for it now, else None."""
        if state.status == ACTIVE and state.breached(moment):
            return TIMEOUT
        if state.status != VERIFYING:
            return None
        if state.deadline is not None and moment >= self._verify_deadline(state):
            return TIMEOUT
        if not self._hold_over(state, moment):
            return None
        if not self.guarded:
            return RESOLVED
        if self.over_since is None:
            self.over_since = self.clock()  # the next round that starts from now decides
        return None

    def seconds_to_next(self, state: SessionState, moment: datetime) -> float:
        """How long the watcher may wait for events before asking :meth:`due` again."""
        if state.status == ACTIVE and state.deadline is not None:
            return state.remaining_seconds(moment)
        if state.status != VERIFYING:
            return 3600.0
        until_deadline = (self._verify_deadline(state) - moment).total_seconds() if state.deadline else 3600.0
        if self.restarting or self.returning_until is not None or self.over_since is not None:
            return min(1.0, until_deadline)
        return max(0.0, min(state.hold_seconds - state.held_seconds(moment), until_deadline))

    # -- what the watcher tells it -------------------------------------------------------------

    def checked(self, ok: bool, at: float, state: SessionState) -> None:
        """The check answered ``ok``; ``at`` (unix time) is when it was asked or seen."""
        self.check_ok = ok
        if self.restarting:
            return  # the services are going down and up on purpose
        if ok:
            self._passed(at, state)
        elif state.status == VERIFYING:
            self._failed(at, state)

    def guards_checked(self, event: GuardsChecked, state: SessionState) -> None:
        if not event.conclusive or not state.meaning.on_the_clock:
            return
        if self.restarting or self.returning_until is not None:
            return
        if self.judged_from is not None and event.at < self.judged_from:
            return  # started while the services restarted
        self.guards_fail = bool(event.failing)
        self._show_guards(event.failing, state)
        if event.failing:
            if state.status == VERIFYING:
                self._back_to_active(relapse=None)
        elif state.status == ACTIVE and self.check_ok:
            self._start(time.time())  # the check passes and nothing is lost any more
        elif state.status == VERIFYING and self.over_since is not None and event.at >= self.over_since:
            self.resolve()

    def restarted(self, event: RestartDone, state: SessionState) -> None:
        self.restarting = False
        if state.status != VERIFYING:
            return
        if event.problem is not None:
            self._back_to_active(relapse=f"the fix did not survive a restart: {event.problem}")
            return
        self.returning_until = self.clock() + RETURN_TIMEOUT_SECONDS
        self.publish(update_session(self.session_id, _waiting_after_restart))

    # -- transitions ---------------------------------------------------------------------------

    def _passed(self, at: float, state: SessionState) -> None:
        if state.status == ACTIVE and not self.guards_fail:
            self._start(at)
        elif state.status == VERIFYING and self.returning_until is not None:
            self.returning_until = None  # back after the restart: the hold starts over from here
            self.judged_from = self.clock()
            self.publish(update_session(self.session_id, lambda s: _hold_from(s, at)))
        elif state.status == TIMEOUT and state.fixed_late_at is None:
            self.publish(update_session(self.session_id, _fixed_late))

    def _failed(self, at: float, state: SessionState) -> None:
        if self.returning_until is not None:
            if self.clock() >= self.returning_until:
                services = ", ".join(state.survive_restart)
                self._back_to_active(relapse=(
                    f"the check did not pass again within {RETURN_TIMEOUT_SECONDS} s of restarting "
                    f"{services}: the fix did not survive a restart"
                ))
        elif state.verifying_since is None or at >= state.verifying_since.timestamp():
            held = state.held_seconds(now())
            self._back_to_active(relapse=f"the fix did not hold: the check failed again after {held:.0f} s")

    def _start(self, at: float) -> None:
        landed = datetime.fromtimestamp(at, UTC)
        started: list[SessionState] = []

        def begin(s: SessionState) -> None:
            # A fix seen after the deadline is late, whatever the status still says.
            if s.status == ACTIVE and not s.breached(landed):
                s.status = VERIFYING
                s.fix_landed_at = s.verifying_since = landed
                s.relapse_note = ""  # the last hold's failure is old news once a new one starts
                s.verify_note = f"restarting {', '.join(s.survive_restart)}" if s.survive_restart else ""
                started.append(s)

        state = update_session(self.session_id, begin)
        self.publish(state)
        self.over_since = None
        if started and state.survive_restart:
            self.restarting = True
            self.restart(state.survive_restart)

    def _back_to_active(self, *, relapse: str | None) -> None:
        """The hold ends without a win: a relapse (counted, with its note), or a guard failing."""
        self.restarting, self.returning_until, self.over_since = False, None, None

        def back(s: SessionState) -> None:
            if s.status == VERIFYING:
                s.status = ACTIVE
                s.fix_landed_at = s.verifying_since = None
                s.verify_note = ""
                if relapse is not None:
                    s.relapses += 1
                    s.relapse_note = relapse

        self.publish(update_session(self.session_id, back))

    def _show_guards(self, failing: Sequence[Guard], state: SessionState) -> None:
        """The guards failing now are shown; each one that fails is charged once (guards_tripped)."""
        messages = [guard.message for guard in failing]
        names = [guard.name for guard in failing]
        if messages == state.guards_failing and set(names) <= set(state.guards_tripped):
            return  # nothing new: no write, no redraw

        def apply(s: SessionState) -> None:
            if s.meaning.on_the_clock:
                s.guards_failing = messages
                s.guards_tripped += [name for name in names if name not in s.guards_tripped]

        self.publish(update_session(self.session_id, apply))

    def _hold_over(self, state: SessionState, moment: datetime) -> bool:
        return (not self.restarting and self.returning_until is None
                and state.held_seconds(moment) >= state.hold_seconds)

    @staticmethod
    def _verify_deadline(state: SessionState) -> datetime:
        assert state.deadline is not None
        return state.deadline + timedelta(seconds=state.hold_seconds + VERIFY_SLACK_SECONDS)


def _hold_from(state: SessionState, at: float) -> None:
    if state.status == VERIFYING:
        state.verifying_since, state.verify_note = datetime.fromtimestamp(at, UTC), ""


def _fixed_late(state: SessionState) -> None:
    if state.status == TIMEOUT:
        state.fixed_late_at = now()


def _waiting_after_restart(state: SessionState) -> None:
    if state.status == VERIFYING:
        state.verify_note = "restarted: waiting for the check to pass again"
