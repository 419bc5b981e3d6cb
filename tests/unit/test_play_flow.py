"""The play flow of ``replaybook run`` (libreplay/play/flow.py) driven through fake steps.

No Docker, no tmux, no child process: :class:`FakeSteps` keeps ``session.toml`` the way the
replay-* commands would and records what the flow asked of it, and the trainee's part (what
happens while the workspace is shown) is a function each test gives. The monitor, the signal
handling and the clean-up are the real ones.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from libreplay.core import paths
from libreplay.play.flow import MONITOR_TICK_SECONDS, Play, PlayOptions, workspace_spec
from libreplay.play.policy import CLOSE_AFTER_SECONDS, RESOLVED_NEWS, SLA_BREACHED_NEWS, WATCHER_DIED_NEWS
from libreplay.play.steps import WATCHER_GRACE_SECONDS, StepFailed, Stop
from libreplay.play.workspace import BAD_NEWS_STYLE, GOOD_NEWS_STYLE, ExtraWindow, WorkspaceSpec
from libreplay.session.state import (
    ABANDONED,
    ACTIVE,
    READY,
    RESOLVED,
    TIMEOUT,
    VERIFYING,
    SessionState,
    load_session,
    save_new_session,
    update_session,
)

SESSION = "flow0001"
WAIT = 15.0  # seconds a test waits for the monitor at most
STARTING = "Starting the scenario (the first run builds its images; this can take a few minutes)..."


@dataclass
class FakeScreen:
    announced: list[tuple[str, str]] = field(default_factory=list)
    killed: threading.Event = field(default_factory=threading.Event)

    def announce(self, text: str, *, style: str) -> None:
        self.announced.append((text, style))

    def kill(self) -> None:
        self.killed.set()


def playing(steps: FakeSteps) -> None:
    """The trainee's default part: nothing, until the workspace is closed."""
    steps.screen_closed().wait(WAIT)


class FakeSteps:
    """The steps as the replay-* commands would do them, on session.toml only."""

    def __init__(self, trainee: Callable[[FakeSteps], None] = playing,
                 *, services: tuple[str, ...] = ("shell",)) -> None:
        self.trainee = trainee
        self.services = services
        self.calls: list[str] = []
        self.watcher_code: int | None = None
        self.watcher_waits: list[float] = []
        self.screen: FakeScreen | None = None
        self.spec: WorkspaceSpec | None = None
        self.shell_closed = threading.Event()  # without tmux: the trainee left the shell
        self.break_fails = False
        self.down_quiet: bool | None = None

    def executable(self, name: str) -> str:
        return f"/fake/bin/{name}"

    def up(self, scenario: str, *, sla: int | None, player: str | None = None) -> str:
        self.calls.append(f"up {scenario} {sla}")
        save_new_session(SessionState(
            id=SESSION, scenario="001-nginx-502", pack="official", scenario_dir="/nowhere",
            project="replaybook-" + SESSION, status=READY, services=list(self.services),
            shell_service="shell", owner_pid=os.getpid(),
        ))  # fmt: skip
        return SESSION

    def break_session(self, session_id: str, *, fault: str | None) -> None:
        self.calls.append(f"break {session_id} {fault}")
        if self.break_fails:
            shutil.rmtree(paths.session_dir(session_id))
            raise StepFailed("replay-break", 6)
        set_status(ACTIVE)

    def start_watcher(self, session_id: str, *, log: Path) -> None:
        self.calls.append(f"watch {session_id} {log.name}")

    def watcher_exit_code(self) -> int | None:
        return self.watcher_code

    def stop_watcher(self, *, wait: float) -> None:
        self.watcher_waits.append(wait)

    def open_workspace(self, spec: WorkspaceSpec) -> FakeScreen:
        self.spec = spec
        self.screen = FakeScreen()
        return self.screen

    def attach(self) -> None:
        self.calls.append("attach")
        self.trainee(self)

    def shell_here(self, session_id: str, *, record: Path) -> None:
        self.calls.append(f"shell {session_id} {record.name}")
        self.trainee(self)

    def screen_closed(self) -> threading.Event:
        return self.screen.killed if self.screen is not None else self.shell_closed

    def stop_foreground(self) -> None:
        self.calls.append("stop-foreground")

    def down(self, session_id: str, *, quiet: bool) -> SessionState | None:
        self.calls.append(f"down {session_id}")
        self.down_quiet = quiet
        state = load_session(session_id)
        if state.status not in (RESOLVED, TIMEOUT):
            state.status = ABANDONED
        shutil.rmtree(paths.session_dir(session_id))
        return state


