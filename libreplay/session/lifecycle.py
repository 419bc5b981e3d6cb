"""Sessions: a scenario's real stack brought up, broken, watched until fixed, and torn down.

Each public function is one job of one executable (replay-up, -break, -check, -hint,
-down). They share state only through ``session.toml`` (libreplay.session.state) and the engine's
labels, so they compose in a shell pipe and can run in separate processes. What they know of the
scenario is the snapshot replay-up took (libreplay.session.snapshot): no step after up reads the
pack again.

Clean-up is guaranteed: every phase runs inside :func:`libreplay.core.signals.signals_raise`, and any
exception or stop signal tears the stack down (shielded from a second Ctrl-C) before it
propagates. A session whose owner process died (SIGKILL) is an orphan:
:func:`libreplay.session.owners.find_orphans` names it and :func:`down_all` removes it.
"""

from __future__ import annotations

import os
import queue
import random
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from libreplay.core.errors import (
    EnvironmentProblem,
    InvalidInput,
    NotFound,
    ReplayError,
    ScenarioFailure,
    SessionError,
)
from libreplay.core.signals import as_interrupted, shielded, signals_raise
from libreplay.engine import docker_api
from libreplay.scenario.model import MAX_HOLD_SECONDS, MAX_SLA_MINUTES, Fault, Scenario
from libreplay.session import ledger
from libreplay.session.checks import (
    Check,
    ProbeEvent,
    ProbeFollower,
    ProbeFollowerEvent,
    ProbeStreamEnded,
    ensure_probe_image,
)
from libreplay.session.hints import (
    HintChannel,
)
from libreplay.session.limits import Limits, engine_cpus, fit_to_engine, require_room, session_ceiling
from libreplay.session.owners import process_alive, start_time
from libreplay.session.ports import require_free
from libreplay.session.snapshot import load_snapshot, write_snapshot
from libreplay.session.stack import STEP_TIMEOUT_SECONDS, Stack
from libreplay.session.state import (
    ABANDONED,
    ACTIVE,
    BREAKING,
    ERROR,
    READY,
    RESOLVED,
    STARTING,
    TIMEOUT,
    SessionState,
    damaged_sessions,
    known_session_dir,
    list_sessions,
    load_session,
    new_session_id,
    now,
    project_name,
    save_new_session,
    update_session,
)
from libreplay.session.verify import failing_guards, guard_failure

Progress = Callable[[str], None]


@dataclass(frozen=True)
class NothingArrived:
    """A wait ended with nothing on its queue (a deadline, or the next script check, is due)."""


ProbeEvents = queue.Queue[ProbeFollowerEvent]


class ProbeFeed:
    """The probe's answers (http_200 checks) on a queue, for one wait or proof: :meth:`follow`
    starts reading the probe's log from its first line, and again when the stream dropped while
    the probe still runs (from the last line read, which comes again: a wait tells old answers
    apart by their stamps); :meth:`close` ends every follower it started."""

    def __init__(self, check: Check) -> None:
        self.check = check
        self.events: ProbeEvents = queue.Queue()
        self.streams = docker_api.Streams()
        self._last: ProbeFollower | None = None

    def follow(self) -> None:
        since = self._last.resume_point() if self._last is not None else None
        self._last = ProbeFollower(self.check, self.events, streams=self.streams, since=since)
        self._last.start()

    def close(self) -> None:
        self.streams.close()  # the followers end now, not when the probe stops (serve lives on)


BASELINE_TIMEOUT_SECONDS = 120
BREAK_PROOF_TIMEOUT_SECONDS = 60
SCRIPT_CHECK_INTERVAL_SECONDS = 1.0
SLA_OVERRIDE_ENV = "REPLAYBOOK_SLA_SECONDS"  # seconds; for tests and demos
HOLD_OVERRIDE_ENV = "REPLAYBOOK_HOLD_SECONDS"  # seconds, every scenario's hold; for tests and demos
OWNER_ENV = "REPLAYBOOK_OWNER_PID"


def _quiet(_message: str) -> None:
    return None


# -- opening ---------------------------------------------------------------------------------


def open_stack(state: SessionState) -> Stack:
    """The session's stack, with the scenario as replay-up snapshotted it (never the pack:
    an update or a removal of the pack meanwhile changes nothing of the session)."""
    return Stack(load_snapshot(state.id), state.id, state.project, state.directory)


