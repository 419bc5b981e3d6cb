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
    Action,
    Announce,
    Close,
    KeepPlaying,
    decide,
    news_without_closing,
    watcher_died,
)
from libreplay.session.state import (
    ABANDONED,
    ACTIVE,
    ERROR,
    READY,
    RESOLVED,
    TIMEOUT,
    VERIFYING,
    SessionState,
)


def state(status: str, *, fixed_late: bool = False) -> SessionState:
    return SessionState(id="s1", scenario="x", pack="official", scenario_dir="/", project="replaybook-s1",
                        status=status, fixed_late_at=datetime.now(UTC) if fixed_late else None)


def ask(target: SessionState | None, *, exited: bool = False, timeout: bool = False,
        win: bool = False) -> Action:
    """decide, with what the run has seen and said beside the state."""
    return decide(target, watcher_exited=exited, timeout_announced=timeout, win_announced=win)


def test_a_session_that_cannot_be_read_has_ended() -> None:
    assert ask(None) == Close(SESSION_ENDED, 0)


@pytest.mark.parametrize("watcher_exited", [False, True])
def test_a_win_is_announced_once_and_the_workspace_stays_open(watcher_exited: bool) -> None:
    # A watcher that left after writing the outcome is no dead watcher.
    first = ask(state(RESOLVED), exited=watcher_exited)
    assert first == Announce(RESOLVED_NEWS, good=True, win=True)
    assert RESOLVED_NEWS == "RESOLVED - clock stopped. Exit the shell for the debrief."
    assert len(f" {RESOLVED_NEWS} ") <= 60  # tmux's status-right-length
    # Having announced it, the run plays on until the trainee leaves: no Close, ever.
    again = ask(state(RESOLVED), exited=watcher_exited, win=True)
    assert again == KeepPlaying()


def test_a_win_after_the_breach_announcement_is_still_a_win() -> None:
    # Verifying past the deadline and then holding is a win (docs/scenario-format.md).
    action = ask(state(RESOLVED), exited=True, timeout=True)
    assert action == Announce(RESOLVED_NEWS, good=True, win=True)


def test_verifying_is_no_end() -> None:
    action = ask(state(VERIFYING))
    assert action == KeepPlaying()
    # The watcher is still needed while the fix holds: its death ends the session.
    died = ask(state(VERIFYING), exited=True)
    assert died == Close(WATCHER_DIED_NEWS, 3.0, good=False, watcher_died=True)


def test_a_late_fix_closes_as_well() -> None:
    action = ask(state(TIMEOUT, fixed_late=True), exited=True, timeout=True)
    assert action == Close(FIXED_LATE_NEWS, CLOSE_AFTER_SECONDS)
    assert FIXED_LATE_NEWS == "Fixed, but after the SLA. Closing shortly..."


def test_the_sla_breach_is_announced_once_and_play_goes_on() -> None:
    first = ask(state(TIMEOUT))
    assert first == Announce(SLA_BREACHED_NEWS, good=False, timeout=True)
    assert SLA_BREACHED_NEWS == "SLA BREACHED. Keep going to practise, or exit the shell to end."
    assert ask(state(TIMEOUT), timeout=True) == KeepPlaying()


def test_after_the_breach_a_dead_watcher_still_ends_the_session() -> None:
    # The run announces first, then decides again having announced: the watcher's death follows.
    assert isinstance(ask(state(TIMEOUT), exited=True), Announce)
    action = ask(state(TIMEOUT), exited=True, timeout=True)
    assert action == Close(WATCHER_DIED_NEWS, 3.0, good=False, watcher_died=True)


@pytest.mark.parametrize("status", [ABANDONED, ERROR])
def test_a_session_ended_elsewhere_closes_quickly(status: str) -> None:
    action = ask(state(status), exited=True)
    assert action == Close(f"The session ended ({status}).", 2.0)


def test_a_dead_watcher_ends_an_active_session_in_red() -> None:
    action = ask(state(ACTIVE), exited=True)
    assert action == Close("The fix watcher stopped: ending the session.", 3.0, good=False, watcher_died=True)


@pytest.mark.parametrize("status", [ACTIVE, READY])
def test_nothing_to_say_while_the_session_runs(status: str) -> None:
    assert ask(state(status)) == KeepPlaying()


def test_a_watcher_gone_before_the_break_is_no_reason_to_end() -> None:
    assert ask(state(READY), exited=True) == KeepPlaying()


@pytest.mark.parametrize(
    ("status", "fixed_late", "exited", "died"),
    [
        (ACTIVE, False, True, True),
        (TIMEOUT, False, True, True),  # it watches on through the deadline for a late fix
        (ACTIVE, False, False, False),  # still running
        (VERIFYING, False, True, True),  # the hold needs it
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
        (FIXED_LATE_NEWS, "Fixed, but after the SLA. Leave the shell (exit) for the debrief."),
        (WATCHER_DIED_NEWS,
         "The fix watcher stopped: ending the session. Leave the shell (exit) for the debrief."),
    ],
)
def test_without_tmux_the_trainee_is_asked_to_leave_the_shell(message: str, news: str) -> None:
    assert news_without_closing(message) == news
