"""The offer after a miss (libreplay/play/offer.py): what is offered after each way a play can
end, and what each key means. Pure: no terminal, no Docker."""

from __future__ import annotations

import signal
from datetime import UTC, date, datetime, timedelta

import pytest

from libreplay.play.flow import PlayOptions, PlayResult
from libreplay.play.offer import Answer, Offer, missed, offer_after
from libreplay.progress.campaign import Suggestion
from libreplay.session.state import (
    ABANDONED,
    ACTIVE,
    ERROR,
    OUTCOME_ABANDONED,
    OUTCOME_SUCCESS,
    OUTCOME_TIMEOUT,
    RESOLVED,
    TIMEOUT,
    SessionState,
)

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
OPTIONS = PlayOptions("official/002-postgres-wont-start", sla=5, title="Postgres will not start",
                      player="alice")
NEXT = Suggestion("official/003-redis-oom", "Cache falls over", 2, "new", "not played yet", date(2026, 12, 7))


def final(status: str, outcome: str | None, *, fault: str | None = "wrong-owner",
          started: bool = True) -> SessionState:
    return SessionState(
        id="s1", scenario="002-postgres-wont-start", pack="official", scenario_dir="/",
        project="replaybook-s1", status=status, outcome=outcome, fault=fault,
        title="Postgres will not start", started_at=T0 if started else None,
        ended_at=T0 + timedelta(minutes=5),
    )


def result(state: SessionState | None, *, signum: int = 0, terminal_gone: bool = False) -> PlayResult:
    return PlayResult(state, ["== debrief =="], signum, terminal_gone)


def no_suggestion(_played: str) -> Suggestion | None:
    return None


# -- what is offered --------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "outcome"), [
    (TIMEOUT, OUTCOME_TIMEOUT),  # the SLA passed (and the trainee left)
    (ABANDONED, OUTCOME_ABANDONED),  # left the shell, or detached
    (ACTIVE, None),  # replay-down could not be read back: the state says it was given up
], ids=["timeout", "abandoned", "ended-while-active"])
def test_a_miss_offers_the_same_scenario_with_the_same_fault_and_the_next(status: str,
                                                                         outcome: str | None) -> None:
    offer = offer_after(result(final(status, outcome)), OPTIONS, lambda _played: NEXT)
    assert offer is not None
    assert offer.retry == PlayOptions("official/002-postgres-wont-start", sla=5, fault="wrong-owner",
                                      title="Postgres will not start", player="alice")
    assert offer.next == NEXT


def test_a_win_offers_nothing_and_asks_the_campaign_nothing() -> None:
    def suggest(_played: str) -> Suggestion | None:
        raise AssertionError("the campaign is asked only when there is an offer")

    assert offer_after(result(final(RESOLVED, OUTCOME_SUCCESS)), OPTIONS, suggest) is None


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_means_stop_now(signum: int) -> None:
    stopped = result(final(ABANDONED, OUTCOME_ABANDONED), signum=signum,
                     terminal_gone=signum == signal.SIGHUP)
    assert offer_after(stopped, OPTIONS, lambda _played: NEXT) is None


def test_a_closed_terminal_is_not_asked() -> None:
    assert not missed(result(final(ABANDONED, OUTCOME_ABANDONED), terminal_gone=True), OPTIONS)


def test_a_session_ended_in_error_is_not_offered_again() -> None:
    # The scenario or the engine failed: playing it again would fail again.
    assert offer_after(result(final(ERROR, OUTCOME_ABANDONED)), OPTIONS, lambda _played: NEXT) is None


def test_a_session_that_never_reached_the_clock_is_no_miss() -> None:
    assert offer_after(result(final(ABANDONED, None, started=False)), OPTIONS, lambda _played: NEXT) is None


def test_no_final_state_no_offer() -> None:
    assert offer_after(result(None), OPTIONS, lambda _played: NEXT) is None


def test_a_kept_stack_is_not_played_again_beside_itself() -> None:
    kept = PlayOptions("official/002-postgres-wont-start", keep=True)
    assert offer_after(result(final(TIMEOUT, OUTCOME_TIMEOUT)), kept, lambda _played: NEXT) is None


def test_without_a_suggestion_only_retry_and_quit_are_offered() -> None:
    offer = offer_after(result(final(TIMEOUT, OUTCOME_TIMEOUT)), OPTIONS, no_suggestion)
    assert offer is not None and offer.next is None
    assert offer.prompt == "[r] retry now (same fault)  [q] quit"


def test_a_scenario_of_one_fault_is_retried_as_it_was_named() -> None:
    """No fault recorded: replay-break is given none (as the first time), or the one run was given."""
    offer = offer_after(result(final(ABANDONED, OUTCOME_ABANDONED, fault=None)), OPTIONS, no_suggestion)
    assert offer is not None and offer.retry.fault is None
    named = PlayOptions("x", fault="only")
    offer = offer_after(result(final(ABANDONED, OUTCOME_ABANDONED, fault=None)), named, no_suggestion)
    assert offer is not None and offer.retry.fault == "only"


def test_the_retry_is_called_by_the_sessions_title_when_run_had_none() -> None:
    untitled = PlayOptions("002-postgres-wont-start")
    offer = offer_after(result(final(TIMEOUT, OUTCOME_TIMEOUT)), untitled, no_suggestion)
    assert offer is not None and offer.retry.title == "Postgres will not start"


def test_the_prompt_names_the_next_scenario_by_its_title_only() -> None:
    offer = offer_after(result(final(TIMEOUT, OUTCOME_TIMEOUT)), OPTIONS, lambda _played: NEXT)
    assert offer is not None
    assert offer.prompt == "[r] retry now (same fault)  [n] next: Cache falls over  [q] quit"
    assert "redis" not in offer.prompt and "wrong-owner" not in offer.prompt  # blind play


# -- what each key means ------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "answer"), [
    ("r", Answer.RETRY), ("R", Answer.RETRY), ("n", Answer.NEXT), ("N", Answer.NEXT),
    ("q", Answer.QUIT), ("\r", Answer.QUIT), ("\n", Answer.QUIT), ("\x1b", Answer.QUIT),
    ("\x1b[A", Answer.QUIT), ("\x03", Answer.QUIT), ("\x04", Answer.QUIT), (" ", Answer.QUIT),
    ("x", Answer.QUIT), ("", Answer.QUIT), (None, Answer.QUIT), ("rq", Answer.RETRY),
], ids=repr)
def test_one_key_answers(key: str | None, answer: Answer) -> None:
    assert Offer(OPTIONS, NEXT).answer(key) is answer


def test_n_quits_when_no_next_is_offered() -> None:
    assert Offer(OPTIONS, None).answer("n") is Answer.QUIT
    assert Offer(OPTIONS, None).answer("r") is Answer.RETRY
