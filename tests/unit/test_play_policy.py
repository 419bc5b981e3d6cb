"""The end-of-session policy of ``replaybook run`` (libreplay/play/policy.py): a pure function,
walked case by case without Docker, tmux or a clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from libreplay.play.policy import (
    CLOSE_AFTER_SECONDS,
    FIXED_LATE_NEWS,
    RESOLVED_NEWS,
    SESSION_ENDED,
    SLA_BREACHED_NEWS,
    WATCHER_DIED_NEWS,
    Announce,
    Close,
    KeepPlaying,
    decide,
    news_without_closing,
    watcher_died,
)
from libreplay.session.state import ABANDONED, ACTIVE, ERROR, READY, RESOLVED, TIMEOUT, SessionState


def state(status: str, *, fixed_late: bool = False) -> SessionState:
    return SessionState(id="s1", scenario="x", pack="official", scenario_dir="/", project="replaybook-s1",
                        status=status, fixed_late_at=datetime.now(UTC) if fixed_late else None)


def test_a_session_that_cannot_be_read_has_ended() -> None:
    assert decide(None, watcher_exited=False, timeout_announced=False) == Close(SESSION_ENDED, 0)


@pytest.mark.parametrize("watcher_exited", [False, True])
def test_a_fix_closes_the_workspace_after_a_few_seconds(watcher_exited: bool) -> None:
    # A watcher that left after writing the outcome is no dead watcher.
    action = decide(state(RESOLVED), watcher_exited=watcher_exited, timeout_announced=False)
    assert action == Close(RESOLVED_NEWS, CLOSE_AFTER_SECONDS, good=True)
    assert RESOLVED_NEWS == "RESOLVED - service restored. Closing in 5 s..."


def test_a_late_fix_closes_as_well() -> None:
    action = decide(state(TIMEOUT, fixed_late=True), watcher_exited=True, timeout_announced=True)
    assert action == Close(FIXED_LATE_NEWS, CLOSE_AFTER_SECONDS)
    assert FIXED_LATE_NEWS == "Fixed, but after the SLA. Closing shortly..."


def test_the_sla_breach_is_announced_once_and_play_goes_on() -> None:
    first = decide(state(TIMEOUT), watcher_exited=False, timeout_announced=False)
    assert first == Announce(SLA_BREACHED_NEWS, good=False, timeout=True)
    assert SLA_BREACHED_NEWS == "SLA BREACHED. Keep going to practise, or exit the shell to end."
    assert decide(state(TIMEOUT), watcher_exited=False, timeout_announced=True) == KeepPlaying()


def test_after_the_breach_a_dead_watcher_still_ends_the_session() -> None:
    # The run announces first, then decides again having announced: the watcher's death follows.
    assert isinstance(decide(state(TIMEOUT), watcher_exited=True, timeout_announced=False), Announce)
    action = decide(state(TIMEOUT), watcher_exited=True, timeout_announced=True)
    assert action == Close(WATCHER_DIED_NEWS, 3.0, good=False, watcher_died=True)


@pytest.mark.parametrize("status", [ABANDONED, ERROR])
def test_a_session_ended_elsewhere_closes_quickly(status: str) -> None:
    action = decide(state(status), watcher_exited=True, timeout_announced=False)
    assert action == Close(f"The session ended ({status}).", 2.0)


def test_a_dead_watcher_ends_an_active_session_in_red() -> None:
    action = decide(state(ACTIVE), watcher_exited=True, timeout_announced=False)
    assert action == Close("The fix watcher stopped: ending the session.", 3.0, good=False, watcher_died=True)


@pytest.mark.parametrize("status", [ACTIVE, READY])
def test_nothing_to_say_while_the_session_runs(status: str) -> None:
    assert decide(state(status), watcher_exited=False, timeout_announced=False) == KeepPlaying()


def test_a_watcher_gone_before_the_break_is_no_reason_to_end() -> None:
    assert decide(state(READY), watcher_exited=True, timeout_announced=False) == KeepPlaying()


@pytest.mark.parametrize(
    ("status", "fixed_late", "exited", "died"),
    [
        (ACTIVE, False, True, True),
        (TIMEOUT, False, True, True),  # it watches on through the deadline for a late fix
        (ACTIVE, False, False, False),  # still running
        (RESOLVED, False, True, False),  # its job was done
        (TIMEOUT, True, True, False),  # fixed late: done as well
        (READY, False, True, False),
    ],
)
def test_watcher_died_only_while_the_session_needs_it(status: str, fixed_late: bool, exited: bool,
                                                      died: bool) -> None:
    assert watcher_died(state(status, fixed_late=fixed_late), watcher_exited=exited) is died


@pytest.mark.parametrize(
    ("message", "news"),
    [
        (RESOLVED_NEWS, "RESOLVED - service restored. Leave the shell (exit) for the debrief."),
        (FIXED_LATE_NEWS, "Fixed, but after the SLA. Leave the shell (exit) for the debrief."),
        (WATCHER_DIED_NEWS,
         "The fix watcher stopped: ending the session. Leave the shell (exit) for the debrief."),
    ],
)
def test_without_tmux_the_trainee_is_asked_to_leave_the_shell(message: str, news: str) -> None:
    assert news_without_closing(message) == news