def sla_seconds_for(scenario: Scenario, sla_minutes: int | None) -> int:
    override = os.environ.get(SLA_OVERRIDE_ENV)
    if override:
        try:
            seconds = float(override)
        except ValueError:
            seconds = -1.0
        if not 0 < seconds <= 60 * MAX_SLA_MINUTES:  # also NaN and inf
            raise InvalidInput(f"{SLA_OVERRIDE_ENV}: must be a number of seconds from 1 to "
                               f"{60 * MAX_SLA_MINUTES}, got {override[:40]!r}")
        return max(1, int(seconds))
    if sla_minutes is not None and not 1 <= sla_minutes <= MAX_SLA_MINUTES:
        raise InvalidInput(f"--sla: must be minutes from 1 to {MAX_SLA_MINUTES}, got {sla_minutes}")
    return 60 * (sla_minutes or scenario.sla_minutes)


def hold_seconds_for(scenario: Scenario) -> int:
    """The scenario's hold, or the override every scenario's hold takes in this run."""
    override = os.environ.get(HOLD_OVERRIDE_ENV)
    if not override:
        return scenario.hold_seconds
    if not re.fullmatch(r"[0-9]{1,3}", override) or int(override) > MAX_HOLD_SECONDS:
        raise InvalidInput(f"{HOLD_OVERRIDE_ENV}: must be a whole number of seconds from 0 to "
                           f"{MAX_HOLD_SECONDS}, got {override[:40]!r}")
    return int(override)


def _explicit_owner() -> tuple[int | None, float | None]:
    value = os.environ.get(OWNER_ENV)
    if not value:
        return None, None
    try:
        pid = int(value)
    except ValueError as exc:
        raise InvalidInput(f"{OWNER_ENV}: must be a process id, got {value!r}") from exc
    return pid, start_time(pid)


@contextmanager
def holding(session_id: str, *, alone: bool = False) -> Iterator[None]:
    """Record this process as the one working on the session while the block runs.

    ``alone``: refuse while another live process holds it (two watchers would each answer the
    same hint request, and each count it)."""
    pid = os.getpid()

    def hold(state: SessionState) -> None:
        other = state.holder_pid
        if alone and other not in (None, pid) and process_alive(other, state.holder_started):
            raise SessionError(f"session {session_id} is already watched by process {other}")
        state.holder_pid, state.holder_started = pid, start_time(pid)

    def release(state: SessionState) -> None:
        if state.holder_pid == pid:
            state.holder_pid = state.holder_started = None

    update_session(session_id, hold)
    try:
        yield
    finally:
        with suppress(ReplayError):  # gone or damaged meanwhile: the error that says so is raised
            update_session(session_id, release)


# -- replay-up -------------------------------------------------------------------------------


def up(
    scenario: Scenario, *, sla_minutes: int | None = None, on_progress: Progress = _quiet,
    reveal: bool = False, player: str | None = None, limits: Limits | None = None,
) -> SessionState:
    """Create a session, bring its stack up and prove the healthy baseline passes its check.
    ``player``: who plays, as the ledger will name them (None: the OS user's name). ``limits``:
    each container's ceiling (None: the environment's, session/limits.py).

    Raises PackUntrusted, before anything is made, for a pack not trusted at the commit checked
    out (the command layer asks first: libreplay/packs/trust.py). The session's snapshot of the
    scenario is taken at that commit, first: every later step runs the snapshot, not the pack.

    Blind play (docs/terminal.md): the progress names neither the scenario nor its images (the id
    is blanked out of Compose's own output), unless ``reveal`` (an author's view)."""
    from libreplay.packs import trust

    who = ledger.check_player(player) if player is not None else ledger.default_player()
    ceiling = limits or session_ceiling()  # a bad variable is refused before anything is made
    require_room(scenario, ceiling)
    # Meanwhile: trust, Compose's resolution of the model and the port checks come first.
    meeting = _EngineMeeting()
    meeting.start()
    # The commit the snapshot must be taken at. require_trust reads the clone's HEAD again: a
    # clone that moved in between fails the snapshot's check, so the gap fails closed.
    admitted = trust.commit_of(scenario)
    trust.require_trust(scenario)
    sla = sla_seconds_for(scenario, sla_minutes)
    hold = hold_seconds_for(scenario)
    owner_pid, owner_started = _explicit_owner()
    session_id = new_session_id()
    state = SessionState(
        id=session_id,
        scenario=scenario.id,
        pack=scenario.pack,
        scenario_dir=str(scenario.directory),
        project=project_name(session_id),
        status=STARTING,
        shell_service=scenario.shell,
        services=list(scenario.services),
        success_condition=scenario.success_condition,
        sla_seconds=sla,
        created_at=now(),
        owner_pid=owner_pid,
        owner_started=owner_started,
        holder_pid=os.getpid(),
        holder_started=start_time(os.getpid()),
        title=scenario.title,
        page=scenario.page,
        pack_commit=admitted,
        hold_seconds=hold,
        survive_restart=list(scenario.survive_restart),
        player=who,
    )
    stack = Stack(scenario, session_id, state.project, state.directory)
    # Checked before anything of the session exists: a refused model, or a host port another
    # session or program holds, leaves nothing behind (the holder is named).
    resolved = stack.resolve()
    require_free(scenario, resolved.host_ports, reveal=reveal)
    if resolved.host_ports:
        _warn_of_neighbours(on_progress)
    with _torn_down_on_failure(stack):
        save_new_session(state)
        write_snapshot(scenario, state.directory, admitted_commit=admitted)
        probe_image = ensure_probe_image(on_progress) if scenario.probes_http else ""
        ceiling = fit_to_engine(ceiling, engine_cpus())
        stack.prepare(probe_image, resolved, ceiling)
        on_progress(f"each container limited to {ceiling.describe()}" if ceiling is not None
                    else "no resource limits (REPLAYBOOK_SESSION_LIMITS=off)")
        on_progress(f"starting {scenario.ref if reveal else 'the scenario'} as session {session_id} "
                    f"(project {state.project})")
        compose_progress = on_progress if reveal else _without(
            (scenario.id, scenario.directory.name), on_progress)
        stack.build(compose_progress)
        # The proof runs while Compose waits for the services: it follows the probe as soon as
        # the probe runs, and its time limits count from the moment the stack is up.
        # get-hint goes into the shell on that thread too, once the proof passed (the stack is
        # serving by then); put in again after the wait when that was too early.
        with _BaselineProof(stack, then=lambda: HintChannel(state).install(verify=True)) as baseline:
            stack.start(compose_progress)
            baseline.stack_is_up()
            baseline.result()
            if baseline.then_said is not None:
                _install_get_hint(state, on_progress)
        meeting.done()  # long over by now; a bug of its own is raised here, not lost on its thread
        return update_session(session_id, _mark_ready)
    raise AssertionError("unreachable")  # pragma: no cover - the context manager re-raises


