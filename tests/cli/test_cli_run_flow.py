"""replaybook run's own decisions, with the composed replay-* commands stood in by small scripts.

No Docker and no terminal: the real steps (libreplay.play.steps.CommandSteps) run fake
commands, each doing to the session files what the real one does (replay-up writes
session.toml with run as owner, a failing replay-break removes the session directory) and
logging its arguments, so run's clean-up choices can be checked.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from libreplay.core import paths, proc
from libreplay.core.signals import handling
from libreplay.packs.catalog import resolve_scenario
from libreplay.play.flow import Play, PlayOptions
from libreplay.play.steps import CommandSteps, StepFailed, Stop
from libreplay.play.workspace import refusal_shown, reopening, shell_then
from libreplay.session.state import (
    ACTIVE,
    SessionState,
    load_session,
    save_new_session,
)
from replaybook.commands.common import say

SESSION = "fake0001"

FAKE_UP = """
import os, psutil
from libreplay.session.state import READY, SessionState, save_new_session
owner = int(os.environ["REPLAYBOOK_OWNER_PID"])
save_new_session(SessionState(
    id=SESSION, scenario="001-nginx-502", pack="official", scenario_dir=SCENARIO_DIR,
    project="replaybook-" + SESSION, status=READY, services=["shell"], shell_service="shell",
    owner_pid=owner, owner_started=psutil.Process(owner).create_time(),
))
print(SESSION)
"""
FAKE_BREAK_OK = """
from libreplay.session.state import ACTIVE, update_session
update_session(SESSION, lambda s: setattr(s, "status", ACTIVE))
"""
FAKE_BREAK_FAILS = """
import shutil, sys
from libreplay.core import paths
shutil.rmtree(paths.session_dir(SESSION))  # what replay-break's teardown leaves: nothing
print("Error: fault 'default' did not break anything", file=sys.stderr)
sys.exit(6)
"""
FAKE_DOWN = """
import sys
print("Error: no session", file=sys.stderr)
sys.exit(4)
"""
SLEEP = "import time; time.sleep(60)"


class FakeCommands(dict[str, str]):
    """name -> Python source of a fake replay-* command; other names are the real ones."""

    def __init__(self, tmp_path: Path) -> None:
        super().__init__({"replay-up": FAKE_UP, "replay-break": FAKE_BREAK_OK, "replay-check": SLEEP,
                          "replay-shell": "", "replay-down": FAKE_DOWN})
        self.tmp_path = tmp_path
        self.scenario_dir = str(resolve_scenario("001-nginx-502").directory)

    def executable(self, name: str) -> str:
        if name not in self:
            return str(Path(sys.executable).with_name(name))  # the real one
        script = self.tmp_path / name
        calls = self.tmp_path / "calls.log"
        log = f"open({str(calls)!r}, 'a').write(' '.join([{name!r}, *sys.argv[1:]]) + '\\n')\n"
        body = f"SESSION = {SESSION!r}\nSCENARIO_DIR = {self.scenario_dir!r}\n" + textwrap.dedent(self[name])
        script.write_text(f"#!{sys.executable}\nimport sys\n{log}{body}")
        script.chmod(0o755)
        return str(script)


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeCommands:
    # Nothing here may reach the engine, even if run regressed into calling a real command
    # that would (run passes its environment on to every command it starts).
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    return FakeCommands(tmp_path)


def calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def play(fakes: FakeCommands, *, sla: int | None = None, keep: bool = False) -> Play:
    options = PlayOptions("001-nginx-502", sla=sla, keep=keep, split=False)
    return Play(options, CommandSteps(executable=fakes.executable), on_say=say)


def test_a_failed_break_is_not_followed_by_replay_down(
    fakes: FakeCommands, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    fakes["replay-break"] = FAKE_BREAK_FAILS
    with pytest.raises(StepFailed) as failed:
        play(fakes).run()
    assert failed.value.exit_code == 6
    assert [c.split()[0] for c in calls(tmp_path)] == ["replay-up", "replay-break"]
    said = capfd.readouterr().err
    assert "did not break anything" in said  # replay-break's own words
    assert f"replay-break has already torn session {SESSION} down" in said
    assert "run it again" not in said and "could not be read" not in said


def test_keep_leaves_the_session_without_an_owner(fakes: FakeCommands, tmp_path: Path) -> None:
    result = play(fakes, keep=True).run()
    assert result.exit_code == 1
    state = load_session(SESSION)
    assert state.owner_pid is None and state.owner_started is None
    assert state.status == ACTIVE
    assert not any(c.startswith("replay-down") for c in calls(tmp_path))
    assert any(f"replay-down {SESSION}" in line for line in result.debrief)  # the adapter's stdout
    # So no replay-* command calls it an orphan once run has gone.
    from libreplay.session.owners import find_orphans

    assert SESSION not in find_orphans()


def test_sla_zero_reaches_replay_up_which_refuses_it(fakes: FakeCommands, tmp_path: Path,
                                                     capfd: pytest.CaptureFixture[str]) -> None:
    del fakes["replay-up"]  # the real replay-up: it refuses --sla 0 before touching Docker
    with pytest.raises(StepFailed) as failed:
        play(fakes, sla=0).run()
    assert failed.value.exit_code == 3
    assert "--sla: must be minutes from 1 to 1440, got 0" in capfd.readouterr().err
    assert not paths.sessions_dir().exists() or not any(paths.sessions_dir().iterdir())



# -- a stop signal while replay-up runs ----------------------------------------------------------

FAKE_UP_UNTIL_STOPPED = """
import pathlib, signal, sys, time
def stopped(*_):
    if EXIT == 0:
        print(SESSION)  # it had made the session when the stop came
    sys.exit(EXIT)
