"""``replaybook dev SCENARIO``: the author's live loop.

Two processes, as ``replaybook run`` has (docs/writing-scenarios.md, "The author's loop"):

- :class:`DevLoop`, in the author's terminal: brings the scenario up (everything revealed),
  lays out a tmux workspace — the left pane a shell in the stack's shell service, the right
  pane the dev console, a window per other service — attaches to it, and tears everything
  down when it closes, whatever closes it (``q``, Ctrl-C, leaving the shell, a detach, a stop
  signal, the terminal closing). It is the session's owner, so a SIGKILLed loop leaves an
  orphan that ``replay-down --all`` removes.
- :class:`DevConsole`, in the right pane (``replay-dev --console SESSION``): the check's
  reading (passing or failing, since when), the scenario directory validated again at every
  change (the one watch loop, recursive), what needs a rebuild, and the keys' actions, each
  run on a thread of its own so the reading keeps coming.

A dev session is never on the SLA clock: its break is not a play's break, so the session has
no ``started_at`` and no deadline, nothing ends it but its author, and no teardown — this
loop's, ``replay-down``'s or ``replay-down --all``'s — writes a ledger line for it.
Nothing here prints; the console's picture is :func:`libreplay.authoring.dev_console.render`.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from libreplay.authoring.dev_build import build_inputs, build_root, changed_inputs, save_inputs, saved_inputs
from libreplay.authoring.dev_console import (
    BREAK,
    INTERRUPT,
    NEXT_FAULT,
    QUIT,
    REBUILD,
    SOLVE,
    ActionNews,
    CheckReading,
    ConsoleView,
    Validation,
    dispatch,
    next_fault,
)
from libreplay.core import paths
from libreplay.core.errors import Interrupted, NotFound, ReplayError, ScenarioFailure, ScenarioInvalid
from libreplay.core.proc import run
from libreplay.core.signals import STOP_SIGNALS, as_interrupted, handling, signals_raise
from libreplay.core.text import inert
from libreplay.core.watch import WatchEvent, follow_directory
from libreplay.engine import docker_api
from libreplay.packs import trust
from libreplay.play.steps import CommandSteps
from libreplay.play.workspace import SESSION_NAME, ExtraWindow, WorkspaceSpec, server_argv, socket_name
from libreplay.scenario.load import load_scenario
from libreplay.scenario.model import Fault, Scenario
from libreplay.session import lifecycle
from libreplay.session.checks import Check, ensure_probe_image
from libreplay.session.hints import HintChannel
from libreplay.session.model import restore_scripts_compose_file
from libreplay.session.owners import process_alive
from libreplay.session.snapshot import refresh_snapshot
from libreplay.session.stack import Stack
from libreplay.session.state import (
    ACTIVE,
    BREAKING,
    READY,
    STARTING,
    SessionState,
    list_sessions,
    load_session,
    now,
    update_session,
)

CHECK_INTERVAL_SECONDS = 0.5  # a reading at least every second, even with a check.sh of 0.5 s
PROOF_TIMEOUT_SECONDS = 20  # how long an action waits to see the check answer as it should
BASELINE_TIMEOUT_SECONDS = 120
SOLVE_TIMEOUT_SECONDS = 120
OUTPUT_LINES = 8  # the tail of an action's output the console shows
CONSOLE_PANE = f"{SESSION_NAME}:0.1"  # window 0's right pane
PREFIX_KEYS = "brsf"  # C-b + key in the shell sends the key to the console
REBUILDING_MARK = ".rebuilding"  # in the session directory while the console rebuilds (a dot-file:
# no watcher of the session directory reacts to it)


def _ignore(_text: str) -> None:
    pass


# -- the loop, in the author's terminal --------------------------------------------------------


@dataclass(frozen=True)
class DevResult:
    session_id: str | None
    signum: int = 0  # the stop signal that ended the loop, if one did
    terminal_gone: bool = False  # SIGHUP: nothing more may be written to the terminal


class DevLoop:
    """One author's loop over ``scenario``: :meth:`run` does it all once and tears it down."""

    def __init__(
        self, scenario: Scenario, *, fault: str | None = None, on_say: Callable[[str], None] = _ignore,
    ) -> None:
        if fault is not None:
            lifecycle.choose_fault(scenario, fault, reveal=True)  # a typo fails before anything is built
        self.scenario = scenario
        self.fault = fault
        self.on_say = on_say
        self.session_id: str | None = None

    def run(self) -> DevResult:
        # This process answers for the session (its owner): SIGKILLed, it leaves an orphan that
        # `replay-down --all` removes. The workspace's processes inherit it too.
        os.environ[lifecycle.OWNER_ENV] = str(os.getpid())
        steps = CommandSteps()
        signum = 0
        try:
            with signals_raise():
                try:
                    self._up_and_attach(steps)
                except (KeyboardInterrupt, Interrupted) as stop:
                    error = as_interrupted(stop)
                    signum = error.signum if isinstance(error, Interrupted) else signal.SIGINT
        finally:
            # The teardown runs to its end whatever arrives now.
            with handling(dict.fromkeys(STOP_SIGNALS, signal.SIG_IGN)):
                self._tear_down(steps, quiet=signum == signal.SIGHUP)
        return DevResult(self.session_id, signum, terminal_gone=signum == signal.SIGHUP)

    def _up_and_attach(self, steps: CommandSteps) -> None:
        self.on_say(f"Starting {self.scenario.ref} (a first run builds its images; this can take minutes)...")
        # Taken before the build: an edit made while it runs shows as needing a rebuild.
        built = build_inputs(self.scenario.directory)
        state = lifecycle.up(self.scenario, on_progress=self.on_say, reveal=True)
        self.session_id = state.id
        save_inputs(state.directory, built)
        columns, rows = shutil.get_terminal_size((120, 40))
        steps.open_workspace(dev_workspace_spec(state, steps.executable, fault=self.fault,
                                                columns=columns, rows=rows))
        steps.attach()  # until the workspace closes or the author detaches

    def _tear_down(self, steps: CommandSteps, *, quiet: bool) -> None:
        if steps.workspace is not None:
            steps.workspace.kill()
        steps.stop_foreground()
        if self.session_id is None:
            # A stop between up returning and its session being noted here; else up failed or
            # was stopped and tore its own stack down (then no session of ours is left).
            self.session_id = _session_owned_by_this_process()
        if self.session_id is None:
            return
        say = _ignore if quiet else self.on_say
        try:
            lifecycle.down(self.session_id, record=False)
        except NotFound:
            say(f"Session {self.session_id} was already torn down.")
            return
        except ReplayError as problem:
            say(f"Session {self.session_id} could not be torn down: {problem.message}")
            if problem.hint:
                say(problem.hint)
            return
        say(f"Session {self.session_id} torn down; nothing was recorded.")