# Docker Engine 28.0 drops packets that hosts of the same network segment route to a port
# published on 127.0.0.1 (moby/moby#45610); an older engine lets them through.
LOOPBACK_SAFE_ENGINE = 28


def _warn_of_neighbours(on_progress: Progress) -> None:
    major = docker_api.engine_major_version()
    if major is not None and major < LOOPBACK_SAFE_ENGINE:
        on_progress(
            f"warning: this scenario publishes ports on 127.0.0.1, and Docker Engine {major}.x lets "
            f"hosts on this machine's network segment reach them too (fixed in Docker Engine "
            f"{LOOPBACK_SAFE_ENGINE}.0): upgrade Docker where neighbours are not trusted"
        )


def _without(secrets: tuple[str, ...], on_progress: Progress) -> Progress:
    """Compose's build and start output with ``secrets`` (the scenario id, in the images' names;
    its directory's name, in a build context) blanked: a cold build still shows its progress,
    and names nothing."""

    def say(line: str) -> None:
        for secret in secrets:
            line = line.replace(secret, "scenario")
        on_progress(line)

    return say


def _install_get_hint(state: SessionState, on_progress: Progress) -> None:
    problem = HintChannel(state).install(verify=True)
    if problem is not None:
        on_progress(f"get-hint could not be put into the shell ({problem}): C-b h and replay-hint still work")


def _mark_ready(state: SessionState) -> None:
    state.status = READY
    state.holder_pid = state.holder_started = None


class Deadline:
    """A time limit that starts counting when :meth:`start` is called (at once unless
    ``started=False``: a proof begun while Compose still waits for the services is not charged
    for that wait); :meth:`cancel` ends it early, so a proof on another thread gives up."""

    def __init__(self, seconds: float, *, started: bool = True) -> None:
        self.seconds = seconds
        self._since: float | None = time.monotonic() if started else None
        self._cancelled = threading.Event()

    def start(self) -> None:
        if self._since is None:
            self._since = time.monotonic()

    def cancel(self) -> None:
        self._cancelled.set()

    def left(self) -> float:
        if self._cancelled.is_set():
            return 0.0
        if self._since is None:
            return float("inf")
        return max(0.0, self._since + self.seconds - time.monotonic())

    def passed(self) -> bool:
        return self.left() <= 0.0

    def pause(self, seconds: float) -> None:
        """Sleep up to ``seconds``, less when the deadline comes first or is cancelled."""
        self._cancelled.wait(min(seconds, self.left()))