signal.signal(signal.SIGTERM, stopped)
pathlib.Path(READY).touch()
time.sleep(20)
sys.exit(3)
"""


@pytest.mark.parametrize(("exit_code", "session_id"), [(0, SESSION), (130, None)])
def test_a_stop_during_replay_up_is_passed_on_and_waited_for(
    fakes: FakeCommands, tmp_path: Path, exit_code: int, session_id: str | None
) -> None:
    """run's SIGTERM alone (replay-up did not get it from the terminal) reaches replay-up, which
    tears its own stack down; run keeps the session replay-up made if it had finished."""
    ready = tmp_path / "up-ready"
    fakes["replay-up"] = f"READY = {str(ready)!r}\nEXIT = {exit_code}\n" + FAKE_UP_UNTIL_STOPPED
    steps = CommandSteps(executable=fakes.executable)

    def stop(_signum: int) -> None:
        raise Stop(signal.SIGTERM)

    def signal_once_ready() -> None:
        deadline = time.monotonic() + 30
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGUSR1)  # the handler raises Stop in the main thread

    started = time.monotonic()
    threading.Thread(target=signal_once_ready, daemon=True).start()
    with handling({signal.SIGUSR1: stop}), pytest.raises(Stop) as stopped:
        steps.up("001-nginx-502", sla=None)
    assert stopped.value.session_id == session_id
    assert steps.foreground is not None and steps.foreground.poll() == exit_code
    assert time.monotonic() - started < 15  # it ended on the SIGTERM, not after its sleep

# -- the monitor: a watcher that died ----------------------------------------------------------


def state(status: str, *, fixed_late: bool = False) -> SessionState:
    return SessionState(id=SESSION, scenario="x", pack="official", scenario_dir="/",
                        project="replaybook-" + SESSION, status=status,
                        fixed_late_at=datetime.now(UTC) if fixed_late else None)


def watched_play(watcher: list[str]) -> Play:
    """A play of the session in the state file, its watcher (a real process) already started."""
    steps = CommandSteps()
    steps.watcher = proc.spawn(watcher)
    runner = Play(PlayOptions("001-nginx-502", split=False), steps, on_say=say, on_news=say)
    runner.session_id = SESSION
    return runner


def test_the_monitor_ends_the_session_when_the_watcher_has_died(capfd: pytest.CaptureFixture[str]) -> None:
    save_new_session(state(ACTIVE))
    runner = watched_play([sys.executable, "-c", "raise SystemExit(1)"])
    assert isinstance(runner.steps, CommandSteps) and runner.steps.watcher is not None
    runner.steps.watcher.wait()
    assert runner.react() is True
    assert runner.watcher_died
    assert "The fix watcher stopped: ending the session." in capfd.readouterr().err


def test_the_monitor_leaves_a_live_watcher_alone() -> None:
    save_new_session(state(ACTIVE))
    runner = watched_play([sys.executable, "-c", SLEEP])
    assert isinstance(runner.steps, CommandSteps) and runner.steps.watcher is not None
    try:
        assert runner.react() is False
        assert not runner.watcher_died
    finally:
        runner.steps.watcher.signal(signal.SIGKILL)
        runner.steps.watcher.wait()


def test_a_dead_watchers_log_is_kept_and_named(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    save_new_session(state(ACTIVE))
    log = paths.session_dir(SESSION) / ".watch.log"
    log.write_text(f"Error: session {SESSION}: the check probe went away\n")
    runner = watched_play([sys.executable, "-c", "raise SystemExit(1)"])
    runner.watcher_died = True
    kept = runner.keep_watch_log()
    assert kept is not None and kept.parent == paths.transcript_path(SESSION).parent
    runner.say_watcher_died(kept)
    said = capfd.readouterr().err
    assert str(kept) in said and "the check probe went away" in said


# -- the tmux command lines --------------------------------------------------------------------


def sh(command: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-c", command], input=stdin, capture_output=True, text=True, timeout=10,
                          check=False)


def test_a_failing_replay_shell_keeps_its_message_until_enter() -> None:
    failing = ("sh", "-c", "echo Error: no session >&2; exit 4")
    started = time.monotonic()
    result = sh(shell_then(failing, end=("echo", "WORKSPACE-ENDED")), stdin="\n")
    assert "Error: no session" in result.stderr
    assert "exit status 4" in result.stdout and "Enter ends the session" in result.stdout
    assert result.stdout.rstrip().endswith("WORKSPACE-ENDED")
    assert time.monotonic() - started < 5


def test_a_shell_left_normally_ends_the_workspace_at_once() -> None:
    # stdin stays open and empty: a prompt would wait for Enter until the timeout.
    with subprocess.Popen(["sh", "-c", shell_then(("true",), end=("echo", "WORKSPACE-ENDED"))],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as process:
        out, _ = process.communicate(timeout=5)
    assert out == "WORKSPACE-ENDED\n"


def test_the_hint_key_shows_replay_hints_own_refusal() -> None:
    said = "No more hints for this incident: you have seen them all. #3"
    refusing = ("sh", "-c", f"echo \"{said}\" >&2; exit 1")
    shown = sh(refusal_shown(refusing, ("printf", "%s\\n")))
    assert shown.stdout == "No more hints for this incident: you have seen them all. ##3\n"


def test_the_hint_key_says_nothing_when_a_hint_comes() -> None:
    revealed = ("sh", "-c", "echo \"Hint 1/3: look at the upstream\"")
    shown = sh(refusal_shown(revealed, ("printf", "%s\\n")))
    assert shown.returncode == 0 and shown.stdout == ""


def test_a_key_that_fails_silently_is_named(tmp_path: Path) -> None:
    silent = tmp_path / "replay-hint"
    silent.write_text("#!/bin/sh\nexit 1\n")
    silent.chmod(0o755)
    shown = sh(refusal_shown((str(silent),), ("printf", "%s\\n")))
    assert shown.stdout == "replay-hint failed\n"


def test_the_command_lines_quote_every_word(tmp_path: Path) -> None:
    """Paths and names reach sh as words, never as code: the typed spec is quoted once, here."""
    marker = tmp_path / "ran"
    hostile = f"x; touch {marker}; $(touch {marker}) `touch {marker}`"
    echoed = sh(shell_then(("echo", hostile), end=("echo", hostile)))
    assert echoed.stdout == f"{hostile}\n{hostile}\n"
    shown = sh(refusal_shown(("sh", "-c", "echo no >&2; exit 1", hostile), ("printf", "%s|", hostile)))
    assert shown.stdout == f"{hostile}|no|"
    window = sh(reopening(("echo", hostile), hostile), stdin="")
    assert window.stdout.startswith(f"{hostile}\n[") and "shell ended. Enter reopens it.]" in window.stdout
    assert not marker.exists()