def _session_owned_by_this_process() -> str | None:
    """The session this loop's up made (its owner is this process), if one is left."""
    me = os.getpid()
    for state in list_sessions():
        # The start time tells this process from an earlier one that had its pid.
        if state.owner_pid == me and process_alive(me, state.owner_started):
            return state.id
    return None


def dev_workspace_spec(
    state: SessionState, executable: Callable[[str], str], *, fault: str | None, columns: int, rows: int,
) -> WorkspaceSpec:
    """The author's workspace: the shell beside the dev console, a window per other service, and
    ``C-b b/r/s/f`` sending the key to the console from the shell."""
    sid = state.id
    socket = socket_name(sid)
    windows = tuple(
        ExtraWindow(inert(service, keep_newlines=False), (executable("replay-shell"), sid, service))
        for service in state.services if service != state.shell_service
    )
    console = (executable("replay-dev"), "--console", sid, *(("--fault", fault) if fault else ()))
    return WorkspaceSpec(
        socket=socket,
        shell=(executable("replay-dev"), "--shell", sid),  # leaving it ends the loop
        hud=console,
        windows=windows,
        key_bindings={key: server_argv(socket, "send-keys", "-t", CONSOLE_PANE, key) for key in PREFIX_KEYS},
        status_left=f"[replaybook dev {sid}] ",
        status_right="C-b b/r/s/f: break/rebuild/solve/fault | exit: quit ",
        columns=columns,
        rows=max(10, rows - 1),  # the status line takes one
        environment={"REPLAYBOOK_NO_ORPHAN_NOTICE": "1"},
    )