class _BaselineProof(threading.Thread):
    """Proves on a thread of its own, while Compose starts the stack, that the healthy stack
    passes its check (a probe answer confirmed by a check of its own, or check.sh) and then its
    guards: the proof overlaps the wait for the services instead of following it.

    Its time limits (BASELINE_TIMEOUT_SECONDS, then GUARDS_SETTLE_SECONDS) count from
    :meth:`stack_is_up`, so a slow start is Compose's to time, not the proof's; before that, a
    failing answer or guard is only tried again. :meth:`result` waits for the proof and raises
    what it found; leaving the block early (a failure, a stop signal) makes the proof give up.
    A pass seen before the stack was up counts only if it still holds then (:meth:`_relapsed`):
    a half-started stack is not the baseline."""

    def __init__(self, stack: Stack, *, then: Callable[[], str | None]) -> None:
        super().__init__(name="baseline-proof", daemon=True)
        self.check = Check(stack)
        self.then = then  # run once the proof passed: None, or what went wrong
        self.then_said: str | None = "not run"
        self.proven = Deadline(BASELINE_TIMEOUT_SECONDS, started=False)
        self.settled = Deadline(GUARDS_SETTLE_SECONDS, started=False)
        self.feed = ProbeFeed(self.check) if self.check.http else None  # closed when the proof is over
        self.passed = False
        self.passed_at: float | None = None  # unix time: when the passing check began
        self.up_at: float | None = None  # unix time: when Compose's --wait returned
        self.error: BaseException | None = None

    def __enter__(self) -> _BaselineProof:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.proven.cancel()
        self.settled.cancel()
        if self.feed is not None:
            self.feed.close()

    def stack_is_up(self) -> None:
        self.up_at = time.time()
        self.proven.start()
        self.settled.start()

    def run(self) -> None:
        try:
            if self._probe_followed():
                self.passed_at = _wait_for(self.check, self.feed, fixed=True, since=None,
                                           deadline=self.proven, confirm=True)
                self.passed = self.passed_at is not None
            if self.passed:
                _require_guards(self.check, "the healthy stack", self.settled)
                self.then_said = self.then()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread by result()
            self.error = exc

    def _probe_followed(self) -> bool:
        """For http_200: the probe's log followed once the probe runs (the stream starts at its
        first line). False when the deadline came first."""
        if self.feed is None:
            return True
        while not probe_alive(self.check):
            if self.proven.passed():
                return False
            self.proven.pause(PROBE_LOOK_SECONDS)
        self.feed.follow()
        return True

    def result(self) -> None:
        """Wait for the proof (bounded by its deadlines, which run now); raise what it found."""
        self.join()
        if self.error is not None:
            raise self.error
        if self.passed and not self._relapsed():
            return
        target = self.check.stack.probe_url() if self.check.http else "check.sh"
        raise ScenarioFailure(
            f"{self.check.stack.scenario.ref}: the healthy stack fails its own success check "
            f"({target}) after {BASELINE_TIMEOUT_SECONDS} s: the scenario is broken before any fault",
        )

    def _relapsed(self) -> bool:
        """The probe said fail after the proof (during the rest of the start): then the healthy
        stack must pass again (confirmed, within the time limit) before it counts as proven.
        check.sh has no such events: when it passed before Compose's wait returned (a stack
        half started), it runs once more now; failing, it must pass again like the probe."""
        if self.feed is None:
            return self._script_relapsed()
        last: ProbeEvent | None = None
        while not self.feed.events.empty():
            event = self.feed.events.get_nowait()
            last = event if isinstance(event, ProbeEvent) else last
        if last is None or last.ok:
            return False
        return _wait_for(self.check, self.feed, fixed=True, since=None,
                         deadline=Deadline(BASELINE_TIMEOUT_SECONDS), confirm=True) is None

    def _script_relapsed(self) -> bool:
        """check.sh's pass counts when its run began once the stack was up; an earlier one is
        tried once more (one run: cheap), then given the time limit to pass again."""
        if self.passed_at is not None and self.up_at is not None and self.passed_at >= self.up_at:
            return False
        if self.check.once():
            return False
        return _poll(self.check, want=True, deadline=Deadline(BASELINE_TIMEOUT_SECONDS)) is None


PROBE_LOOK_SECONDS = 0.1  # how often the baseline proof looks whether Compose started the probe


# -- replay-break ----------------------------------------------------------------------------


def ready_to_break() -> None:
    """What every break needs, made ready before its session is known (the engine's client,
    the Compose program found): replay-break in a pipe waits for replay-up's session id, so
    this is off the time to a playable session. A problem here is left for the break to report."""
    from libreplay.engine.compose import compose_program

    _meet_engine()
    with suppress(ReplayError):
        compose_program()


class _EngineMeeting(threading.Thread):
    """:func:`_meet_engine` on a thread of its own while replay-up's main thread goes on. What it
    raises beyond a ReplayError (left for the step that needs the engine) is a bug: kept, and
    raised in the main thread by :meth:`done`, not printed as a stray thread's traceback."""

    def __init__(self) -> None:
        super().__init__(name="meet-engine", daemon=True)
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            _meet_engine()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread by done()
            self.error = exc

    def done(self) -> None:
        self.join()
        if self.error is not None:
            raise self.error


