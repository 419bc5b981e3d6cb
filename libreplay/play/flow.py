"""``replaybook run``: up, break, play in the workspace, tear down, debrief.

The flow decides; :class:`~libreplay.play.steps.Steps` does (the replay-* commands, tmux, the
shell); :func:`~libreplay.play.policy.decide` says when the session is over. Ctrl-C, SIGTERM,
SIGHUP, a tmux detach or leaving the shell before a fix: the session is abandoned and torn
down all the same (docs/terminal.md). After a win the workspace stays open, the clock stopped,
until the trainee leaves the shell (or detaches); then the same teardown and the debrief.

Nothing here prints: what the trainee is told goes through ``on_say`` (a line for the person
at the terminal) and ``on_news`` (news while the shell owns the terminal, without tmux); the
debrief comes back as lines in :class:`PlayResult`.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from libreplay.core import paths
from libreplay.core.errors import InvalidInput, NotFound, ReplayError
from libreplay.core.signals import STOP_SIGNALS, handling
from libreplay.core.text import inert
from libreplay.core.watch import WatchEvent, follow_directory
from libreplay.play.debrief import WIDTH as DEBRIEF_WIDTH
from libreplay.play.debrief import debrief_lines
from libreplay.play.policy import (
    SESSION_ENDED,
    Announce,
    Close,
    KeepPlaying,
    decide,
    news_without_closing,
)
from libreplay.play.steps import WATCHER_GRACE_SECONDS, Screen, StepFailed, Steps, Stop
from libreplay.play.workspace import BAD_NEWS_STYLE, GOOD_NEWS_STYLE, ExtraWindow, WorkspaceSpec, socket_name
from libreplay.scenario.model import Scenario
from libreplay.session.ledger import personal_best
from libreplay.session.snapshot import load_snapshot
from libreplay.session.state import (
    RESOLVED,
    SESSION_FILE,
    SessionState,
    disown,
    load_session,
    record_transcript,
)

HINT_KEY = "h"
WATCH_LOG = ".watch.log"  # a dot-file: no watcher of the session directory reacts to it
MONITOR_TICK_SECONDS = 1.0  # how often the watcher process is polled when no file changes


@dataclass(frozen=True)
class PlayOptions:
    scenario: str  # as replay-up takes it: id, pack/id or directory
    sla: int | None = None  # minutes; None: the scenario's
    fault: str | None = None  # None: drawn at random by replay-break
    keep: bool = False  # leave the stack up afterwards
    split: bool = True  # tmux; False: the shell in this terminal
    title: str = ""  # what the talk calls it: blind play names no scenario id (docs/terminal.md)
    player: str | None = None  # who plays, for the ledger; None: the OS user
    track: str | None = None  # the track the campaign walks (run --next --track): the offer's next


@dataclass(frozen=True)
class PlayResult:
    final: SessionState | None  # the session's last state, when it could be read
    debrief: list[str] = field(default_factory=list)  # lines for stdout
    signum: int = 0  # the stop signal that ended the play, if one did
    terminal_gone: bool = False  # SIGHUP: nothing more may be written to the terminal

    @property
    def exit_code(self) -> int:
        """0 when the trainee fixed it in time, else 1 (a stop signal takes precedence)."""
        return 0 if self.final is not None and self.final.status == RESOLVED else 1


def _ignore(_text: str) -> None:
    pass


class Play:
    """One play of a scenario, from ``replay-up`` to the debrief; :meth:`run` does it all once."""

    def __init__(
        self,
        options: PlayOptions,
        steps: Steps,
        *,
        on_say: Callable[[str], None] = _ignore,
        on_news: Callable[[str], None] = _ignore,
    ) -> None:
        self.options = options
        self.steps = steps
        self.on_say = on_say
        self.on_news = on_news
        self.session_id: str | None = None
        self.step: str | None = None  # the composed command running before play starts
        self.session_gone = False  # torn down by someone else (replay-break on failure)
        self.watcher_died = False
        self.workspace: Screen | None = None
        self.terminal_gone = False
        self.timeout_announced = False
        self.win_announced = False  # after it the workspace stays open until the trainee leaves
        self.cleaning_up = threading.Event()  # set once the run tears down: the monitor backs off
        self.monitor_done = threading.Event()  # ends the monitor's watch
        self.ending = False  # stop signals are ignored from here on
        self.scenario: Scenario | None = None  # the session's snapshot, for the debrief

    # -- the whole play --------------------------------------------------------------------

    def run(self) -> PlayResult:
        """Play, tear down, and return the debrief. A step that fails (StepFailed, …) is raised
        once the clean-up is done; a stop signal is returned in ``signum``."""
        signum = 0
        final: SessionState | None = None
        with handling(dict.fromkeys(STOP_SIGNALS, self._stop)):
            try:
                self._play()
            except Stop as stop:
                signum = stop.signum
                self.session_id = self.session_id or stop.session_id
            finally:
                self.ending = True
                # Clean-up runs to its end whatever arrives now (and so does replay-down,
                # which inherits the ignored signals).
                with handling(dict.fromkeys(STOP_SIGNALS, signal.SIG_IGN)):
                    final = self._clean_up()
        debrief = [] if self.terminal_gone else self._debrief(final)
        return PlayResult(final, debrief, signum, self.terminal_gone)

    def _stop(self, signum: int) -> None:
        if self.ending:
            return
        if signum == signal.SIGHUP:
            self.terminal_gone = True
        raise Stop(signum)

    def _play(self) -> None:
        self.step = "replay-up"
        shown = f'"{self.options.title}"' if self.options.title else "the scenario"
        self.say(f"Starting {shown} (the first run builds its images; this can take a few minutes)...")
        options = self.options
        self.session_id = self.steps.up(options.scenario, sla=options.sla, player=options.player)
        self.scenario = self._snapshot()
        cast = self._record_transcript()
        self.step = "replay-break"
        self.steps.break_session(self.session_id, fault=self.options.fault)
        self.step = None
        self.steps.start_watcher(self.session_id, log=paths.session_dir(self.session_id) / WATCH_LOG)
        if self.options.split:
            self._play_in_tmux()
        else:
            self._play_here(cast)

    def _snapshot(self) -> Scenario | None:
        """What the session plays, as replay-up kept it: the debrief teaches from it after
        replay-down has removed the session, whatever became of the pack meanwhile."""
        assert self.session_id is not None
        try:
            return load_snapshot(self.session_id)
        except ReplayError:
            return None  # the debrief then leaves out what the scenario teaches

    def _record_transcript(self) -> Path:
        assert self.session_id is not None
        cast = paths.transcript_path(self.session_id)
        cast.parent.mkdir(parents=True, exist_ok=True)
        record_transcript(self.session_id, cast)
        return cast

    # -- playing ---------------------------------------------------------------------------------

    def _play_in_tmux(self) -> None:
        assert self.session_id is not None
        columns, rows = shutil.get_terminal_size((120, 40))
        state = load_session(self.session_id)
        spec = workspace_spec(state, self.steps.executable, columns=columns, rows=rows)
        self.workspace = self.steps.open_workspace(spec)
        self._start_monitor()
        self.steps.attach()

    def _play_here(self, cast: Path) -> None:
        assert self.session_id is not None
        self.say("No tmux: for the incident page, SLA and hints run this in a second terminal:")
        self.say(f"    replay-hud {self.session_id}")
        self.say("Ask for a hint with get-hint in the shell. Leaving the shell before a fix gives up.")
        self._start_monitor()
        self.steps.shell_here(self.session_id, record=cast)

    # -- watching for the end ----------------------------------------------------------------

    def _start_monitor(self) -> None:
        threading.Thread(target=self.monitor, name="run-monitor", daemon=True).start()

    def monitor(self) -> None:
        """React to the session's state until the workspace closes or the run cleans up."""
        assert self.session_id is not None
        follow_directory(paths.session_dir(self.session_id), self._on_watch_event, self.monitor_done,
                         names={SESSION_FILE}, tick_seconds=MONITOR_TICK_SECONDS)

    def _on_watch_event(self, event: WatchEvent) -> None:
        if self.cleaning_up.is_set():
            self.monitor_done.set()
            return
        if event is WatchEvent.GONE:
            self._close_soon(Close(SESSION_ENDED, 0))
        elif self.react():
            self.monitor_done.set()

    def react(self) -> bool:
        """Look at the session once and act on it; True once the workspace is being closed."""
        assert self.session_id is not None
        # Polled before the state is read (see policy.decide). Once run is cleaning up, it
        # stops the watcher itself.
        watcher_exited = self.steps.watcher_exit_code() is not None and not self.cleaning_up.is_set()
        try:
            state: SessionState | None = load_session(self.session_id)
        except (NotFound, ReplayError):
            state = None
        while True:
            action = decide(state, watcher_exited=watcher_exited, timeout_announced=self.timeout_announced,
                            win_announced=self.win_announced)
            if isinstance(action, KeepPlaying):
                return False
            if isinstance(action, Announce):
                self.timeout_announced = self.timeout_announced or action.timeout
                self.win_announced = self.win_announced or action.win
                self._announce(action.message, good=action.good)
                continue  # decide again, now that it is said
            self.watcher_died = action.watcher_died
            self._close_soon(action)
            return True

    def _announce(self, text: str, *, good: bool = True) -> None:
        if self.workspace is not None:
            # In the status line rather than display-message: tmux stops redrawing panes while
            # a message is up, which would freeze the HUD just as it turns RESOLVED.
            self.workspace.announce(text, style=GOOD_NEWS_STYLE if good else BAD_NEWS_STYLE)
        else:
            with contextlib.suppress(OSError):
                self.on_news(text)

    def _close_soon(self, close: Close) -> None:
        if self.workspace is None:
            self._announce(news_without_closing(close.message), good=close.good)
            return
        self._announce(close.message, good=close.good)
        if self.cleaning_up.wait(close.delay):
            return  # run is already cleaning up
        self.workspace.kill()

    # -- the end -------------------------------------------------------------------------------

    def _clean_up(self) -> SessionState | None:
        self.cleaning_up.set()
        self.monitor_done.set()
        if self.workspace is not None:
            self.workspace.kill()
        self.steps.stop_foreground()
        if self.session_id is None:
            self.steps.stop_watcher(wait=0)
            return None
        if not paths.session_dir(self.session_id).exists():
            # replay-break tears everything down itself when it fails or is stopped (and says
            # why on stderr); replay-down would only fail on the missing session.
            self.session_gone = True
            self.steps.stop_watcher(wait=0)
            self.say(self._gone_message())
            return None
        final = self._load()
        if final is not None and final.status == RESOLVED:
            self.steps.stop_watcher(wait=WATCHER_GRACE_SECONDS)  # it is writing the ledger line
        if self.options.keep:
            self.steps.stop_watcher(wait=0)
            return self._disown() or final
        watch_log = self.keep_watch_log() if self.watcher_died else None
        downed = self._down()
        self.steps.stop_watcher(wait=WATCHER_GRACE_SECONDS)
        if watch_log is not None:
            self.say_watcher_died(watch_log)
        return downed or final

    def _gone_message(self) -> str:
        if self.step is not None:
            return (f"{self.step} has already torn session {self.session_id} down; "
                    "what went wrong is in its message above.")
        return f"Session {self.session_id} has already been torn down (by replay-down elsewhere?)."

    def _disown(self) -> SessionState | None:
        """--keep: run is about to exit, so it no longer owns the session; it is not an orphan."""
        assert self.session_id is not None
        try:
            return disown(self.session_id)
        except ReplayError:
            return None

    def _down(self) -> SessionState | None:
        assert self.session_id is not None
        try:
            return self.steps.down(self.session_id, quiet=self.terminal_gone)
        except StepFailed as failed:
            self.say(f"replay-down {self.session_id} failed (exit {failed.exit_code}); run it again.")
            return None

    def keep_watch_log(self) -> Path | None:
        """Copy the dead watcher's log beside the transcript: replay-down removes the session dir."""
        assert self.session_id is not None
        kept = paths.transcript_path(self.session_id).with_suffix(".watch.log")
        try:
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(paths.session_dir(self.session_id) / WATCH_LOG, kept)
        except OSError:
            return None
        return kept

    def say_watcher_died(self, log: Path) -> None:
        code = self.steps.watcher_exit_code()
        self.say(f"replay-check --watch stopped (exit {code}) while the session was still being played, "
                 "so a fix could no longer be noticed. Its log:")
        self.say(f"    {log}")
        with contextlib.suppress(OSError):
            for line in log.read_text(errors="replace").splitlines()[-3:]:
                self.say(f"    | {line}")

    def _load(self) -> SessionState | None:
        assert self.session_id is not None
        try:
            return load_session(self.session_id)
        except ReplayError:
            return None

    def _debrief(self, final: SessionState | None) -> list[str]:
        if final is None:
            if self.session_id is not None and not self.session_gone:
                self.say(f"Session {self.session_id}: its final state could not be read.")
            return []
        columns = shutil.get_terminal_size((DEBRIEF_WIDTH, 24)).columns
        lines = debrief_lines(final, self.scenario, personal_best(final.scenario, final.pack), width=columns)
        if self.options.keep:
            lines += ["", f"The stack is still up (--keep). When done:  replay-down {final.id}"]
        return lines

    def say(self, text: str) -> None:
        if not self.terminal_gone:
            with contextlib.suppress(OSError):
                self.on_say(text)