def shell_through_rebuilds(session_id: str, say: Callable[[str], None]) -> int | None:
    """The author's shell in the stack's shell service (:func:`libreplay.play.shell.visit`),
    opened again when a rebuild removed its container; its exit status once the author leaves
    (None when it is not known)."""
    from libreplay.play import shell

    while True:
        try:
            state, service = shell.target(session_id, None)
            code = shell.visit(state, service, record=None, say=say)
        except NotFound:
            if not _rebuilding(session_id):
                raise
        else:
            # A shell killed by the rebuild's down may end while its container still runs
            # (status 137): only a shell that ends outside a rebuild is the author leaving.
            if not _rebuilding(session_id):
                return code
        say("The stack is being rebuilt: the shell opens again once it runs.")
        while _rebuilding(session_id):
            time.sleep(1)


def _rebuilding(session_id: str) -> bool:
    return (paths.session_dir(session_id) / REBUILDING_MARK).exists()


# -- the console, in the right pane ------------------------------------------------------------


class Refused(ReplayError):
    """An action refused before it touched the stack (the scenario directory is invalid)."""

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


class DevConsole:
    """The console's model: its threads keep the reading and the validation current, and
    :meth:`press` acts on a key. ``on_change`` is called (from any thread) when the picture
    changed; :meth:`view` is the picture."""

    def __init__(self, session_id: str, *, fault: str | None = None,
                 on_change: Callable[[], None] = lambda: None) -> None:
        state = load_session(session_id)
        self.session_id = session_id
        self.session_dir = state.directory
        self.source = Path(state.scenario_dir)
        self.pack = state.pack
        self.owner = (state.owner_pid, state.owner_started)
        self.stack = lifecycle.open_stack(state)  # NotFound, InvalidInput for a damaged snapshot
        self.scenario = self.stack.scenario
        self.fault = fault or state.fault or self.scenario.faults[0].name
        # What the stack was built from: the scenario directory as the loop found it just before
        # the build (kept in the session directory). Never the session's copy of it, whose compose
        # file is the session's model. A session made before that was kept: the directory now.
        self.built_inputs = saved_inputs(self.session_dir) or build_inputs(self.source)
        self.on_change = on_change
        self.stop = threading.Event()
        self.check_paused = threading.Event()  # while the stack is rebuilt
        self.stack_lock = threading.Lock()  # a check run and a swap of the session's copy
        self.lock = threading.Lock()  # the fields below
        self.reading = CheckReading(None, now(), note="checking...")
        self.validation = Validation()
        self.news: ActionNews | None = None
        self.notice = ""
        self.busy: str | None = None

    # -- start, keys, end ----------------------------------------------------------------------

    def start(self, *, first: str | None = BREAK) -> None:
        """The check and the source watch, on threads; then ``first`` (the break, normally)."""
        threading.Thread(target=self._check_loop, name="dev-check", daemon=True).start()
        threading.Thread(target=self._watch_source, name="dev-watch", daemon=True).start()
        if first is not None:
            self._run_action(first)

    def press(self, key: str) -> None:
        decision = dispatch(key, busy=self.busy)
        if decision.refusal:
            self._set(notice=decision.refusal)
        elif decision.action in (QUIT, INTERRUPT):
            self.end(interrupt=decision.action == INTERRUPT)
        elif decision.action == NEXT_FAULT:
            self._pick_next_fault()
        elif decision.action is not None:
            self._run_action(decision.action)

    def end(self, *, interrupt: bool = False) -> None:
        """Close the workspace: replaybook dev, attached to it, then tears everything down.
        Ctrl-C is passed on as the stop signal it is (replaybook dev exits 130)."""
        self.stop.set()
        pid, started = self.owner
        if interrupt and pid is not None and pid > 0 and process_alive(pid, started):
            os.kill(pid, signal.SIGINT)
            return
        run(server_argv(socket_name(self.session_id), "kill-server"), timeout=10)

    @property
    def over(self) -> bool:
        return self.stop.is_set()

    def view(self) -> ConsoleView:
        with self.lock:
            return ConsoleView(
                session_id=self.session_id,
                title=self.scenario.title,
                check_what=_check_what(self.stack),
                fault=self.fault,
                faults=tuple(f.name for f in self.scenario.faults),
                check=self.reading,
                validation=self.validation,
                action=self.news,
                notice=self.notice,
            )

    # -- the check ---------------------------------------------------------------------------

    def _check_loop(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            if not self.session_dir.is_dir():  # torn down from elsewhere (replay-down --all)
                self.end()
                return
            if self.check_paused.is_set():
                self._read(None, "paused: rebuilding")
            else:
                self._check_once()
            self.stop.wait(max(0.1, CHECK_INTERVAL_SECONDS - (time.monotonic() - started)))

    def _check_once(self) -> None:
        started = now()
        try:
            with self.stack_lock:
                passing: bool | None = Check(self.stack).once()
            note = ""
        except ReplayError as problem:
            passing, note = None, f"no answer: {problem.message.splitlines()[0]}"
        self._read(passing, note, started)

    def _read(self, passing: bool | None, note: str, started: datetime | None = None) -> None:
        """A reading of a check run started at ``started``; "since" moves only when the answer
        does."""
        moment = started or now()
        with self.lock:
            before = self.reading
            changed = (before.passing, before.note) != (passing, note)
            self.reading = CheckReading(passing, moment if changed else before.since, moment, note)
        self.on_change()

    # -- the source ----------------------------------------------------------------------------

    def _watch_source(self) -> None:
        def changed(event: WatchEvent) -> None:
            if event is WatchEvent.GONE:
                self._set(validation=Validation(at=now(), gone=True))
            else:
                self.revalidate()

        shared = build_root(self.source)
        if shared != self.source:  # a track's scenario: an edit of the image it shares counts too
            def track_changed(_event: WatchEvent) -> None:
                self.revalidate()

            threading.Thread(target=follow_directory, args=(shared, track_changed, self.stop),
                             kwargs={"recursive": True}, name="dev-watch-track", daemon=True).start()
        follow_directory(self.source, changed, self.stop, recursive=True)

    def revalidate(self) -> Scenario | None:
        """Load the scenario directory again and show every problem; the scenario when valid."""
        scenario: Scenario | None = None
        try:
            scenario = load_scenario(self.source, pack=self.pack)
            problems: tuple[str, ...] = ()
            warnings = scenario.warnings
        except ScenarioInvalid as invalid:
            problems, warnings = tuple(invalid.problems), ()
        except ReplayError as problem:
            problems, warnings = (problem.message,), ()
        rebuild = tuple(changed_inputs(self.built_inputs, build_inputs(self.source)))
        self._set(validation=Validation(problems, tuple(warnings), now(), rebuild))
        return scenario

    def _current(self) -> Scenario:
        """The scenario directory as it is now, valid and trusted, or Refused."""
        scenario = self.revalidate()
        if scenario is None:
            problems = self.validation.problems
            raise Refused("refused: the scenario is invalid (see SOURCE)", problems)
        trust.require_trust(scenario)  # an added pack's clone must still be at a trusted commit
        return scenario

    def _refresh(self, scenario: Scenario) -> Fault:
        """The session's copy taken again from the directory, and the fault to use in it."""
        with self.stack_lock:
            refresh_snapshot(scenario, self.session_dir)
            # The fresh copy holds the pack's compose file again: scripts naming it with -f must
            # still reach the session's checked model, never the pack's unchecked text.
            restore_scripts_compose_file(scenario, self.session_dir)
            self.stack = replace(self.stack, scenario=scenario)
        with self.lock:
            self.scenario = scenario
            names = [f.name for f in scenario.faults]
            self.fault = self.fault if self.fault in names else names[0]
        return scenario.fault(self.fault)

    def _pick_next_fault(self) -> None:
        with self.lock:
            self.fault = next_fault(tuple(f.name for f in self.scenario.faults), self.fault)
            self.notice = f"fault {self.fault}: b breaks with it"
        self.on_change()

    # -- actions -------------------------------------------------------------------------------

    def _run_action(self, name: str) -> None:
        work = {BREAK: self._break, REBUILD: self._rebuild, SOLVE: self._solve}[name]
        with self.lock:
            self.busy = name
            self.news = ActionNews(name, now())
            self.notice = ""
        self.on_change()
        threading.Thread(target=self._act, args=(name, work), name=f"dev-{name}", daemon=True).start()

    def _act(self, name: str, work: Callable[[], tuple[bool, str, tuple[str, ...]]]) -> None:
        try:
            ok, summary, output = work()
        except Refused as refused:
            ok, summary, output = False, refused.message, refused.problems
        except ReplayError as failure:
            lines = failure.message.splitlines()
            ok, summary, output = False, lines[0], tuple(lines[1:][-OUTPUT_LINES:])
        except Exception as bug:  # noqa: BLE001 - the console stays up to say what went wrong
            ok, summary, output = False, f"{type(bug).__name__}: {bug}", ()
        with self.lock:
            started = self.news.started if self.news is not None else now()
            self.news = ActionNews(name, started, now(), ok, summary, output)
            self.busy = None
            self.notice = ""  # the action's progress: its outcome says the rest
        self.on_change()

    def _break(self) -> tuple[bool, str, tuple[str, ...]]:
        scenario = self._current()
        fault = self._refresh(scenario)
        update_session(self.session_id, lambda s: _mark(s, BREAKING, fault, scenario))
        since = now()
        lifecycle.inject(self.stack, fault)  # ScenarioFailure, with the step's output, when a step fails
        update_session(self.session_id, lambda s: _mark(s, ACTIVE, fault, scenario))
        if self._wait_for(passing=False, since=since):
            return True, f"fault {fault.name}: the check fails, as it should", ()
        return False, f"fault {fault.name} ran, but the check still passes {PROOF_TIMEOUT_SECONDS} s on", ()

    def _solve(self) -> tuple[bool, str, tuple[str, ...]]:
        scenario = self._current()
        fault = self._refresh(scenario)
        if not scenario.has_solve(fault):
            raise ScenarioFailure(f"{fault.solve} is missing: write the scripted fix there")
        since = now()
        result = self.stack.run_script(fault.solve, timeout=SOLVE_TIMEOUT_SECONDS)
        output = tuple(result.tail(OUTPUT_LINES).splitlines())
        if not result.ok:
            return False, f"{fault.solve} {result.how_it_ended}", output
        if self._wait_for(passing=True, since=since):
            return True, f"{fault.solve} {result.how_it_ended}; the check passes", output
        return False, f"{fault.solve} {result.how_it_ended}, but the check still fails", output

    def _rebuild(self) -> tuple[bool, str, tuple[str, ...]]:
        scenario = self._current()
        self.check_paused.set()
        mark = self.session_dir / REBUILDING_MARK
        mark.touch()
        built = build_inputs(self.source)  # before the copy and the build: a later edit shows
        try:
            self._progress("stopping the stack")
            with self.stack_lock:
                self.stack.down()
                docker_api.remove_project_objects(self.stack.project)
            self._refresh(scenario)
            update_session(self.session_id, lambda s: _rebuilt(s, STARTING, scenario))
            probe = ensure_probe_image(self._progress) if scenario.probes_http else ""
            self.stack.prepare(probe)  # ScenarioInvalid when Compose's model is refused
            self.built_inputs = built
            save_inputs(self.session_dir, built)
            self.stack.up(self._progress)
            HintChannel(load_session(self.session_id)).install()
            update_session(self.session_id, lambda s: _rebuilt(s, READY, scenario))
            started = now()
        finally:
            mark.unlink(missing_ok=True)
            self.check_paused.clear()
            self.revalidate()  # the rebuild-needed list starts again from here
        if not self._wait_for(passing=True, since=started, timeout=BASELINE_TIMEOUT_SECONDS):
            raise ScenarioFailure("rebuilt, but the healthy stack fails its check: not broken again")
        self._progress("rebuilt; the baseline passes: breaking")
        return self._break()

    def _progress(self, line: str) -> None:
        self._set(notice=line.strip())

    def _wait_for(self, *, passing: bool, since: datetime | None,
                  timeout: float = PROOF_TIMEOUT_SECONDS) -> bool:
        """Whether the check reads ``passing`` (from a run started after ``since``) within
        ``timeout``; the console keeps showing every reading meanwhile."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stop.is_set():
            with self.lock:
                reading = self.reading
            # A run started before ``since`` answers for the stack as it was then.
            fresh = since is None or (reading.checked_at is not None and reading.checked_at >= since)
            if fresh and reading.passing is passing:
                return True
            time.sleep(0.1)
        return False

    def _set(self, **fields: object) -> None:
        with self.lock:
            for name, value in fields.items():
                setattr(self, name, value)
        self.on_change()


def _check_what(stack: Stack) -> str:
    if stack.scenario.success_condition == "http_200":
        return f"http_200: {stack.probe_url()}"
    return "exit_zero: check.sh"


def _mark(state: SessionState, status: str, fault: Fault, scenario: Scenario) -> None:
    """A dev session's break: the fault is recorded, the clock never starts (no ledger line)."""
    state.status = status
    state.fault = fault.name
    state.hints_total = len(scenario.hints_for(fault))


def _rebuilt(state: SessionState, status: str, scenario: Scenario) -> None:
    state.status = status
    state.fault = None
    state.services = list(scenario.services)
    state.shell_service = scenario.shell
    state.success_condition = scenario.success_condition