def _meet_engine() -> None:
    """The engine's client made and the engine pinged (the SDK's import and the connection are
    a good part of a command's start); a problem is left for the step that needs the engine."""
    with suppress(ReplayError):
        docker_api.ensure_engine()


def break_session(
    session_id: str, *, fault_name: str | None = None, on_progress: Progress = _quiet, reveal: bool = False
) -> SessionState:
    """Inject the fault, prove the check now fails, then start the SLA clock.

    Blind play (docs/terminal.md): neither the progress nor an error names the fault drawn
    (or the valid names, for a mistyped ``fault_name``) unless ``reveal``; the state keeps it."""
    stack = open_stack(load_session(session_id))
    # Checked and set under the session lock: two concurrent breaks cannot both inject.
    update_session(session_id, _check_ready)
    # From here any failure, a mistyped --fault included, tears the stack down: in a pipe
    # nobody else would.
    with _torn_down_on_failure(stack), holding(session_id):
        fault = choose_fault(stack.scenario, fault_name, reveal=reveal)
        update_session(session_id, lambda s: _mark_breaking(s, fault, stack.scenario))
        named = f"fault {fault.name!r}" if reveal else "the fault"
        on_progress(f"injecting {named}")
        check = Check(stack)
        injected_at = time.time()
        with _probe_feed(check) as feed:
            inject(stack, fault)
            # A check of our own at once proves most breaks sooner than the probe's next look.
            seen_at = _failing_now(check)
            # A guard failing now would charge the trainee for the break itself. Its round runs
            # while the break is being proven; a round that began before the check was seen to
            # fail may have seen the healthy stack, and is run again.
            with _GuardsProof(check, f"the stack broken by {named}") as guards:
                broken_at = seen_at or _proven_broken(check, feed, injected_at)
                if broken_at is None:
                    raise ScenarioFailure(
                        f"{stack.scenario.ref}: {named} did not break anything: the check still "
                        f"passes {BREAK_PROOF_TIMEOUT_SECONDS} s after it was injected"
                    )
                guards.result(after=broken_at)
        return update_session(session_id, _start_clock)
    raise AssertionError("unreachable")  # pragma: no cover


GUARDS_SETTLE_SECONDS = 20  # a guard may need a moment after a start or a break (a service warming up)


def _require_guards(check: Check, what: str, settle: Deadline | None = None) -> float:
    """Every guard passes within GUARDS_SETTLE_SECONDS (``settle``), or the scenario is broken
    (its author's to fix: a guard must pass while the scenario is healthy and while it is
    broken). Returns when the passing round began (unix time)."""
    settle = settle or Deadline(GUARDS_SETTLE_SECONDS)
    while True:
        began = time.time()
        failing = failing_guards(check) if check.stack.scenario.guards else []
        if not failing:
            return began
        if settle.passed():
            raise ScenarioFailure(
                f"{check.stack.scenario.ref}: on {what}, {guard_failure(failing)}",
                hint="a guard passes before the fix and fails only when a shortcut destroys what it protects",
            )
        settle.pause(SCRIPT_CHECK_INTERVAL_SECONDS)


class _GuardsProof(threading.Thread):
    """The guards' round after a break, on a thread of its own while the break is proven."""

    def __init__(self, check: Check, what: str) -> None:
        super().__init__(name="guards-proof", daemon=True)
        self.check, self.what = check, what
        self.settled = Deadline(GUARDS_SETTLE_SECONDS)
        self.passed_round: float | None = None
        self.error: BaseException | None = None

    def __enter__(self) -> _GuardsProof:
        if self.check.stack.scenario.guards:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.settled.cancel()  # the break failed or was stopped: the round gives up

    def run(self) -> None:
        try:
            self.passed_round = _require_guards(self.check, self.what, self.settled)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread by result()
            self.error = exc

    def result(self, *, after: float) -> None:
        """Every guard passed in a round that began once the break was seen (``after``, unix
        time; the probe's clock is the host's), or ScenarioFailure."""
        if not self.check.stack.scenario.guards:
            return
        self.join()
        if self.error is not None:
            raise self.error
        if self.passed_round is None or self.passed_round < after:
            _require_guards(self.check, self.what)


def choose_fault(scenario: Scenario, name: str | None, *, reveal: bool = False) -> Fault:
    """The fault called ``name``, or one drawn at random. A name it does not have is refused
    naming the valid ones only when ``reveal``: a trainee's guess must not list the answers."""
    if name is None:
        return random.choice(scenario.faults)
    try:
        return scenario.fault(name)
    except KeyError:
        if not reveal:
            raise InvalidInput(f"--fault: the scenario has no fault {name!r}",
                               hint="an author sees the valid names with --reveal") from None
        names = ", ".join(f.name for f in scenario.faults)
        raise InvalidInput(f"--fault: {scenario.ref} has no fault {name!r} (faults: {names})") from None