def workspace_spec(
    state: SessionState, executable: Callable[[str], str], *, columns: int, rows: int
) -> WorkspaceSpec:
    """The trainee's workspace for ``state``: the recorded shell beside the HUD, a recorded
    window per other service, ``C-b h`` for a hint (docs/terminal.md)."""
    sid = state.id
    cast = paths.transcript_path(sid)
    windows = tuple(
        ExtraWindow(inert(service, keep_newlines=False),  # tmux shows it in the status line
                    (executable("replay-shell"), sid, service, *_recorded(sid, service)))
        for service in state.services if service != state.shell_service
    )
    return WorkspaceSpec(
        socket=socket_name(sid),
        shell=(executable("replay-shell"), sid, "--record", str(cast)),  # leaving it ends the session
        hud=(executable("replay-hud"), sid, "--tmux", "--hint-key", HINT_KEY),
        windows=windows,
        key_bindings={HINT_KEY: (executable("replay-hint"), sid)},
        status_left=f"[replaybook {sid}] ",
        status_right=f"C-b {HINT_KEY}: hint | exit the shell: give up ",
        columns=columns,
        rows=max(10, rows - 1),  # the status line takes one
        environment={"REPLAYBOOK_NO_ORPHAN_NOTICE": "1"},
    )


def _recorded(session_id: str, service: str) -> tuple[str, ...]:
    """replay-shell's arguments that record a service's window beside the trainee's shell
    (none for a name no file may carry; Compose allows no such service name anyway)."""
    try:
        return ("--record", str(paths.transcript_path(session_id, service)))
    except InvalidInput:
        return ()
