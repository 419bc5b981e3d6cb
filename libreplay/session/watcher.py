"""replay-check: one check, or a watch until the session ends.

The watcher is one event loop over one queue: the probe's answers (an ``http_200`` check), the
trainee's hint requests from the shell's log stream, the engine's word on the stack's containers,
changes of the session directory, the guards' rounds, and the deadline. An ``exit_zero`` check
has no stream of answers: ``check.sh`` runs right after the engine says something in the stack
may have changed (a container started, restarted or stopped, a ``docker exec`` ended, other
than the check's own), right after a command typed in the trainee's shell finished (the shell
says so on its log stream, libreplay/play/shell.py), and besides once a second while that shell
runs a command, every few seconds while it sits at its prompt, for fixes nothing announces. The
guards' rounds are paced alike (libreplay/session/verify.py). It writes the outcome through
:mod:`libreplay.session.lifecycle` (``finish``), which the HUD, ``replaybook run`` and the
ledger then read.

A passing check does not resolve at once (docs/scenario-format.md, "Fair wins"): the session
turns VERIFYING, restarts the ``survive_restart`` services if any, and resolves once the check
has kept passing for the hold with every guard passing. A failing check during the hold is a
relapse, back to ACTIVE. The deadline does not end a session that is verifying.

``replay-check --watch`` runs :func:`watch` on its main thread, where a stop signal ends it;
replaybook serve runs it on a thread per session (libreplay/training/engine.py), where no
signal handler is installed (``core.signals.handling`` installs none off the main thread) and a
:class:`WatchStop` ends it. Either way, when the watch ends every thread it started ends too:
the followers' streams are closed (``docker_api.Streams``) and the guards' thread and the file
watch see the stop.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
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
from libreplay.session import ledger
from libreplay.session.checks import (
    Check,
    ProbeEvent,
    ProbeFollower,
    ProbeFollowerEvent,
    ProbeStreamEnded,
    engine_now,
    engine_skew,
)
from libreplay.session.hints import (
    SHELL_NEWS_SPACING_SECONDS,
    SLOW_DOWN,
    CommandFinished,
    CommandFollower,
    CommandFollowerEvent,
    CommandStarted,
    CommandStreamEnded,
    HintChannel,
    HintFollower,
    HintFollowerEvent,
    HintRequest,
    HintStreamEnded,
    RequestGate,
    ShellPacer,
    ToolCancel,
    ToolRequest,
    format_hint,
)
from libreplay.session.hold import Hold
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
from libreplay.session.model import PROBE_SERVICE
from libreplay.session.stack import Stack
from libreplay.session.state import (
    ACTIVE,
    ERROR,
    RESOLVED,
    SESSION_FILE,
    TIMEOUT,
    SessionState,
    load_session,
    now,
)
from libreplay.session.tools import ToolDesk
from libreplay.session.verify import (
    GUARD_IDLE_INTERVAL_SECONDS,
    GUARD_INTERVAL_SECONDS,
    GUARD_NEWS_QUIET_SPACING_SECONDS,
    GuardRunner,
    GuardsChecked,
    RestartDone,
    Restarter,
)
from libreplay.session.vitals import EXEC_ENDED, SHELL_OPENED, StackEvent, StackFollower, shell_problem

# The exit_zero poll while the trainee's shell sits at its prompt: nothing typed there can change
# the answer before the prompt says a command finished, which runs the check at once; the poll
# is left for fixes that land by themselves. While a command runs, SCRIPT_CHECK_INTERVAL_SECONDS.
SCRIPT_QUIET_INTERVAL_SECONDS = 3.0
OWN_CHECKS_KEPT = 4


@dataclass(frozen=True)
class SessionFilesChanged:
    """A file of the session directory changed, or the directory went away: look again."""


@dataclass(frozen=True)
class StopAsked:
    """The watch was asked to end (:class:`WatchStop`): wake the loop."""


# What the watcher's followers put on its one queue: the probe's answers, the trainee's hint
# requests, the engine's word on the stack's containers, the session directory's changes, the
# guards' rounds, the end of a restart the fix must survive, and a stop asked for.
WatcherEvent = (
    ProbeFollowerEvent | HintFollowerEvent | CommandFollowerEvent | StackEvent | SessionFilesChanged
    | GuardsChecked | RestartDone | StopAsked
)


class WatchStop:
    """Ends a :func:`watch` from another thread (the way to stop one that runs where no stop
    signal reaches it: a thread of replaybook serve). Its loop wakes at once and returns the
    session as it is, the stack left to the caller (as ``--keep-stack`` leaves it on SIGTERM);
    the threads it started end with it. A check.sh run or a guard round under way is not cut
    short: the loop returns once it is done."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._set = False
        self._wakers: list[Callable[[], None]] = []

    def set(self) -> None:
        with self._lock:
            self._set = True
            wakers, self._wakers = self._wakers, []
        for wake in wakers:
            wake()

    def is_set(self) -> bool:
        return self._set

    def on_set(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` once it is set (at once if it is)."""
        with self._lock:
            if not self._set:
                self._wakers.append(wake)
                return
        wake()


_watched_here: set[str] = set()  # the sessions a watch() of this process follows now
_watched_here_lock = threading.Lock()


@contextmanager
def _alone_in_this_process(session_id: str) -> Iterator[None]:
    """One watcher per session within this process too: ``holding`` tells processes apart, and
    replaybook serve watches every session on threads of its own (two watchers would each answer
    the same hint request, and each count it)."""
    with _watched_here_lock:
        if session_id in _watched_here:
            raise SessionError(f"session {session_id} is already watched by this process")
        _watched_here.add(session_id)
    try:
        yield
    finally:
        with _watched_here_lock:
            _watched_here.discard(session_id)


def check_once(session_id: str) -> bool:
    state = load_session(session_id)
    return Check(open_stack(state)).once()


def watch(
    session_id: str,
    *,
    through_deadline: bool = False,
    down_on_interrupt: bool = True,
    on_change: Callable[[SessionState], None] | None = None,
    stop: WatchStop | None = None,
) -> SessionState:
    """Watch until resolved, timed out (or, ``through_deadline``, fixed late) or ended, or until
    ``stop`` is set (then the session is returned as it is, and left to the caller: a failure
    once it is set, the session gone or the engine's error as its caller tears it down, ends
    nothing in error).

    On the main thread a stop signal ends it (the stack torn down unless not
    ``down_on_interrupt``); on another thread no handler is installed and only ``stop`` does."""
    state = load_session(session_id)
    if not state.meaning.watched:
        if state.terminal:
            return state
        raise SessionError(f"session {session_id} is {state.status}: break it first (replay-break)")
    asked = stop or WatchStop()
    watcher = _Watcher(open_stack(state), through_deadline, on_change or (lambda _s: None), asked)
    # Claimed before the failure handling below: a refused second watcher must not end the
    # session that the first one is watching.
    with signals_raise(), _alone_in_this_process(session_id), holding(session_id, alone=True):
        try:
            return watcher.run()
        except _SessionEnded:
            if asked.is_set():
                return watcher.last_state  # its caller tears it down: ended, not lost
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
            if asked.is_set():
                # Its caller tears the session down meanwhile (what failed may be that very
                # teardown): the session is left to it, recorded as abandoned, not as an error.
                return watcher.last_state
            _end_in_error(watcher.last_state, failure)
            failure.hint = failure.hint or f"`replay-down {session_id}` removes its stack"
            raise


LOST_STATE_GRACE_SECONDS = 2.0
TRIGGERED_RUN_SPACING_SECONDS = 0.25  # at most four check.sh runs a second that events ask for


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


class CheckTriggers:
    """Which of the engine's events of the stack are worth an ``exit_zero`` check run now.

    An event after the last run's end is. One before its start is not: that run saw it. One
    inside its window (engine time) may be the run's own exec, or a trainee's exec that landed
    while it ran and that it may have missed: the check's own execs go to the services seen in
    its earlier windows, so an exec that ended in another service is worth one more run (the
    first window teaches those services, at the cost of one run). A container that started,
    restarted or stopped inside the window is always worth one: a check does not do that.

    A run an event asks for starts no sooner than TRIGGERED_RUN_SPACING_SECONDS after the last
    run's end (:meth:`earliest_run`): a healthcheck's exec every interval, or a container in a
    crash loop, would otherwise keep check.sh running back to back. Events that come during a
    run, or before that time, all ask for the same one run.
    """

    def __init__(self) -> None:
        self.window = (0.0, 0.0)  # the last run's start and end, engine time (unix seconds)
        self.check_services: set[str] = set()  # where the check's own execs ran so far
        self.last_end = float("-inf")  # the last run's end, monotonic

    def ran(self, started: float, ended: float) -> None:
        self.window = (started, ended)
        self.last_end = time.monotonic()

    def earliest_run(self) -> float:
        """When (monotonic) a run an event asked for may start."""
        return self.last_end + TRIGGERED_RUN_SPACING_SECONDS

    def worth_a_run(self, event: StackEvent) -> bool:
        if not event.may_change or event.service == PROBE_SERVICE:
            return False
        started, ended = self.window
        if event.at > ended:
            return True
        if event.at < started:
            return False
        if event.action != EXEC_ENDED:
            return True
        new = event.service not in self.check_services
        self.check_services.add(event.service)
        return new


class _SessionEnded(Exception):
    """The session directory disappeared under the watcher."""


class _Watcher:
    """One event loop: probe changes, hint requests, the session file, and the deadline.

    Hint requests come from the shell container's log stream (a :class:`HintFollower`, already
    de-duplicated and rate-limited by its gate) and are answered through the Docker API; no file
    of the trainee's is read. Requests made before the watcher started are not seen (get-hint
    asks again every 2 s while it waits).
    """

    def __init__(self, stack: Stack, through_deadline: bool, on_change: Callable[[SessionState], None],
                 asked: WatchStop):
        self.stack = stack
        self.session_id = stack.session_id
        self.last_state = load_session(self.session_id)  # what the session was, should its file go
        self._read_version: tuple[int, int, int, int] | None = None  # of the file last_state was read from
        self.through_deadline = through_deadline
        self.on_change = on_change
        self.check = Check(stack)
        self.channel = HintChannel(self.last_state)
        self.hint_gate = RequestGate()
        self.hint_follower: HintFollower | None = None
        self.tools = ToolDesk(self.channel)  # the trainee's docker tools, on the same channel
        self.events: queue.Queue[WatcherEvent] = queue.Queue()
        self.next_check = 0.0  # (monotonic) when an exit_zero check is due: now, at first
        self.triggers = CheckTriggers()
        self.engine_skew = 0.0  # the engine's clock minus ours
        self.asked = asked  # the caller's stop
        self.stop = threading.Event()  # the watch ends: what every thread of its own looks at
        self.streams = docker_api.Streams()  # the followers' streams, closed when it ends
        self.guards: GuardRunner | None = None
        # The services whose shell runs a command, or opened and has not said it sits at its
        # prompt (sh, a bashrc that sets its own PROMPT_COMMAND): the quick paces while any does.
        self.busy_shells: set[str] = set()
        self.open_shells: dict[str, str] = {}  # the trainee's shells' execs: their services
        self.command_followers: dict[str, CommandFollower] = {}
        self.command_news = ShellPacer()  # a command finished: a check and a guard round now
        self.exec_news = ShellPacer()  # an exec ended: a guard round now
        # What finished commands and execs ask of the guards, spaced by _guard_news_spacing.
        self.guard_news = ShellPacer(spacing=GUARD_NEWS_QUIET_SPACING_SECONDS)
        # The last check runs, unix time: their own execs ended then (a few: the events of one
        # may be read after the next has run).
        self.check_windows: deque[tuple[float, float]] = deque(maxlen=OWN_CHECKS_KEPT)
        self.guard_exec_services: set[str] = set()  # where the guards' own execs went so far
        self.hold = Hold(
            self.session_id, guarded=bool(stack.scenario.guards), restart=self._restart,
            resolve=lambda: self._finish(RESOLVED), publish=self._publish,
        )

    def run(self) -> SessionState:
        self.asked.on_set(lambda: self.events.put(StopAsked()))
        if self.check.http:
            self._follow_probe()
        paced = not self.check.http or bool(self.stack.scenario.guards)  # by what the shells say
        if paced:
            self.engine_skew = engine_skew()  # the engine's events are in its time
        self._follow_stack()
        self._follow_hints()
        for service in self.last_state.services if paced else ():
            if service not in (self.last_state.shell_service, PROBE_SERVICE):
                self._follow_commands(service)
        if self.stack.scenario.guards:
            self.guards = GuardRunner(self.check, self.events, self.stop, pace=self._guard_pace)
            self.guards.start()
        threading.Thread(target=self._watch_files, name="session-files", daemon=True).start()
        try:
            return self._loop()
        finally:
            self.stop.set()
            self.streams.close()
            self._nudge_guards()
            self.tools.close()

    def _loop(self) -> SessionState:
        while True:
            if self.asked.is_set():
                return self.last_state
            try:
                state = self._state_now()
            except NotFound:
                raise _SessionEnded from None
            timed_out = state.status == TIMEOUT
            if not state.meaning.watched or (timed_out and not self.through_deadline):
                return state
            if state.fixed_late_at is not None:
                return state
            due = self.hold.due(state, now())
            if due is not None:
                self._finish(due)
                continue
            wait = min(self.hold.seconds_to_next(state, now()), self._act_on_news())
            # check.sh has no stream of answers; nor has the wait for a restarted service to answer.
            if not self.check.http or self.hold.polling:
                if time.monotonic() >= self.next_check:
                    self._check_now(state)
                    continue
                wait = min(wait, max(0.0, self.next_check - time.monotonic()))
            self._handle(self._wait_event(wait), state)

    def _state_now(self) -> SessionState:
        """The session's state as its file says now, read again only once the file was written
        (the loop turns several times a second, on every event; the file changes far less
        often, and parsing it on every turn cost a training host with a dozen sessions a few
        percent of a core). The atomic writer puts a new file in place: a new inode, new times.
        What this watcher writes itself (update_session) is read again whatever the file's
        times say: two writes in one tick of the file system's clock could look alike."""
        try:
            info = (self.stack.session_dir / SESSION_FILE).stat()
        except OSError:
            info = None  # gone (or unreadable): load_session says how
        version = (info.st_ino, info.st_mtime_ns, info.st_ctime_ns, info.st_size) if info else None
        if version is None or version != self._read_version:
            self.last_state = load_session(self.session_id)
            self._read_version = version
        return self.last_state

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
            self._follow_probe()  # the log stream dropped: follow again
        elif isinstance(event, StackEvent):
            self._stack_changed(event, state)
        elif isinstance(event, CommandStarted | CommandFinished):
            self._shell_said(event)
        elif isinstance(event, CommandStreamEnded):
            self._follow_commands(event.service)  # restarted, or not running yet: follow again

    @property
    def shell_busy(self) -> bool:
        """Whether a trainee's shell, in any service, runs a command (or cannot say it does not)."""
        return bool(self.busy_shells)

    def _shell_said(self, event: CommandStarted | CommandFinished) -> None:
        """A trainee's shell started a command (quick paces until it is back at its prompt), or
        one finished (look now, paced: a forged line can only make a check run sooner)."""
        if isinstance(event, CommandStarted):
            self.busy_shells.add(event.service)
            self.next_check = min(self.next_check, time.monotonic() + SCRIPT_CHECK_INTERVAL_SECONDS)
        else:
            self.busy_shells.discard(event.service)
            self.command_news.finished()

    def _act_on_news(self) -> float:
        """What a finished command or exec asks for, once its pace allows; how long until the
        next one is due (the loop waits no longer)."""
        self.guard_news.spacing = self._guard_news_spacing()
        if self.command_news.take():
            self._check_soon()
            self.guard_news.finished()
        if self.exec_news.take():
            self.guard_news.finished()
        if self.guard_news.take() and self.last_state.meaning.on_the_clock:
            self._nudge_guards()  # (timed out: a round would count for nothing)
        pacers = (self.command_news, self.exec_news, self.guard_news)
        pending = [left for left in (pacer.seconds_left() for pacer in pacers) if left is not None]
        return min(pending, default=3600.0)

    def _guard_news_spacing(self) -> float:
        """How soon after the last news-driven guard round another may run. Each round costs
        the guards' scripts (a Compose CLI apiece, ~80 ms of CPU): a trainee typing a command a
        second would start one a second, and a training host with a dozen sessions spend a
        core on them. While a round cannot start, suspend or end a hold (the check fails, no
        guard fails) a command that breaks a guard is still seen at once, and a quick series
        of them once per GUARD_NEWS_QUIET_SPACING_SECONDS, its last command always looked at;
        otherwise every command counts (the shell's own spacing)."""
        quiet = (self.last_state.status == ACTIVE and not self.hold.check_ok and not self.hold.guards_fail)
        return GUARD_NEWS_QUIET_SPACING_SECONDS if quiet else SHELL_NEWS_SPACING_SECONDS

    def _check_soon(self) -> None:
        if not self.check.http:  # ask check.sh now, spaced (http_200: the probe sees it by itself)
            self.next_check = min(self.next_check, self.triggers.earliest_run())

    def _check_now(self, state: SessionState) -> None:
        asked = time.time()
        self._checked(self.check.once(), asked, state)
        self.check_windows.append((asked, time.time()))
        self.triggers.ran(asked + self.engine_skew, time.time() + self.engine_skew)
        # Quick while a shell runs a command, and through the hold (a relapse, by a job left
        # in the background, say, must not slip between two looks); quiet otherwise.
        quick = self.shell_busy or self.hold.check_ok
        interval = SCRIPT_CHECK_INTERVAL_SECONDS if quick else SCRIPT_QUIET_INTERVAL_SECONDS
        self.next_check = time.monotonic() + interval

    def _checked(self, ok: bool, at: float, state: SessionState) -> None:
        passed_now = ok and not self.hold.check_ok
        self.hold.checked(ok, at, state)
        if passed_now:
            self._nudge_guards()  # a passing check waits on a guard round to start the hold

    def _guard_pace(self) -> float:
        """Guard rounds every 2 s while one can start, suspend or end a hold, or clear a failing
        guard's message, or while the trainee's shell runs a command (what it does shows at no
        prompt: psql, a long command line); slower while the check fails and the shell sits at
        its prompt, when every change that could matter nudges a round (read by the guards'
        thread)."""
        if not self.last_state.meaning.on_the_clock:
            return GUARD_IDLE_INTERVAL_SECONDS  # timed out: a late fix needs the check, no round
        idle = (self.last_state.status == ACTIVE and not self.hold.check_ok and not self.hold.guards_fail
                and not self.shell_busy)
        return GUARD_IDLE_INTERVAL_SECONDS if idle else GUARD_INTERVAL_SECONDS

    def _nudge_guards(self) -> None:
        if self.guards is not None:
            self.guards.nudge()

    def _follow_stack(self) -> None:
        # exit_zero: every change may change check.sh's answer; guards: a container coming back,
        # an exec that ended.
        changes = not self.check.http or bool(self.stack.scenario.guards)
        StackFollower(self.stack.project, self.events, returns=changes, execs=changes,
                      streams=self.streams).start()

    def _follow_probe(self) -> None:
        ProbeFollower(self.check, self.events, streams=self.streams).start()

    def _stack_changed(self, event: StackEvent, state: SessionState) -> None:
        """The engine's word on the stack: a shell gone for good ends the session; an event
        stream that ended is followed again while the engine still answers."""
        self._shells_opened_or_closed(event)
        if event.ended:
            docker_api.ensure_engine()  # EnvironmentProblem: the engine went away
            self._follow_stack()
            event = StackEvent(service=state.shell_service, action="recheck")  # missed meanwhile?
        if not self.check.http and self.triggers.worth_a_run(event):
            # Ask check.sh soon (http_200: the probe sees it by itself); spaced, coalesced.
            self.next_check = min(self.next_check, self.triggers.earliest_run())
        if event.changes_containers and event.service != PROBE_SERVICE:
            self._nudge_guards()  # a container stopped, went or came back: what a guard sees may differ
        elif self._exec_news_for_guards(event):
            self.exec_news.finished()
        if event.settles and event.service == state.shell_service:
            problem = shell_problem(state)
            if problem is not None:
                docker_api.ensure_engine()  # an engine that is shutting down stops every container
                raise ScenarioFailure(f"session {self.session_id}: {problem}: the session cannot go on")

    def _shells_opened_or_closed(self, event: StackEvent) -> None:
        """A trainee's shell opened (busy until it says it sits at its prompt, which a shell that
        cannot write the log never says), or closed (a window left with `exit`, which PS0 said
        was a command, says nothing more)."""
        if event.action == SHELL_OPENED:
            self.open_shells[event.exec_id] = event.service
            self.busy_shells.add(event.service)
        elif event.action == EXEC_ENDED and event.exec_id in self.open_shells:
            service = self.open_shells.pop(event.exec_id)
            if service not in self.open_shells.values():
                self.busy_shells.discard(service)

    def _exec_news_for_guards(self, event: StackEvent) -> bool:
        """Whether an exec that ended may have changed what a guard sees: not the probe's, not a
        reply's, not the check's own (it ended while check.sh ran), not the guards' own (it ended
        during a round, in a service their execs went to before: the first teaches, at the cost
        of one round, as CheckTriggers does)."""
        if self.guards is None or event.action != EXEC_ENDED or event.service == PROBE_SERVICE:
            return False
        if self.channel.is_own_exec(event.exec_id):
            return False
        moment = event.at - self.engine_skew
        if any(started <= moment <= ended for started, ended in self.check_windows):
            return False
        if self.guards.ran_during(moment):
            new = event.service not in self.guard_exec_services
            self.guard_exec_services.add(event.service)
            return new
        return True

    def _wait_event(self, wait: float) -> WatcherEvent | NothingArrived:
        try:
            return self.events.get(timeout=max(0.0, wait))
        except queue.Empty:
            return NothingArrived()

    def _judge(self, event: ProbeEvent | GuardsChecked | RestartDone, state: SessionState) -> None:
        """What the check, the guards and a restart say of the fix: the hold's to weigh."""
        if isinstance(event, ProbeEvent):
            started = state.started_at.timestamp() if state.started_at else 0.0
            if event.at >= started:
                self._checked(event.ok, event.at, state)
        elif isinstance(event, GuardsChecked):
            self.hold.guards_checked(event, state)
        else:
            self.hold.restarted(event, state)

    def _restart(self, services: Sequence[str]) -> None:
        Restarter(self.check, services, self.events).start()

    def _finish(self, status: str) -> None:
        self._publish(finish(self.session_id, status))

    def _publish(self, state: SessionState) -> None:
        self._read_version = None  # written here: read again (see _state_now)
        self.on_change(state)

    def _follow_hints(self) -> None:
        """Follow the shell's log from now on (the engine's now), or from where the last
        follower stopped: no request is answered twice, and a restart loses none."""
        previous = self.hint_follower
        since = previous.resume_point() if previous is not None else engine_now()
        self.hint_follower = HintFollower(self.channel, self.hint_gate, self.events, since=since,
                                          tool_gate=self.tools.gate, streams=self.streams)
        self.hint_follower.start()

    def _follow_commands(self, service: str) -> None:
        """Follow ``service``'s log for the markers of a shell in its window, from where the
        last follower stopped."""
        previous = self.command_followers.get(service)
        since = previous.resume_point() if previous is not None else engine_now()
        follower = self.command_followers[service] = CommandFollower(self.last_state, service, self.events,
                                                                     since=since, streams=self.streams)
        follower.start()

    def _answer(self, request: HintRequest) -> None:
        if request.slow_down:
            self.channel.reply(request, SLOW_DOWN)
            return
        try:
            answer = format_hint(reveal_hint(self.session_id))
            self._read_version = None  # written here: read again (see _state_now)
        except NotFound:
            raise _SessionEnded from None
        except SessionError as refused:
            answer = refused.message
        self.channel.reply(request, answer)

    def _watch_files(self) -> None:
        # Any change of a file (not recursive: a subdirectory is no session file) and the
        # directory going away both mean "look at session.toml again".
        changed = SessionFilesChanged()
        follow_directory(self.stack.session_dir, lambda _wake: self.events.put(changed), self.stop)