def _check_ready(state: SessionState) -> None:
    if state.status != READY:
        raise SessionError(f"session {state.id} is {state.status}; only a ready session can be broken")
    state.status = BREAKING


def _mark_breaking(state: SessionState, fault: Fault, scenario: Scenario) -> None:
    state.status = BREAKING
    state.fault = fault.name
    state.hints_total = len(scenario.hints_for(fault))  # the one write: a fault may have its own hints


def _start_clock(state: SessionState) -> None:
    state.status = ACTIVE
    state.started_at = now()
    state.deadline = state.started_at + timedelta(seconds=state.sla_seconds)


def inject(stack: Stack, fault: Fault) -> None:
    """Run a fault's script or its steps, each with a timeout; a failing step is an error."""
    if fault.script:
        result = stack.run_script(fault.script)
        if not result.ok:
            raise ScenarioFailure(
                f"{stack.scenario.ref}: {fault.script} {result.how_it_ended}:\n{result.tail()}"
            )
        return
    with tempfile.TemporaryDirectory(prefix=".break-", dir=stack.session_dir) as scratch:
        for index, step in enumerate(fault.steps):
            if step.action == "cp":
                # Through the engine's API: one call, where a Compose process takes a while to start.
                source = _written_now(stack.scenario_file(step.src or ""), Path(scratch) / str(index))
                problem = stack.copy_into(step.service, source, step.dest or "")
                if problem is not None:
                    # The step, its file and its field; not the fault's name (blind play).
                    raise ScenarioFailure(
                        f"{stack.scenario.ref}: break[{index}].cp of {step.src} to "
                        f"{step.service}:{step.dest} (cp.dest) failed:\n{problem}",
                        hint="cp.dest names the file to write; a directory there is refused, not copied into",
                    )
                continue
            if step.action == "exec":
                args = ["exec", "-T", step.service, *step.cmd]
            else:
                args = ["restart", step.service]
            result = stack.compose(*args, timeout=STEP_TIMEOUT_SECONDS)
            if not result.ok:
                raise ScenarioFailure(
                    f"{stack.scenario.ref}: break[{index}].{step.action} failed "
                    f"({result.how_it_ended}):\n{result.tail()}"
                )


def _written_now(source: Path, scratch: Path) -> Path:
    """A copy of a fault file (same name and mode) whose times are now: `docker cp` keeps a
    file's mtime, and a config changed at the break must not show the pack's date in `ls -l`,
    as a real edit would not (blind play, docs/writing-scenarios.md)."""
    scratch.mkdir()
    fresh = scratch / source.name
    try:
        shutil.copy(source, fresh)  # content and mode; the times are the copy's own
    except OSError as exc:
        raise ScenarioFailure(f"{source}: the fault file could not be read ({exc})") from exc
    return fresh


def _failing_now(check: Check) -> float | None:
    """When a check of our own, begun after the break, failed (unix time), or None. A break may
    take effect a moment after its steps end (nginx reloads its workers in the background):
    an http check, one curl in the probe, is tried again for a moment; check.sh runs once."""
    deadline = Deadline(OWN_BREAK_CHECK_SECONDS if check.http else 0.0)
    while True:
        began = time.time()
        if check.once() is False:
            return began
        if deadline.passed():
            return None
        deadline.pause(OWN_BREAK_CHECK_STEP_SECONDS)


OWN_BREAK_CHECK_SECONDS = 0.5  # then the probe's answers are waited for (BREAK_PROOF_TIMEOUT_SECONDS)
OWN_BREAK_CHECK_STEP_SECONDS = 0.05


def _proven_broken(check: Check, feed: ProbeFeed | None, injected_at: float) -> float | None:
    """When the check was seen to fail after the break (unix time), or None."""
    return _wait_for(check, feed, fixed=False, since=injected_at,
                     deadline=Deadline(BREAK_PROOF_TIMEOUT_SECONDS))


def finish(session_id: str, status: str, *, error: str | None = None) -> SessionState:
    """Record an outcome once: status, times, score, and the ledger line."""
    written: list[bool] = []

    def apply(state: SessionState) -> None:
        if not state.outcome_pending:
            return
        closed(state, status, error)
        written.append(True)

    state = update_session(session_id, apply)
    if written:
        ledger.record(state)
    return state