def wait_until(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def set_status(status: str) -> None:
    update_session(SESSION, lambda state: setattr(state, "status", status))


def run(steps: FakeSteps, **options: object) -> tuple[Play, list[str], list[str]]:
    said: list[str] = []
    news: list[str] = []
    settings: dict[str, object] = {"split": True}
    settings.update(options)
    runner = Play(PlayOptions("001-nginx-502", **settings), steps,  # type: ignore[arg-type]
                  on_say=said.append, on_news=news.append)
    return runner, said, news


# -- how a session ends ------------------------------------------------------------------------


def test_a_win_is_announced_in_green_and_the_workspace_stays_until_the_trainee_leaves() -> None:
    def fix_look_around_then_leave(steps: FakeSteps) -> None:
        set_status(VERIFYING)  # the fix holding is no end
        set_status(RESOLVED)
        assert wait_until(lambda: steps.screen is not None and bool(steps.screen.announced))
        steps.watcher_code = 0  # its job done, the watcher leaves: no reason to close
        # Longer than any close delay, over several of the monitor's ticks: the workspace stays
        # open and the win is told once.
        assert not steps.screen_closed().wait(CLOSE_AFTER_SECONDS + MONITOR_TICK_SECONDS)
        # The trainee leaves the shell: tmux's attach returns.

    steps = FakeSteps(fix_look_around_then_leave)
    runner, _, _ = run(steps)
    result = runner.run()
    assert steps.screen is not None
    assert steps.screen.announced == [(RESOLVED_NEWS, GOOD_NEWS_STYLE)]
    assert result.exit_code == 0 and result.signum == 0 and not result.terminal_gone
    assert result.final is not None and result.final.status == RESOLVED
    assert result.debrief[0] == "== debrief =="
    assert WATCHER_GRACE_SECONDS in steps.watcher_waits  # it may be writing the ledger line
    steps_taken = [c.split()[0] for c in steps.calls]
    assert steps_taken == ["up", "break", "watch", "attach", "stop-foreground", "down"]


def test_without_tmux_the_win_is_news_once_and_leaving_the_shell_debriefs() -> None:
    def fix_then_leave(steps: FakeSteps) -> None:
        set_status(RESOLVED)
        steps.watcher_code = 0
        assert not steps.shell_closed.wait(2 * MONITOR_TICK_SECONDS + 0.5)

    steps = FakeSteps(fix_then_leave)
    runner, _, news = run(steps, split=False)
    result = runner.run()
    assert news == [RESOLVED_NEWS]
    assert result.final is not None and result.final.status == RESOLVED and result.exit_code == 0
    assert result.debrief[0] == "== debrief =="


def test_a_dead_watcher_ends_the_session_and_its_log_is_named() -> None:
    def watcher_dies(steps: FakeSteps) -> None:
        (paths.session_dir(SESSION) / ".watch.log").write_text("Error: the check probe went away\n")
        steps.watcher_code = 5
        assert steps.screen_closed().wait(WAIT)

    steps = FakeSteps(watcher_dies)
    runner, said, _ = run(steps)
    result = runner.run()
    assert steps.screen is not None
    assert steps.screen.announced == [(WATCHER_DIED_NEWS, BAD_NEWS_STYLE)]
    assert runner.watcher_died
    assert result.exit_code == 1 and result.final is not None and result.final.status == ABANDONED
    kept = paths.transcript_path(SESSION).with_suffix(".watch.log")
    assert said[-3].startswith("replay-check --watch stopped (exit 5) while the session was still being")
    assert said[-2:] == [f"    {kept}", "    | Error: the check probe went away"]


def test_without_tmux_the_breach_is_news_once_and_leaving_the_shell_ends() -> None:
    def breach_then_leave(steps: FakeSteps) -> None:
        set_status(TIMEOUT)
        deadline = threading.Event()
        deadline.wait(3.5)  # a few of the monitor's ticks: the breach is still told only once
        steps.shell_closed.set()

    steps = FakeSteps(breach_then_leave)
    runner, said, news = run(steps, split=False)
    result = runner.run()
    assert news == [SLA_BREACHED_NEWS]
    assert said[:3] == [
        STARTING,
        "No tmux: for the incident page, SLA and hints run this in a second terminal:",
        f"    replay-hud {SESSION}",
    ]
    assert result.final is not None and result.final.status == TIMEOUT and result.exit_code == 1
    assert f"shell {SESSION} {SESSION}.cast" in steps.calls
    assert load_transcript_note() is None  # replay-down removed the session; the note was made before


def load_transcript_note() -> str | None:
    try:
        return load_session(SESSION).transcript
    except Exception:  # noqa: BLE001 - gone is the expected answer
        return None


def test_the_transcript_is_noted_before_the_break() -> None:
    noted: list[str | None] = []

    def look(steps: FakeSteps) -> None:
        noted.append(load_session(SESSION).transcript)
        steps.shell_closed.set()

    run(FakeSteps(look), split=False)[0].run()
    assert noted == [str(paths.transcript_path(SESSION))]
    assert paths.transcript_path(SESSION).parent.is_dir()


def test_keep_leaves_the_stack_and_clears_the_owner() -> None:
    steps = FakeSteps(lambda s: s.shell_closed.set())
    runner, _, _ = run(steps, split=False, keep=True)
    result = runner.run()
    assert not any(c.startswith("down") for c in steps.calls)
    state = load_session(SESSION)
    assert state.owner_pid is None and state.owner_started is None and state.status == ACTIVE
    assert result.debrief[-2:] == ["", f"The stack is still up (--keep). When done:  replay-down {SESSION}"]
    assert result.exit_code == 1


def test_a_failed_break_is_raised_after_the_clean_up() -> None:
    steps = FakeSteps()
    steps.break_fails = True
    runner, said, _ = run(steps)
    with pytest.raises(StepFailed) as failed:
        runner.run()
    assert failed.value.exit_code == 6
    assert not any(c.startswith("down") for c in steps.calls)
    assert said[-1] == (f"replay-break has already torn session {SESSION} down; "
                        "what went wrong is in its message above.")
    assert steps.watcher_waits == [0]


# -- signals -------------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_abandons_tears_down_and_is_returned(signum: int) -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}

    def stopped(steps: FakeSteps) -> None:
        os.kill(os.getpid(), signum)
        steps.screen_closed().wait(WAIT)  # the handler raises Stop out of this wait

    class SignalledAgainInTeardown(FakeSteps):
        def down(self, session_id: str, *, quiet: bool) -> SessionState | None:
            os.kill(os.getpid(), signal.SIGINT)  # ignored: the clean-up runs to its end
            return super().down(session_id, quiet=quiet)

    steps = SignalledAgainInTeardown(stopped)
    runner, said, _ = run(steps)
    result = runner.run()
    assert result.signum == signum
    assert result.final is not None and result.final.status == ABANDONED
    hung_up = signum == signal.SIGHUP
    assert result.terminal_gone is hung_up and steps.down_quiet is hung_up
    assert (result.debrief == []) is hung_up  # after a hangup nothing more is written
    assert {s: signal.getsignal(s) for s in before} == before
    assert steps.screen is not None and steps.screen.killed.is_set()
    assert said == [STARTING]


def test_a_session_made_by_an_interrupted_replay_up_is_torn_down() -> None:
    class UpFinishedAnyway(FakeSteps):
        def up(self, scenario: str, *, sla: int | None, player: str | None = None) -> str:
            super().up(scenario, sla=sla)
            stop = Stop(signal.SIGTERM)
            stop.session_id = SESSION
            raise stop

    steps = UpFinishedAnyway()
    result = run(steps)[0].run()
    assert result.signum == signal.SIGTERM
    assert f"down {SESSION}" in steps.calls


# -- the workspace ---------------------------------------------------------------------------------


def test_the_workspace_is_described_as_argv() -> None:
    state = SessionState(id=SESSION, scenario="x", pack="official", scenario_dir="/", project="p",
                         services=["shell", "app", "d\x1b[31mb"], shell_service="shell")
    spec = workspace_spec(state, lambda name: f"/bin/{name}", columns=100, rows=30)
    cast = str(paths.transcript_path(SESSION))
    assert spec.shell == ("/bin/replay-shell", SESSION, "--record", cast)
    assert spec.hud == ("/bin/replay-hud", SESSION, "--tmux", "--hint-key", "h")
    # Every window is recorded beside the shell's transcript; a name no file may carry is not.
    app_cast = str(paths.transcript_path(SESSION, "app"))
    assert app_cast == cast.removesuffix(".cast") + ".app.cast"
    assert spec.windows == (ExtraWindow("app", ("/bin/replay-shell", SESSION, "app", "--record", app_cast)),
                            ExtraWindow("db", ("/bin/replay-shell", SESSION, "d\x1b[31mb")))
    assert spec.key_bindings == {"h": ("/bin/replay-hint", SESSION)}
    assert spec.socket == f"replaybook-{SESSION}"
    assert (spec.columns, spec.rows) == (100, 29)
    assert spec.environment == {"REPLAYBOOK_NO_ORPHAN_NOTICE": "1"}
    assert spec.status_right == "C-b h: hint | exit the shell: give up "
