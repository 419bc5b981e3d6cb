"""When a played session ends, and what the trainee is told: a pure function of what was seen.

The run looks at the session each time ``session.toml`` changes and about once a second
besides (it also polls the fix watcher, which no file reports on). Each look is one call of
:func:`decide` with the state just read and what the run knows beside it; the answer is one of

- :class:`Close`: say ``message``, and close the workspace ``delay`` seconds later;
- :class:`Announce`: say ``message`` and play on (the run then decides again, having announced);
- :class:`KeepPlaying`: nothing to say.

A win does not close the workspace: it is announced once (the clock has stopped, the HUD
says "met, fixed in …") and the trainee stays until they leave the shell, free to look at what
they fixed; nothing after the win is scored. Verifying (the fix holding) is no end either.

No Docker, no tmux, no clock: tests/unit/test_play_policy.py walks every case.
"""

from __future__ import annotations

from dataclasses import dataclass

from libreplay.session.state import RESOLVED, TIMEOUT, SessionState

CLOSE_AFTER_SECONDS = 5.0  # long enough to read the news in the status line
ENDED_CLOSE_SECONDS = 2.0
WATCHER_DIED_CLOSE_SECONDS = 3.0

SESSION_ENDED = "The session has ended."
# At most 58 characters: tmux's status-right (60 columns) shows it with a space either side.
RESOLVED_NEWS = "RESOLVED - clock stopped. Exit the shell for the debrief."
FIXED_LATE_NEWS = "Fixed, but after the SLA. Closing shortly..."
SLA_BREACHED_NEWS = "SLA BREACHED. Keep going to practise, or exit the shell to end."
WATCHER_DIED_NEWS = "The fix watcher stopped: ending the session."


@dataclass(frozen=True)
class Close:
    """The session is over: say so, then close the workspace after ``delay`` seconds."""

    message: str
    delay: float
    good: bool = True
    watcher_died: bool = False  # the run then keeps the watcher's log and names it


@dataclass(frozen=True)
class Announce:
    """News the trainee should see while the session goes on."""

    message: str
    good: bool
    timeout: bool = False  # the SLA breach: announced once
    win: bool = False  # the fix held: announced once, then play goes on until the trainee leaves


@dataclass(frozen=True)
class KeepPlaying:
    """Nothing changed that the trainee must hear about."""


Action = Close | Announce | KeepPlaying


def decide(
    state: SessionState | None, *, watcher_exited: bool, timeout_announced: bool, win_announced: bool,
) -> Action:
    """What to do about ``state`` (None: the session is gone or its file cannot be read).

    ``watcher_exited``: the fix watcher (``replay-check --watch``) has exited; the caller polls
    it *before* reading the state, so a watcher that wrote the outcome and then left is seen
    with that outcome rather than taken for one that died. ``timeout_announced`` and
    ``win_announced``: the run has already said so (each is said once).
    """
    if state is None:
        return Close(SESSION_ENDED, 0)
    if state.status == RESOLVED:
        # The watcher has done its job and left; the trainee leaves when they want to.
        return KeepPlaying() if win_announced else Announce(RESOLVED_NEWS, good=True, win=True)
    ended = _ended(state)
    if ended is not None:
        return ended
    if state.status == TIMEOUT and not timeout_announced:
        return Announce(SLA_BREACHED_NEWS, good=False, timeout=True)
    if watcher_died(state, watcher_exited=watcher_exited):
        # Nothing would notice a fix any more, nor answer get-hint: end rather than play on.
        return Close(WATCHER_DIED_NEWS, WATCHER_DIED_CLOSE_SECONDS, good=False, watcher_died=True)
    return KeepPlaying()


def _ended(state: SessionState) -> Close | None:
    """The session's own state says it is over (a win is not: the trainee stays, see decide)."""
    if state.status == TIMEOUT and state.fixed_late_at is not None:
        return Close(FIXED_LATE_NEWS, CLOSE_AFTER_SECONDS)
    if state.meaning.stopped:
        return Close(f"The session ended ({state.status}).", ENDED_CLOSE_SECONDS)
    return None


def watcher_died(state: SessionState, *, watcher_exited: bool) -> bool:
    """The fix watcher has exited while the session still needed it.

    With --through-deadline it only ever leaves once the session is over (resolved, fixed
    late, torn down): ended while active, or timed out with no late fix, it died early.
    """
    return watcher_exited and state.meaning.watched and state.fixed_late_at is None


def news_without_closing(message: str) -> str:
    """The news for a run without tmux, where the run does not close the trainee's shell: the
    shell owns the terminal (killing it would leave the recorder's raw mode behind), so the
    trainee leaves it once they have read the news."""
    news = message.partition(" Closing")[0]
    return f"{news} Leave the shell (exit) for the debrief."