def closed(state: SessionState, status: str, error: str | None = None) -> SessionState:
    """The session ended with ``status``: times, outcome and score set on ``state``."""
    moment = now()
    state.status = status
    if status == RESOLVED:
        state.resolved_at = state.fix_landed_at or moment  # the time that counts: the hold is not charged
    if error is not None:
        state.error = error
    state.ended_at = state.deadline if status == TIMEOUT else moment
    state.outcome = state.meaning.outcome
    state.score = ledger.score(
        fixed=status == RESOLVED,
        elapsed_seconds=round(state.elapsed_seconds(), 2),  # as the ledger line records it
        sla_seconds=state.sla_seconds,
        hints_used=state.hints_used,
        guards_tripped=len(state.guards_tripped),
        relapses=state.relapses,
    )
    state.fix_landed_at = state.verifying_since = None
    state.verify_note = ""
    return state


# -- replay-hint -----------------------------------------------------------------------------


def reveal_hint(session_id: str) -> tuple[int, int, str] | None:
    """Reveal the next hint: (number, total, text), or None when none are left.

    The read-modify-write holds the session lock, so hints are revealed in order and each
    is counted once however fast requests arrive.
    """
    state = load_session(session_id)
    if state.fault is None:
        raise SessionError(f"session {session_id} is not broken yet: there is nothing to hint at")
    scenario = load_snapshot(session_id)
    hints = scenario.hints_for(scenario.fault(state.fault))
    revealed: list[tuple[int, int, str]] = []

    def apply(s: SessionState) -> None:
        if not s.meaning.takes_hints:
            raise SessionError(f"session {session_id} is over ({s.status}): no more hints")
        if s.hints_used < len(hints):
            text = hints[s.hints_used]
            s.hints_used += 1
            s.hints_revealed = [*s.hints_revealed, text]
            revealed.append((s.hints_used, len(hints), text))

    update_session(session_id, apply)
    return revealed[0] if revealed else None


# -- replay-down -----------------------------------------------------------------------------


def down(session_id: str, *, record: bool = True) -> SessionState:
    """Tear the stack down; a session that was still being played is recorded as abandoned.

    ``record=False`` (replaybook test) keeps a scenario's self-test out of the trainee's ledger.
    """
    try:
        state = load_session(session_id)
    except (InvalidInput, NotFound) as unreadable:
        if not _remove_by_name(session_id):
            raise
        raise type(unreadable)(
            f"{unreadable.message}; its stack and state were removed by name (no outcome could be recorded)"
        ) from None
    with shielded():
        if record and state.outcome_pending:
            state = finish(session_id, ABANDONED)
        teardown(state)
    return state


def down_all() -> list[str]:
    """Every session of this REPLAYBOOK home, and any stack of ours whose state was lost."""
    removed = []
    for state in list_sessions():
        with suppress(NotFound):
            down(state.id)
            removed.append(state.id)
    for session_id, _problem in damaged_sessions():
        if _remove_by_name(session_id):
            removed.append(session_id)
    from libreplay.session.stack import home_id

    for project in sorted(docker_api.projects_of_home(home_id())):
        session_id = project.removeprefix("replaybook-")
        with shielded():
            _remove_project(project, stack=None)
        if session_id not in removed:
            removed.append(session_id)
    return removed


def _remove_by_name(session_id: str) -> bool:
    """A session whose state is damaged or lost: its stack goes by project name, its directory
    with it. False when there is no such directory (nothing to remove)."""
    directory = known_session_dir(session_id)
    if not directory.is_dir():
        return False
    with shielded():
        _remove_session(session_id, project_name(session_id), None, directory)
    return True


def _stack_left(gone: EnvironmentProblem, session_id: str) -> EnvironmentProblem:
    """The engine did not answer the teardown: say what is left behind, and how it goes."""
    return EnvironmentProblem(
        f"{gone.message}; session {session_id} could not be torn down",
        hint="once the engine answers again, `replay-down --all` removes what is left (found by its labels)",
    )


def teardown(state: SessionState) -> None:
    try:
        stack: Stack | None = open_stack(state)
    except Exception:  # noqa: BLE001 - a damaged snapshot; tear down by project name alone
        stack = None
    _remove_session(state.id, state.project, stack, state.directory)


def _remove_session(session_id: str, project: str, stack: Stack | None, directory: Path) -> None:
    """The stack, whatever is left of it by label, then the session's directory."""
    try:
        _remove_project(project, stack)
    except EnvironmentProblem as gone:
        raise _stack_left(gone, session_id) from None
    finally:
        # Even when the engine does not answer: its stack is still found by label later
        # (`replay-down --all`), and a state directory must not outlive its session.
        shutil.rmtree(directory, ignore_errors=True)


