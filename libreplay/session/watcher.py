"""replay-check: one check, or a watch until the session ends.

The watcher is one event loop over one queue: the probe's answers (an ``http_200`` check), the
trainee's hint requests from the shell's log stream, the engine's word on the stack's containers,
changes of the session directory, the guards' rounds, and the deadline; an ``exit_zero`` check
runs ``check.sh`` once a second between events. It writes the outcome through
:mod:`libreplay.session.lifecycle` (``finish``), which the HUD, ``replaybook run`` and the
ledger then read.

A passing check does not resolve at once (docs/scenario-format.md, "Fair wins"): the session
turns VERIFYING, restarts the ``survive_restart`` services if any, and resolves once the check
has kept passing for the hold with every guard passing. A failing check during the hold is a
relapse, back to ACTIVE. The deadline does not end a session that is verifying.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace

from libreplay.core.errors import (
    Interrupted,
    NotFound,
    ReplayError,
    ScenarioFailure,
    SessionError,
)
from libreplay.core.signals import as_interrupted, signals_raise
from libreplay.core.watch import follow_directory
from libreplay.engine import docker_api
from libreplay.scenario.model import Guard
from libreplay.session import ledger
from libreplay.session.checks import (
    Check,
    ProbeEvent,
    ProbeFollower,
    ProbeFollowerEvent,
    ProbeStreamEnded,
    engine_now,
)
from libreplay.session.hints import (
    SLOW_DOWN,
    HintChannel,
    HintFollower,
    HintFollowerEvent,
    HintRequest,
    HintStreamEnded,
    RequestGate,
    ToolCancel,
    ToolRequest,
    format_hint,
)
from libreplay.session.lifecycle import (
    SCRIPT_CHECK_INTERVAL_SECONDS,
    NothingArrived,
    closed,
    down,
    finish,
    holding,
    open_stack,
    probe_alive,
    reveal_hint,
)
from libreplay.session.stack import Stack
from libreplay.session.state import (
    ACTIVE,
    ERROR,
    RESOLVED,
    SESSION_FILE,
    TIMEOUT,
    VERIFYING,
    SessionState,
    load_session,
    now,
    update_session,
)
from libreplay.session.tools import ToolDesk
from libreplay.session.verify import (
    GUARD_INTERVAL_SECONDS,
    RETURN_TIMEOUT_SECONDS,
    GuardRunner,
    GuardsChecked,
    RestartDone,
    Restarter,
    failing_guards,
)
from libreplay.session.vitals import StackEvent, StackFollower, shell_problem


@dataclass(frozen=True)
class SessionFilesChanged:
    """A file of the session directory changed, or the directory went away: look again."""


# What the watcher's followers put on its one queue: the probe's answers, the trainee's hint
# requests, the engine's word on the stack's containers, the session directory's changes, the
# guards' rounds, and the end of a restart the fix must survive.
WatcherEvent = (
    ProbeFollowerEvent | HintFollowerEvent | StackEvent | SessionFilesChanged | GuardsChecked | RestartDone
)


def check_once(session_id: str) -> bool:
    state = load_session(session_id)
    return Check(open_stack(state)).once()


def watch(
    session_id: str,
    *,
    through_deadline: bool = False,
    down_on_interrupt: bool = True,
    on_change: Callable[[SessionState], None] | None = None,
) -> SessionState:
    """Watch until resolved, timed out (or, ``through_deadline``, fixed late) or ended."""
    state = load_session(session_id)
    if not state.meaning.watched:
        if state.terminal:
            return state
        raise SessionError(f"session {session_id} is {state.status}: break it first (replay-break)")
    watcher = _Watcher(open_stack(state), through_deadline, on_change or (lambda _s: None))
    # Claimed before the failure handling below: a refused second watcher must not end the
    # session that the first one is watching.
    with signals_raise(), holding(session_id, alone=True):
        try:
            return watcher.run()
        except _SessionEnded:
            lost = _lost_state(watcher.stack)
            if lost is None:
                return state  # torn down by someone else (replay-down): nothing left to watch
            _end_in_error(watcher.last_state, lost)
            raise lost from None
        except (KeyboardInterrupt, Interrupted) as exc:
            if down_on_interrupt:
                with suppress(NotFound):
                    down(session_id)
            raise as_interrupted(exc) from None
        except ReplayError as failure:  # the engine or the shell went away, the state is damaged
            _end_in_error(watcher.last_state, failure)
            failure.hint = failure.hint or f"`replay-down {session_id}` removes its stack"
            raise


LOST_STATE_GRACE_SECONDS = 2.0


def _lost_state(stack: Stack) -> NotFound | None:
    """The session file vanished: None when its directory goes too (a teardown's rmtree takes a
    moment), else the state was lost under a session still being played."""
    state_file = stack.session_dir / SESSION_FILE
    deadline = time.monotonic() + LOST_STATE_GRACE_SECONDS
    while stack.session_dir.exists() and not state_file.exists():
        if time.monotonic() >= deadline:
            return NotFound(
                f"session {stack.session_id}: its state file {state_file} was deleted while it was played",
                hint="`replay-down --all` removes its stack",
            )
        time.sleep(0.1)
    return None


def _end_in_error(last: SessionState, failure: ReplayError) -> None:
    """The watcher cannot go on: a session on the clock ends in error, recorded in the ledger as
    abandoned (score 0). When its file cannot be read or written, from the state last read."""
    on_the_clock = last.outcome_pending
    try:
        finish(last.id, ERROR, error=failure.message)
    except ReplayError:
        if on_the_clock:
            with suppress(ReplayError, OSError):
                ledger.record(closed(replace(last), ERROR, failure.message))
    if on_the_clock:
        failure.message = f"{failure.message} (session {last.id} ended: recorded as abandoned)"


def _holding_from_now(state: SessionState) -> None:
    if state.status == VERIFYING:
        state.verifying_since, state.verify_note = now(), ""


def _waiting_after_restart(state: SessionState) -> None:
    if state.status == VERIFYING:
        state.verify_note = "restarted: waiting for the check to pass again"


class _SessionEnded(Exception):
    """The session directory disappeared under the watcher."""


class _Watcher:
    """One event loop: probe changes, hint requests, the session file, and the deadline.

    Hint requests come from the shell container's log stream (a :class:`HintFollower`, already
    de-duplicated and rate-limited by its gate) and are answered through the Docker API; no file
    of the trainee's is read. Requests made before the watcher started are not seen (get-hint
    asks again every 2 s while it waits).
    """

    def __init__(self, stack: Stack, through_deadline: bool, on_change: Callable[[SessionState], None]):
        self.stack = stack
        self.session_id = stack.session_id
        self.last_state = load_session(self.session_id)  # what the session was, should its file go
        self.through_deadline = through_deadline
        self.on_change = on_change
        self.check = Check(stack)
        self.channel = HintChannel(self.last_state)
        self.hint_gate = RequestGate()
        self.hint_follower: HintFollower | None = None
        self.tools = ToolDesk(self.channel)  # the trainee's docker tools, on the same channel
        self.events: queue.Queue[WatcherEvent] = queue.Queue()
        self.stop = threading.Event()
        # The hold's phases that live only as long as this watcher (docs: "Fair wins").
        self.restarting = False  # the survive_restart services are being restarted
        self.returning_until: float | None = None  # restarted: the check must pass again by then
        self.next_resolve_try = 0.0  # a guard failed at the hold's end: try again after a round

    def run(self) -> SessionState:
        if self.check.http:
            ProbeFollower(self.check, self.events).start()
        StackFollower(self.stack.project, self.events).start()
        self._follow_hints()
        if self.stack.scenario.guards:
            GuardRunner(self.check, self.events, self.stop).start()
        threading.Thread(target=self._watch_files, name="session-files", daemon=True).start()
        try:
            return self._loop()
        finally:
            self.stop.set()
            self.tools.close()

    def _loop(self) -> SessionState:
        next_poll = 0.0
        while True:
            try:
                state = self.last_state = load_session(self.session_id)
            except NotFound:
                raise _SessionEnded from None
            timed_out = state.status == TIMEOUT
            if not state.meaning.watched or (timed_out and not self.through_deadline):
                return state
            if state.fixed_late_at is not None:
                return state
            if state.status == ACTIVE and state.breached(now()):
                self._finish(TIMEOUT)
                continue
            if state.status == VERIFYING and self._hold_complete(state):
                self._resolve()
                continue
            wait = self._seconds_to_next(state)
            # check.sh has no event stream; nor has the wait for a restarted service to answer.
            if not self.check.http or self.returning_until is not None:
                if time.monotonic() >= next_poll:
                    self._checked(self.check.once(), state, time.time())
                    next_poll = time.monotonic() + SCRIPT_CHECK_INTERVAL_SECONDS
                    continue
                wait = min(wait, max(0.0, next_poll - time.monotonic()))
            self._handle(self._wait_event(wait), state)

    def _handle(self, event: WatcherEvent | NothingArrived, state: SessionState) -> None:
        if isinstance(event, ProbeEvent | GuardsChecked | RestartDone):
            self._judge(event, state)
        elif isinstance(event, HintRequest):
            self._answer(event)
        elif isinstance(event, ToolRequest | ToolCancel):
            self.tools.take(event)  # carried out off this loop
        elif isinstance(event, HintStreamEnded):
            self._follow_hints()  # the shell restarted (or the stream failed): follow it again
        elif isinstance(event, SessionFilesChanged):
            if not self.stack.session_dir.exists():
                raise _SessionEnded
        elif isinstance(event, ProbeStreamEnded):
            if not self.stack.session_dir.exists():
                raise _SessionEnded
            if not probe_alive(self.check):
                raise SessionError(f"session {self.session_id}: the check probe went away")
            ProbeFollower(self.check, self.events).start()  # the log stream dropped: follow again
        elif isinstance(event, StackEvent):
            self._stack_changed(event, state)

    def _stack_changed(self, event: StackEvent, state: SessionState) -> None:
        """The engine's word on the stack: a shell gone for good ends the session; an event
        stream that ended is followed again while the engine still answers."""
        if event.ended:
            docker_api.ensure_engine()  # EnvironmentProblem: the engine went away
            StackFollower(self.stack.project, self.events).start()
            event = StackEvent(service=state.shell_service, action="recheck")  # missed meanwhile?
        if event.settles and event.service == state.shell_service:
            problem = shell_problem(state)
            if problem is not None:
                docker_api.ensure_engine()  # an engine that is shutting down stops every container
                raise ScenarioFailure(f"session {self.session_id}: {problem}: the session cannot go on")

    def _wait_event(self, wait: float) -> WatcherEvent | NothingArrived:
        try:
            return self.events.get(timeout=max(0.0, wait))
        except queue.Empty:
            return NothingArrived()

    def _seconds_to_next(self, state: SessionState) -> float:
        """Until the next thing the loop must do by itself: the deadline, or the hold's end."""
        if state.status == ACTIVE and state.deadline:
            return state.remaining_seconds(now())
        if state.status == VERIFYING:
            if self.restarting or self.returning_until is not None:
                return SCRIPT_CHECK_INTERVAL_SECONDS
            hold_left = state.hold_seconds - state.held_seconds(now())
            return max(0.0, hold_left, self.next_resolve_try - time.monotonic())
        return 3600.0

    # -- the hold ------------------------------------------------------------------------------

    def _judge(self, event: ProbeEvent | GuardsChecked | RestartDone, state: SessionState) -> None:
        """What the check, the guards and a restart say of the fix."""
        if isinstance(event, ProbeEvent):
            started = state.started_at.timestamp() if state.started_at else 0.0
            if event.at >= started:
                self._checked(event.ok, state, event.at)
        elif isinstance(event, GuardsChecked):
            if state.meaning.on_the_clock:
                self._record_guards(event.failing, state)
        else:
            self._restarted(event)

    def _checked(self, ok: bool, state: SessionState, at: float) -> None:
        """The check answered ``ok`` at ``at`` (unix time)."""
        if ok:
            self._passed(state)
        elif state.status == VERIFYING and not self.restarting:
            if self.returning_until is not None:
                if time.monotonic() >= self.returning_until:
                    services = ", ".join(state.survive_restart)
                    self._relapse(f"the check did not pass again within {RETURN_TIMEOUT_SECONDS} s of "
                                  f"restarting {services}: the fix did not survive a restart")
            elif state.verifying_since is None or at >= state.verifying_since.timestamp():
                held = state.held_seconds(now())
                self._relapse(f"the fix did not hold: the check failed again after {held:.0f} s")

    def _passed(self, state: SessionState) -> None:
        if state.status == ACTIVE:
            self._start_hold(state)
        elif state.status == VERIFYING and self.returning_until is not None:
            self.returning_until = None  # back after the restart: the hold starts over from here
            self._publish(update_session(self.session_id, _holding_from_now))
        elif state.status == TIMEOUT:
            self._publish(update_session(self.session_id, lambda s: setattr(s, "fixed_late_at", now())))

    def _start_hold(self, state: SessionState) -> None:
        restart = list(state.survive_restart)

        def begin(s: SessionState) -> None:
            if s.status == ACTIVE:
                s.status = VERIFYING
                s.verifying_since = now()
                s.verify_note = f"restarting {', '.join(restart)}" if restart else ""

        self._publish(update_session(self.session_id, begin))
        self.next_resolve_try = 0.0
        if restart:
            self.restarting = True
            Restarter(self.check, restart, self.events).start()

    def _restarted(self, event: RestartDone) -> None:
        self.restarting = False
        if event.problem is not None:
            self._relapse(f"the fix did not survive a restart: {event.problem}")
            return
        self.returning_until = time.monotonic() + RETURN_TIMEOUT_SECONDS
        self._publish(update_session(self.session_id, _waiting_after_restart))

    def _hold_complete(self, state: SessionState) -> bool:
        return (not self.restarting and self.returning_until is None
                and state.held_seconds(now()) >= state.hold_seconds
                and time.monotonic() >= self.next_resolve_try)

    def _resolve(self) -> None:
        """The check held: resolved, unless a guard fails (then the hold goes on)."""
        failing = failing_guards(self.check)
        if failing:
            self._record_guards(tuple(failing), self.last_state)
            self.next_resolve_try = time.monotonic() + GUARD_INTERVAL_SECONDS
            return
        self._record_guards((), self.last_state)  # the warning of a guard that passes again goes
        self._finish(RESOLVED)

    def _relapse(self, note: str) -> None:
        self.restarting, self.returning_until = False, None

        def back(s: SessionState) -> None:
            if s.status == VERIFYING:
                s.status = ACTIVE
                s.relapses += 1
                s.relapse_note = note
                s.verifying_since, s.verify_note = None, ""

        self._publish(update_session(self.session_id, back))

    def _record_guards(self, failing: tuple[Guard, ...], state: SessionState) -> None:
        """Show the guards failing now; each one that fails is charged once (guards_tripped)."""
        messages = [guard.message for guard in failing]
        names = [guard.name for guard in failing]
        if messages == state.guards_failing and set(names) <= set(state.guards_tripped):
            return  # nothing new: no write, no redraw

        def apply(s: SessionState) -> None:
            if not s.meaning.on_the_clock:
                return
            s.guards_failing = messages
            s.guards_tripped += [name for name in names if name not in s.guards_tripped]

        self._publish(update_session(self.session_id, apply))

    def _finish(self, status: str) -> None:
        self._publish(finish(self.session_id, status))

    def _publish(self, state: SessionState) -> None:
        self.on_change(state)

    def _follow_hints(self) -> None:
        """Follow the shell's log from now on (the engine's now), or from where the last
        follower stopped: no request is answered twice, and a restart loses none."""
        previous = self.hint_follower
        since = previous.resume_point() if previous is not None else engine_now()
        self.hint_follower = HintFollower(self.channel, self.hint_gate, self.events, since=since,
                                          tool_gate=self.tools.gate)
        self.hint_follower.start()

    def _answer(self, request: HintRequest) -> None:
        if request.slow_down:
            self.channel.reply(request, SLOW_DOWN)
            return
        try:
            answer = format_hint(reveal_hint(self.session_id))
        except NotFound:
            raise _SessionEnded from None
        except SessionError as refused:
            answer = refused.message
        self.channel.reply(request, answer)

    def _watch_files(self) -> None:
        # Any change of a file (not recursive: mounts/ below is the trainee's to fill) and the
        # directory going away both mean "look at session.toml again".
        changed = SessionFilesChanged()
        follow_directory(self.stack.session_dir, lambda _wake: self.events.put(changed), self.stop)
