"""A training day: the facilitator's trainings, each seat's session, the terminals, the clock.

:class:`TrainingDay` is what ``replaybook serve`` runs: it creates trainings, finds the seat
an invite token opens, starts a seat's session through the :class:`SessionEngine` (refusing
past ``max_sessions`` live ones), ends and extends sessions, tears down those whose lifetime
passed or whose trainee has been idle (:meth:`reap`) and, on :meth:`shutdown`, every session it
started. Session state is followed with the one watch loop (``follow_directory`` on each
session's directory); every change bumps :attr:`version`, which the web layer's live views wait on.

Idleness: what the trainee does is activity (:meth:`activity`, called by the web layer): a key
typed in any of the session's terminals, a terminal opened (a tab clicked, the page loaded), a
hint asked, the start itself; and the facilitator's **+15 min** restarts the idle clock (they
chose to keep the session). A page merely connected is not: it stays connected, and reconnects
by itself, on a laptop left open over lunch, and an idle session holds containers and a place
under ``--max-sessions``. A facilitator watching is not the trainee's doing either.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from libreplay.core import paths
from libreplay.core.errors import InvalidInput, NotFound, ReplayError, SessionError
from libreplay.core.text import inert
from libreplay.session.owners import start_time
from libreplay.session.state import RESOLVED, SessionState, record_transcript
from libreplay.training.engine import SessionEngine
from libreplay.training.model import (
    END_REASONS,
    ENDED_BY_FACILITATOR,
    ENDED_IDLE,
    ENDED_LIFETIME,
    ENDED_OVER,
    ENDED_SERVER_STOPPED,
    ENDED_TRAINING_OVER,
    Seat,
    Training,
    create_training,
    load_training,
    training_path,
    update_training,
)
from libreplay.training.terminal import TerminalBridge

MAX_EXTEND_MINUTES = 240
OVER_KEPT_SECONDS = 10 * 60  # a session that ended stays up this long (its shells, the debrief), then goes
STARTING = "starting"
SHUTDOWN_ATTEMPTS = 3  # tries at a session's teardown on shutdown before it is left (and said)
DEFAULT_IDLE_MINUTES = 20  # --idle-minutes: a trainee who did nothing this long loses the session
MAX_IDLE_MINUTES = 24 * 60
# --max-sessions at most: the one Docker client's pools are sized for this many sessions' watchers
# (engine/docker_api.py, POOL_SIZE), and each session is a whole stack on the engine's host.
MAX_SESSIONS = 50


def campaign_next(player: str) -> str | None:
    """The campaign's next scenario for ``player`` from this host's ledger (the easiest new one
    for a name the ledger does not know); None when no scenario is installed."""
    from libreplay.progress.campaign import suggest_next

    suggestion = suggest_next(player=player)
    return suggestion.ref if suggestion is not None else None


@dataclass(frozen=True)
class SeatRef:
    training: Training
    seat: Seat


class TrainingDay:
    def __init__(self, engine: SessionEngine, *, max_sessions: int,
                 idle_minutes: int = DEFAULT_IDLE_MINUTES, clock: Callable[[], float] = time.time,
                 campaign: Callable[[str], str | None] = campaign_next) -> None:
        if not 1 <= max_sessions <= MAX_SESSIONS:
            raise InvalidInput(f"--max-sessions: must be from 1 to {MAX_SESSIONS}, got {max_sessions}")
        if not 0 <= idle_minutes <= MAX_IDLE_MINUTES:
            raise InvalidInput(f"--idle-minutes: must be from 0 (never) to {MAX_IDLE_MINUTES}, "
                               f"got {idle_minutes}")
        self.engine = engine
        self.max_sessions = max_sessions
        self.idle_minutes = idle_minutes
        self._clock = clock
        self._campaign = campaign
        self._server = (os.getpid(), start_time(os.getpid()))  # recorded in each training made
        self._last_activity: dict[str, float] = {}  # session -> the trainee's last doing (clock)
        self._lock = threading.Lock()
        self._training_ids: list[str] = []
        self._read_trainings: dict[str, tuple[tuple[int, int, int], Training]] = {}  # by file version
        self._live: dict[str, tuple[str, int]] = {}  # session -> (training, seat number)
        self._starting: set[tuple[str, int]] = set()
        self._ending: set[str] = set()  # sessions being torn down right now
        self._failed: dict[tuple[str, int], str] = {}
        self._terminals: dict[tuple[str, str], TerminalBridge] = {}
        self._watch_stops: dict[str, threading.Event] = {}
        self._version = 0
        self._version_lock = threading.Lock()
        self._closing = False

    # -- change notification ----------------------------------------------------------------

    @property
    def version(self) -> int:
        return self._version

    def changed(self) -> None:
        with self._version_lock:
            self._version += 1

    # -- trainings ----------------------------------------------------------------------------

    def create(self, *, scenarios: list[str], seats: list[str] | int, session_minutes: int,
               sla_minutes: int = 0, title: str = "", campaign: bool = False) -> tuple[Training, list[str]]:
        training, tokens = create_training(scenarios=scenarios, seats=seats, session_minutes=session_minutes,
                                           sla_minutes=sla_minutes, title=title, campaign=campaign,
                                           server=self._server)
        with self._lock:
            self._training_ids.append(training.id)
        self.changed()
        return training, tokens

    def trainings(self) -> list[Training]:
        """This server's trainings as their files say now. Every live view asks each second
        (a seat's page finds its seat among them), so a file is parsed again only once it was
        written: the atomic writer puts a new file in place, a new inode. Never changed here:
        changes go through ``update_training``, on a fresh read under the file's lock."""
        found = []
        for training_id in list(self._training_ids):
            with suppress(NotFound, InvalidInput):
                found.append(self._training_now(training_id))
        return found

    def _update_training(self, training_id: str, change: Callable[[Training], None]) -> Training:
        """``update_training``, and what was read of the file before forgotten: two writes in
        one tick of the file system's clock may leave the same size and times behind."""
        try:
            return update_training(training_id, change)
        finally:
            self._read_trainings.pop(training_id, None)

    def _training_now(self, training_id: str) -> Training:
        try:
            info = training_path(training_id).stat()
        except OSError:
            raise NotFound(f"no training {training_id}") from None
        version = (info.st_ino, info.st_mtime_ns, info.st_size)
        kept = self._read_trainings.get(training_id)
        if kept is not None and kept[0] == version:
            return kept[1]
        training = load_training(training_id)
        self._read_trainings[training_id] = (version, training)
        return training

    def seat_for(self, token: str) -> SeatRef | None:
        """The seat an invite token opens, in a training of this server that has not expired."""
        if not token or len(token) > 200:
            return None
        for training in self.trainings():
            seat = training.seat_of(token)
            if seat is not None and not training.expired(self._clock()):
                return SeatRef(training, seat)
        return None

    # -- sessions -----------------------------------------------------------------------------

    def live_sessions(self) -> list[str]:
        """The sessions of this server not torn down (yet)."""
        with self._lock:
            return list(self._live)

    def live_count(self) -> int:
        return len(self._live) + len(self._starting)

    def check_capacity(self) -> None:
        if self.live_count() >= self.max_sessions:
            raise SessionError(f"the training host runs its most sessions already ({self.max_sessions}, "
                               "--max-sessions): try again when one has ended")

    def start(self, ref: SeatRef, *, name: str | None = None) -> str:
        """Start the seat's session (a seat without a name takes ``name``): its id."""
        training, seat = ref.training, ref.seat
        key = (training.id, seat.number)
        player = seat.name or (name or "").strip()
        if not player:
            raise InvalidInput("name: say who you are before you start")
        from libreplay.session.ledger import check_player

        check_player(player)
        with self._lock:
            if self._closing:
                raise SessionError("the training server is stopping")
            # The ref may be stale (read before another start took the seat): what this server
            # holds decides here, and the training file, under its lock, once more on taking it.
            if seat.session_id or key in self._starting or key in self._live.values():
                raise SessionError("this seat's session has already started")
            self.check_capacity()
            self._starting.add(key)
            self._failed.pop(key, None)
        self.changed()
        try:
            session_id = self._start_session(training, seat, player)
        except ReplayError as failed:
            self._failed[key] = failed.message
            raise
        finally:
            with self._lock:
                self._starting.discard(key)
            self.changed()
        return session_id

    def _scenario_to_play(self, training: Training, seat: Seat, player: str) -> str:
        if not training.campaign:
            return training.scenario_for(seat)
        scenario = self._campaign(player)
        if not scenario:
            raise SessionError("the campaign has no scenario to suggest: no pack is installed on the "
                               "training host")
        return scenario

    def _start_session(self, training: Training, seat: Seat, player: str) -> str:
        scenario = self._scenario_to_play(training, seat, player)
        session_id = self.engine.start(scenario, player=player, sla_minutes=training.sla_minutes or None)
        try:
            self._seat_taken(training, seat, player, session_id, scenario)
        except BaseException:
            self.engine.end(session_id)  # a session no seat names would outlive the day
            raise
        with self._lock:
            self._live[session_id] = (training.id, seat.number)
            self._last_activity[session_id] = self._clock()  # the trainee just pressed Start
            closing = self._closing
        if closing:  # the server began to stop while this session came up: it goes too
            self.end(session_id, reason=ENDED_SERVER_STOPPED)
            raise SessionError("the training server is stopping")
        self._follow(session_id)
        return session_id

    def _seat_taken(
        self, training: Training, seat: Seat, player: str, session_id: str, scenario: str,
    ) -> None:
        expires = self._clock() + 60 * training.session_minutes

        def taken(t: Training) -> None:
            mine = t.seats[seat.number - 1]
            if mine.session_id:
                raise SessionError("this seat's session has already started")
            mine.name, mine.session_id, mine.scenario = player, session_id, scenario
            mine.session_expires_at = expires

        self._update_training(training.id, taken)

    def _follow(self, session_id: str) -> None:
        from libreplay.core.watch import follow_directory

        stop = threading.Event()
        self._watch_stops[session_id] = stop
        directory = paths.session_dir(session_id)
        threading.Thread(
            target=follow_directory, args=(directory, lambda _event: self.changed(), stop),
            kwargs={"names": {"session.toml"}}, name=f"follow-{session_id}", daemon=True,
        ).start()

    def seat_ref(self, session_id: str) -> SeatRef:
        """The seat a live session of this server belongs to (NotFound for any other id)."""
        with self._lock:
            where = self._live.get(session_id)
        if where is None:
            raise NotFound(f"no live session {session_id[:40]!r} on this server")
        training = load_training(where[0])
        return SeatRef(training, training.seats[where[1] - 1])

    def starting(self, ref: SeatRef) -> bool:
        return (ref.training.id, ref.seat.number) in self._starting

    def failure(self, ref: SeatRef) -> str:
        return self._failed.get((ref.training.id, ref.seat.number), "")

    def hint(self, session_id: str) -> tuple[int, int, str] | None:
        self.seat_ref(session_id)
        self.activity(session_id)
        revealed = self.engine.hint(session_id)
        self.changed()
        return revealed

    def activity(self, session_id: str) -> None:
        """The trainee did something in the session (see the module's note on idleness). Cheap:
        the web layer calls it on the event loop, for every key message."""
        with self._lock:  # not after end() took it off the live ones: a stale entry would stay
            if session_id in self._live:
                self._last_activity[session_id] = self._clock()

    def idle_ends_at(self, session_id: str, state: SessionState | None = None) -> float | None:
        """When the session is torn down for idleness unless its trainee does something (unix
        time); None when idleness is off, or the session is not live or is over (an ended
        session goes OVER_KEPT_SECONDS after its end instead)."""
        last = self._last_activity.get(session_id)
        if not self.idle_minutes or last is None:
            return None
        state = state if state is not None else self.engine.state(session_id)
        if state is None or state.terminal:
            return None
        return last + 60 * self.idle_minutes

    def end(self, session_id: str, *, reason: str = ENDED_BY_FACILITATOR) -> None:
        """Tear the session down (recorded as abandoned unless it had ended); its seat says when
        and why (``reason``, one of model.END_REASONS). It stays among the live ones until its
        teardown succeeded: one that failed is tried again by the reaper (once its time is up)
        and by :meth:`shutdown`."""
        with self._lock:
            where = self._live.get(session_id)
            if where is None:
                raise NotFound(f"no live session {session_id[:40]!r} on this server")
            if session_id in self._ending:
                raise SessionError(f"session {session_id[:40]!r} is being ended already")
            self._ending.add(session_id)
            terminals = [key for key in self._terminals if key[0] == session_id]
            bridges = [self._terminals.pop(key) for key in terminals]
        try:
            for bridge in bridges:
                bridge.close()
            self.engine.end(session_id)
            with self._lock:
                self._live.pop(session_id, None)
                self._last_activity.pop(session_id, None)
            stop = self._watch_stops.pop(session_id, None)
            if stop is not None:
                stop.set()
            self._seat_ended(where, reason)
        finally:
            with self._lock:
                self._ending.discard(session_id)
            self.changed()

    def _seat_ended(self, where: tuple[str, int], reason: str) -> None:
        """The seat says its session is gone, and why (what the page and the board show)."""
        moment = self._clock()

        def ended(t: Training) -> None:
            t.seats[where[1] - 1].mark_ended(reason, moment)

        with suppress(ReplayError):  # the file went (the training expired and was removed): nothing to say
            self._update_training(where[0], ended)

    def extend(self, session_id: str, minutes: int) -> float:
        """Give the session ``minutes`` more to live: its new end (unix time). The idle clock
        starts again too: the facilitator chose to keep the session."""
        if not 1 <= minutes <= MAX_EXTEND_MINUTES:
            raise InvalidInput(f"minutes: must be from 1 to {MAX_EXTEND_MINUTES}, got {minutes}")
        ref = self.seat_ref(session_id)
        self.activity(session_id)

        def longer(t: Training) -> None:
            t.seats[ref.seat.number - 1].session_expires_at += 60 * minutes

        training = self._update_training(ref.training.id, longer)
        self.changed()
        return training.seats[ref.seat.number - 1].session_expires_at

    def reap(self) -> list[str]:
        """End every session whose lifetime passed, whose training expired, that has been over
        for a while, or whose trainee has been idle for ``idle_minutes``."""
        moment = self._clock()
        ended = []
        for session_id in list(self._live):
            with suppress(NotFound, InvalidInput):
                reason = self._reason_to_end(session_id, moment)
                if reason:
                    with suppress(ReplayError):  # kept among the live: tried again next time
                        self.end(session_id, reason=reason)
                        ended.append(session_id)
        return ended

    def _reason_to_end(self, session_id: str, moment: float) -> str:
        """Why the reaper should end the session now ("" while it may live on)."""
        ref = self.seat_ref(session_id)
        if ref.training.expired(moment):
            return ENDED_TRAINING_OVER
        if ref.seat.session_expires_at <= moment:
            return ENDED_LIFETIME
        state = self.engine.state(session_id)
        if _over_long_ago(state, moment):
            return ENDED_OVER
        idle_end = self.idle_ends_at(session_id, state)
        if idle_end is not None and idle_end <= moment:
            return ENDED_IDLE
        return ""

    def shutdown(self, *, wait_for_starts: float = 600.0) -> list[str]:
        """Tear down every session this server started, once those still starting are up (each
        start tears its own session down on failure)."""
        with self._lock:
            self._closing = True
        deadline = time.monotonic() + wait_for_starts
        ended = []
        for _attempt in range(SHUTDOWN_ATTEMPTS):
            # Starts bring their sessions up first; ends already under way (the reaper's, a
            # facilitator's) finish, and one that failed is tried again here.
            while (self._starting or self._ending) and time.monotonic() < deadline:
                time.sleep(0.05)
            for session_id in list(self._live):
                with suppress(ReplayError):
                    self.end(session_id, reason=ENDED_SERVER_STOPPED)
                    ended.append(session_id)
            if not self._live:
                break
        self._trainings_ended()
        return ended

    def _trainings_ended(self) -> None:
        """This server's trainings end with it (the facilitator's token dies with it, and no
        other server serves them): their files say so, their invite tokens expire."""
        moment = self._clock()

        def ended(t: Training) -> None:
            t.ended_at = t.ended_at or moment

        for training_id in list(self._training_ids):
            with suppress(ReplayError):
                self._update_training(training_id, ended)

    # -- terminals ----------------------------------------------------------------------------

    def terminal(self, session_id: str, service: str, *, create: bool) -> TerminalBridge | None:
        """The session's shell in ``service`` (recorded as asciicast, like a local run); made on
        the trainee's first visit, never by a watcher (``create=False``)."""
        if session_id not in self._live:  # first: nothing of another session is even read
            raise NotFound(f"no live session {session_id[:40]!r} on this server")
        state = self.engine.state(session_id)
        if state is None or service not in state.services:
            raise NotFound(f"no service {service[:40]!r} in this session")
        key = (session_id, service)
        replaced = None
        with self._lock:
            if session_id not in self._live or session_id in self._ending:
                raise NotFound(f"no live session {session_id[:40]!r} on this server")
            bridge = self._terminals.get(key)
            if bridge is not None and bridge.ended.is_set() and create:
                replaced, bridge = bridge, None  # the trainee left the shell (exit): a new one, appending
            if bridge is not None or not create:
                return bridge
            shell = service == state.shell_service
            cast = paths.transcript_path(session_id, None if shell else service)
            bridge = TerminalBridge(self.engine.shell(session_id, service), record=cast)
            self._terminals[key] = bridge
        if replaced is not None:
            replaced.close()  # its shell ended: this releases its terminal
        bridge.start()
        if shell:
            with suppress(ReplayError):
                record_transcript(session_id, cast)
        return bridge

    # -- views --------------------------------------------------------------------------------

    def seat_view(self, ref: SeatRef) -> dict[str, Any]:
        """What the trainee's page shows: every piece of pack or container text made inert
        (the page escapes it again as it writes it)."""
        seat = ref.seat
        view: dict[str, Any] = {"name": inert(seat.name),
                                "status": STARTING if self.starting(ref) else "waiting",
                                "error": inert(self.failure(ref)), "session": seat.session_id}
        if not seat.session_id:
            return view
        state = self.engine.state(seat.session_id)
        if state is None:
            view.update(status="ended", debrief=self._debrief(seat.session_id),
                        ended_because=self.ended_because(seat))
            return view
        view.update(_session_view(state, self._clock()))
        view["idle_ends_at"] = self._idle_view(seat.session_id, state)
        if state.terminal:
            view["debrief"] = self._debrief(seat.session_id)
        return view

    def ended_because(self, seat: Seat) -> str:
        """Why the seat's session was torn down, in words ("" when it was not, or no one said)."""
        words = END_REASONS.get(seat.end_reason, "")
        return words.replace("{idle}", str(self.idle_minutes))

    def _idle_view(self, session_id: str, state: SessionState) -> float | None:
        moment = self.idle_ends_at(session_id, state)
        return round(moment) if moment is not None else None  # a key a second changes it once a second

    def _debrief(self, session_id: str) -> list[str]:
        return [inert(line) for line in self.engine.debrief(session_id)]

    def board(self) -> dict[str, Any]:
        """Every seat of every training of this server, and the leaderboard."""
        rows = []
        for training in self.trainings():
            for seat in training.seats:
                ref = SeatRef(training, seat)
                row: dict[str, Any] = {
                    "training": training.id, "title": inert(training.title), "seat": seat.number,
                    "trainee": inert(seat.name), "scenario": inert(training.scenario_for(seat)),
                    "session": seat.session_id, "status": STARTING if self.starting(ref) else "waiting",
                    "expires_at": seat.session_expires_at, "error": inert(self.failure(ref)),
                    "live": seat.session_id in self._live,
                }
                state = self.engine.state(seat.session_id) if seat.session_id else None
                if state is not None:
                    row.update(_session_view(state, self._clock()))
                    row["idle_ends_at"] = self._idle_view(seat.session_id, state)
                elif seat.session_id:
                    row.update(status="ended", ended_because=self.ended_because(seat),
                               end_reason=seat.end_reason)
                rows.append(row)
        leaders = sorted((r for r in rows if r.get("status") == RESOLVED),
                         key=lambda r: (-(r.get("score") or 0), r.get("elapsed") or 0))
        return {"sessions": rows, "leaderboard": [
            {"trainee": r["trainee"], "scenario": r["scenario"], "score": r.get("score"),
             "elapsed": r.get("elapsed")} for r in leaders
        ], "max_sessions": self.max_sessions, "live": self.live_count(), "idle_minutes": self.idle_minutes}


def _over_long_ago(state: SessionState | None, moment: float) -> bool:
    """Ended (resolved, timed out) more than OVER_KEPT_SECONDS ago: its place is freed."""
    ended = state.ended_at if state is not None and state.terminal else None
    return ended is not None and moment - ended.timestamp() >= OVER_KEPT_SECONDS


def _session_view(state: SessionState, moment: float) -> dict[str, Any]:
    now = datetime.fromtimestamp(moment, UTC)
    return {
        "status": state.status, "title": inert(state.title), "page": inert(state.page),
        "sla_left": round(state.remaining_seconds(now)), "sla_seconds": state.sla_seconds,
        "deadline": state.deadline.timestamp() if state.deadline else None,
        "hints_used": state.hints_used, "hints_total": state.hints_total,
        "hints": [inert(h) for h in state.hints_revealed], "score": state.score,
        "elapsed": round(state.elapsed_seconds(now), 1), "services": list(state.services),
        "shell_service": state.shell_service, "terminal": state.terminal,
    }