def _remove_project(project: str, stack: Stack | None) -> None:
    from libreplay.core.proc import run
    from libreplay.engine.compose import compose_argv

    if stack is not None and stack.model_file.exists():
        stack.down()
    else:
        run(compose_argv("--project-name", project, "down", "--volumes", "--remove-orphans"), timeout=120)
    docker_api.remove_project_objects(project)


@contextmanager
def _torn_down_on_failure(stack: Stack) -> Iterator[None]:
    """Any error or stop signal: mark the session, tear everything down, then re-raise."""
    # The teardown runs inside signals_raise, so there is no moment in which a stop signal
    # falls back to its default action and kills us before the stack is gone.
    with signals_raise():
        try:
            yield
        except BaseException as exc:  # noqa: BLE001 - every failure and stop signal tears down, then re-raises
            error = as_interrupted(exc)
            with shielded():
                with suppress(Exception):
                    update_session(stack.session_id, lambda s: _mark_error(s, error))
                _remove_session(stack.session_id, stack.project, stack, stack.session_dir)
            raise error from None


def _mark_error(state: SessionState, error: BaseException) -> None:
    state.status = ERROR
    state.error = str(getattr(error, "message", error))


# -- waiting helpers -------------------------------------------------------------------------


@contextmanager
def _probe_feed(check: Check) -> Iterator[ProbeFeed | None]:
    """The probe's answers, followed, for an http_200 check (None for exit_zero)."""
    if not check.http:
        yield None
        return
    feed = ProbeFeed(check)
    feed.follow()
    try:
        yield feed
    finally:
        feed.close()


def _next_event(feed: ProbeFeed | None, deadline: Deadline) -> ProbeFollowerEvent | NothingArrived:
    if feed is None:
        return NothingArrived()
    try:
        # Bounded even while the deadline has not started, so a cancel is seen.
        return feed.events.get(timeout=min(deadline.left(), EVENT_WAIT_STEP_SECONDS))
    except queue.Empty:
        return NothingArrived()


EVENT_WAIT_STEP_SECONDS = 0.5
OWN_LOOK_SECONDS = 5.0  # a silent probe stream: a check of our own this often


def probe_alive(check: Check) -> bool:
    try:
        check.probe_container()
    except ScenarioFailure:
        return False
    return True


def _wait_for(
    check: Check, feed: ProbeFeed | None, *, fixed: bool, since: float | None, deadline: Deadline,
    confirm: bool = False,
) -> float | None:
    """Wait (bounded) until the check answers ``fixed``: the probe's answers in ``feed`` for
    http_200 (answers from ``since``, unix time, on; ``confirm``: a passing answer is checked
    once more), check.sh once a second for exit_zero (``feed`` None). Returns when that answer
    was seen (unix time: the probe's stamp, or the start of the script's run); None on time, or
    when the probe is gone. A log stream that drops while the probe runs is followed again;
    after a change (``since``), one that stays silent for OWN_LOOK_SECONDS gets a check of our
    own, so an engine's log stream that stalls without ending cannot hide the answer."""
    if feed is None:
        return _poll(check, want=fixed, deadline=deadline)
    def answers(event: ProbeFollowerEvent | NothingArrived) -> bool:
        return (isinstance(event, ProbeEvent) and event.ok is fixed
                and (since is None or event.at >= since - 0.5))

    heard = time.monotonic()
    while not deadline.passed():
        event = _next_event(feed, deadline)
        if answers(event) and (not confirm or check.once() is fixed):
            assert isinstance(event, ProbeEvent)
            return event.at
        if not isinstance(event, NothingArrived):
            heard = time.monotonic()
        elif since is not None and time.monotonic() - heard >= OWN_LOOK_SECONDS:
            # Not for the baseline (``since`` None): its proof confirms a pass and weighs one
            # seen before the stack was up on its own terms (_BaselineProof._relapsed).
            if not probe_alive(check):
                return None
            heard, began = time.monotonic(), time.time()
            if check.once() is fixed:
                return began
        if isinstance(event, ProbeStreamEnded):
            if not probe_alive(check):
                return None
            feed.follow()
    return None


def _poll(check: Check, *, want: bool, deadline: Deadline) -> float | None:
    """Run a script check until it answers ``want`` (bounded; scripts have no event stream)."""
    while not deadline.passed():
        started, began = time.monotonic(), time.time()
        if check.once() is want:
            return began
        deadline.pause(max(0.0, SCRIPT_CHECK_INTERVAL_SECONDS - (time.monotonic() - started)))
    return None


def wait_until_fixed(session_id: str, *, since: float, timeout: float) -> bool:
    """Wait (bounded) for the check to pass after ``since`` (unix time); used after solve.sh."""
    check = Check(open_stack(load_session(session_id)))
    with _probe_feed(check) as feed:
        return _wait_for(check, feed, fixed=True, since=since, deadline=Deadline(timeout)) is not None
