"""The hold's rules (libreplay/session/hold.py), case by case, without Docker: a real session
file in the test's REPLAYBOOK_HOME, the check's answers, guard rounds and restarts fed by hand,
and a clock of our own."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest

from libreplay.scenario.model import Guard
from libreplay.session import hold as hold_module
from libreplay.session.hold import Hold
from libreplay.session.state import (
    ACTIVE,
    RESOLVED,
    TIMEOUT,
    VERIFYING,
    SessionState,
    load_session,
    now,
    project_name,
    save_new_session,
    update_session,
)
from libreplay.session.verify import VERIFY_SLACK_SECONDS, GuardsChecked, RestartDone

SESSION = "hold0001"
DATA_KEPT = Guard("data-kept", "exit_zero", "the data was deleted", script="guards/data.sh")


class Judge:
    """A Hold over a real session file, with what it asked for recorded."""

    def __init__(self, *, hold_seconds: int = 4, restart: Sequence[str] = (), guarded: bool = False) -> None:
        self.start = now()
        save_new_session(SessionState(
            id=SESSION, scenario="t", pack="local", scenario_dir="/nowhere", project=project_name(SESSION),
            status=ACTIVE, started_at=self.start, deadline=self.start + timedelta(seconds=60),
            sla_seconds=60, hold_seconds=hold_seconds, survive_restart=list(restart),
        ))  # fmt: skip
        self.clock = 1000.0
        self.restarts: list[tuple[str, ...]] = []
        self.resolved = 0
        self.hold = Hold(SESSION, guarded=guarded, restart=self._restart, resolve=self._resolve,
                         publish=lambda _state: None, clock=lambda: self.clock)

    def _restart(self, services: Sequence[str]) -> None:
        self.restarts.append(tuple(services))

    def _resolve(self) -> None:
        self.resolved += 1

    @property
    def state(self) -> SessionState:
        return load_session(SESSION)

    def at(self, seconds: float) -> float:
        """Unix time ``seconds`` after the clock started."""
        return (self.start + timedelta(seconds=seconds)).timestamp()

    def moment(self, seconds: float) -> datetime:
        return self.start + timedelta(seconds=seconds)

    def check(self, ok: bool, seconds: float) -> None:
        self.hold.checked(ok, self.at(seconds), self.state)

    def guards(self, *failing: Guard, started: float | None = None, conclusive: bool = True) -> None:
        event = GuardsChecked(self.clock if started is None else started, tuple(failing), conclusive)
        self.hold.guards_checked(event, self.state)


def test_a_pass_starts_the_hold_at_the_answer_and_a_failure_in_it_is_a_relapse() -> None:
    judge = Judge()
    judge.check(True, 10)
    state = judge.state
    assert state.status == VERIFYING
    assert state.fix_landed_at == state.verifying_since == judge.moment(10)
    judge.check(False, 12)
    state = judge.state
    assert (state.status, state.relapses, state.fix_landed_at) == (ACTIVE, 1, None)
    assert state.relapse_note.startswith("the fix did not hold: the check failed again after")


def test_an_answer_from_before_the_hold_is_no_relapse() -> None:
    judge = Judge()
    judge.check(True, 10)
    judge.check(False, 9.5)  # seen late, but given before the fix landed
    assert (judge.state.status, judge.state.relapses) == (VERIFYING, 0)


def test_without_guards_the_session_is_due_once_the_hold_is_over() -> None:
    judge = Judge(hold_seconds=4)
    judge.check(True, 10)
    assert judge.hold.due(judge.state, judge.moment(13.9)) is None
    assert judge.hold.due(judge.state, judge.moment(14)) == RESOLVED


def test_with_guards_a_round_that_starts_after_the_hold_decides() -> None:
    judge = Judge(hold_seconds=4, guarded=True)
    judge.check(True, 10)
    judge.clock = 2000.0
    assert judge.hold.due(judge.state, judge.moment(14)) is None  # the hold is over: a round must follow
    judge.guards(started=1999.0)  # started before the hold was over: says nothing of its end
    assert judge.resolved == 0
    judge.guards(started=2000.5)
    assert judge.resolved == 1


def test_a_failing_guard_is_shown_charged_once_and_suspends_the_hold_without_a_relapse() -> None:
    judge = Judge(guarded=True)
    judge.check(True, 10)
    judge.guards(DATA_KEPT)
    state = judge.state
    assert (state.status, state.relapses, state.fix_landed_at) == (ACTIVE, 0, None)
    assert (state.guards_failing, state.guards_tripped) == (["the data was deleted"], ["data-kept"])
    judge.check(True, 12)  # the check passes, but something is lost: no hold
    assert judge.state.status == ACTIVE
    judge.guards(DATA_KEPT)
    assert judge.state.guards_tripped == ["data-kept"]  # charged once
    judge.guards()  # put back: the check passes, so the hold starts now
    state = judge.state
    assert (state.status, state.guards_failing, state.guards_tripped) == (VERIFYING, [], ["data-kept"])


def test_a_round_that_is_not_conclusive_changes_nothing() -> None:
    judge = Judge(guarded=True)
    judge.check(True, 10)
    judge.guards(conclusive=False)
    state = judge.state
    assert (state.status, state.guards_failing, state.guards_tripped) == (VERIFYING, [], [])


def test_a_fix_must_survive_the_restart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hold_module, "RETURN_TIMEOUT_SECONDS", 30)
    judge = Judge(restart=["app"], guarded=True)
    judge.check(True, 10)
    assert judge.restarts == [("app",)] and judge.state.verify_note == "restarting app"
    judge.check(False, 11)  # the service going down on purpose
    judge.guards(DATA_KEPT)  # nor is a guard judged meanwhile
    assert (judge.state.status, judge.state.guards_tripped) == (VERIFYING, [])
    judge.hold.restarted(RestartDone(None), judge.state)
    assert judge.hold.polling and judge.state.verify_note.startswith("restarted")
    judge.check(False, 13)  # not back yet, within the time it has
    assert judge.state.status == VERIFYING
    judge.check(True, 20)  # back: the hold starts over, the fix's time stays
    state = judge.state
    assert (state.fix_landed_at, state.verifying_since) == (judge.moment(10), judge.moment(20))
    assert not judge.hold.polling


def test_a_fix_that_does_not_come_back_after_the_restart_relapses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hold_module, "RETURN_TIMEOUT_SECONDS", 30)
    judge = Judge(restart=["app"])
    judge.check(True, 10)
    judge.hold.restarted(RestartDone(None), judge.state)
    judge.clock += 31
    judge.check(False, 45)
    state = judge.state
    assert (state.status, state.relapses) == (ACTIVE, 1)
    assert state.relapse_note.endswith("restarting app: the fix did not survive a restart")


def test_a_restart_that_fails_is_a_relapse() -> None:
    judge = Judge(restart=["app"])
    judge.check(True, 10)
    judge.hold.restarted(RestartDone("service app has no container"), judge.state)
    assert judge.state.relapse_note == "the fix did not survive a restart: service app has no container"


def test_a_fix_seen_after_the_deadline_is_late_and_a_hold_cannot_outlast_it_for_ever() -> None:
    late = Judge()
    late.check(True, 61)
    assert late.state.status == ACTIVE  # no hold for a fix after the deadline
    assert late.hold.due(late.state, late.moment(61)) == TIMEOUT
    update_session(SESSION, lambda s: setattr(s, "status", TIMEOUT))
    late.check(True, 62)
    assert late.state.fixed_late_at is not None

    judge = Judge(hold_seconds=4, guarded=True)
    judge.check(True, 59)  # in time: the deadline does not end its hold ...
    assert judge.hold.due(judge.state, judge.moment(65)) is None
    # ... but a hold that cannot end (no conclusive round comes) times out all the same
    assert judge.hold.due(judge.state, judge.moment(60 + 4 + VERIFY_SLACK_SECONDS)) == TIMEOUT
