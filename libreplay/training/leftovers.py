"""What a training server that went away left behind, torn down by the next one at its start.

A server killed without its clean-up (SIGKILL, a crash, the OOM killer) leaves its sessions up:
their containers, their watchers, their places on the engine. Reattaching to them would need
the facilitator's token, which lived only in that server's memory (and the trainees' invites
are tied to it too), so the next server tears them down instead: each recorded as abandoned
(unless it had ended), its seat and its training marked ended, so the files say what happened.

A session is a gone server's when both hold:

- a seat of a training under ``<state>/trainings/`` names it, or its owner is that training's
  server (pid and start time; with no owner yet, its holder: a server killed while the session
  came up, before any seat named it);
- the process answering for it (its owner, else its holder) is gone.

So a session of a local ``replaybook run`` (no seat names it, no training's server owns it) is
never touched, even an orphan one; nor a session whose owner is alive (another ``replaybook
serve`` on the same home). Trainings from before servers were recorded are known only by their
seats: a session such a server was bringing up when it was killed is left to ``replay-down
--all`` (``replaybook sessions`` names it an orphan).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass

from libreplay.core.errors import NotFound, ReplayError
from libreplay.core.text import inert
from libreplay.session.owners import process_alive
from libreplay.session.state import SessionState, list_sessions
from libreplay.training.model import ENDED_SERVER_GONE, Training, list_trainings, update_training

SAME_START_SECONDS = 1.0  # start times within this are one process (as owners.process_alive has it)


@dataclass(frozen=True)
class LeftBehind:
    """One session a gone server left, and what became of it."""

    session_id: str
    training_id: str
    seat: int  # 0: no seat named it yet (its server was killed while it came up)
    trainee: str
    error: str = ""  # why its teardown failed; "" once it is torn down


def tear_down_left_behind(
    down: Callable[[str], object] | None = None, clock: Callable[[], float] = time.time,
) -> list[LeftBehind]:
    """Tear down every session a gone server left (see the module's note), mark its seat and
    training ended, and say what was done. ``down``: the teardown (``lifecycle.down``, which
    records an unfinished session as abandoned)."""
    sessions = {state.id: state for state in list_sessions()}
    found: list[LeftBehind] = []
    for training in list_trainings():
        found.extend(_of_training(training, sessions, down or _lifecycle_down, clock))
    return found


def _lifecycle_down(session_id: str) -> None:
    from libreplay.session import lifecycle

    lifecycle.down(session_id)


def _of_training(
    training: Training, sessions: dict[str, SessionState], down: Callable[[str], object],
    clock: Callable[[], float],
) -> list[LeftBehind]:
    left: list[LeftBehind] = []
    gone_seats: list[int] = []  # seats whose session is no more (torn down now, or earlier)
    for seat in training.seats:
        if not seat.session_id or seat.ended_at:
            continue
        state = sessions.get(seat.session_id)
        if state is None:
            gone_seats.append(seat.number)  # torn down already (`replay-down --all`), seat not told
            continue
        if _answered_for(state):
            continue  # its server lives (another serve on this home, or one that is coming up)
        del sessions[state.id]
        left.append(_tear_down(state, training.id, seat.number, seat.name, down))
    server_gone = _server_gone(training, bool(left))
    if server_gone and training.server_pid is not None:
        for state in [s for s in sessions.values() if _started_by(s, training) and not _answered_for(s)]:
            del sessions[state.id]
            left.append(_tear_down(state, training.id, 0, state.player or "", down))
    gone_seats += [item.seat for item in left if not item.error and item.seat]
    if server_gone and (gone_seats or not training.ended_at):
        _mark_ended(training, gone_seats, clock())
    return left


def _server_gone(training: Training, left_any: bool) -> bool:
    """The training's server is known and gone, or (a file that does not name it) one of its
    sessions was left behind by a gone owner."""
    if training.server_pid is None:
        return left_any
    return not process_alive(training.server_pid, training.server_started)


def _answered_for(state: SessionState) -> bool:
    """The process that answers for the session is alive: its owner, else (a session still
    coming up) its holder. A session nobody answers for at all is nobody's to take."""
    if state.owner_pid is not None:
        return process_alive(state.owner_pid, state.owner_started)
    return process_alive(state.holder_pid, state.holder_started)


def _started_by(state: SessionState, training: Training) -> bool:
    """The session's owner (or, without one, its holder) is the training's server itself."""
    pid, started = ((state.owner_pid, state.owner_started) if state.owner_pid is not None
                    else (state.holder_pid, state.holder_started))
    return (pid is not None and pid == training.server_pid and started is not None
            and training.server_started is not None
            and abs(started - training.server_started) <= SAME_START_SECONDS)


def _tear_down(
    state: SessionState, training_id: str, seat: int, trainee: str, down: Callable[[str], object],
) -> LeftBehind:
    try:
        with suppress(NotFound):  # gone meanwhile: what was asked is done
            down(state.id)
    except ReplayError as failed:
        return LeftBehind(state.id, training_id, seat, trainee, inert(failed.message) or "failed")
    return LeftBehind(state.id, training_id, seat, trainee)


def _mark_ended(training: Training, seats: list[int], moment: float) -> None:
    """The files say it: these seats' sessions are gone, and the training with its server (its
    invite tokens expire with it)."""

    def ended(t: Training) -> None:
        for number in seats:
            t.seats[number - 1].mark_ended(ENDED_SERVER_GONE, moment)
        t.ended_at = t.ended_at or moment

    with suppress(ReplayError):  # removed meanwhile: nothing left to say in it
        update_training(training.id, ended)
