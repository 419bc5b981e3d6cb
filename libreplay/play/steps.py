"""The steps ``replaybook run`` drives, behind a small interface.

:class:`Steps` is what the play flow (libreplay/play/flow.py) needs from the outside world;
:class:`CommandSteps` is the real one. It composes the single executables as subprocesses,
exactly as a trainee could by hand (docs/terminal.md):

  replay-up SCENARIO            -> the session id (stdout); build progress on stderr
  replay-break SESSION          -> fault injected, SLA clock running
  replay-check --watch …        -> in the background: notices the fix, answers get-hint
  tmux (own socket)             -> replay-shell (recorded) | replay-hud, a window per other service
  replay-down SESSION --json    -> teardown; the final state feeds the debrief

None of these children is tied to run (``proc.spawn(..., dies_with_us=False)``): should run
itself be killed outright, the trainee keeps the workspace and the terminal as they are (a
SIGKILLed tmux client would leave the terminal raw), the watcher goes on noticing the fix for
the HUD, and replay-up, replay-break or replay-down finishes what it is doing; the session is
then the orphan path's (docs/architecture.md, "Clean-up is guaranteed").

The unit tests drive the flow with a fake of their own (tests/unit/test_play_flow.py).
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Literal, Protocol

from libreplay.core import proc
from libreplay.core.errors import EnvironmentProblem, ReplayError, SessionError
from libreplay.core.proc import Child, Stream
from libreplay.core.terminal import restore_mode, saved_mode
from libreplay.play.workspace import Workspace, WorkspaceSpec, build_workspace
from libreplay.session.state import SessionState

# The watcher writes the ledger line once it has seen the fix: that long to finish it.
WATCHER_GRACE_SECONDS = 20.0
FOREGROUND_GRACE_SECONDS = 30.0  # replay-up or replay-break tearing its own stack down
WATCHER_STOP_GRACE_SECONDS = 15.0


class Stop(Exception):
    """A signal asked the run to stop (SIGINT, SIGTERM, SIGHUP); raised in the main thread.

    ``session_id``: the session replay-up had made after all when the signal cut in (replay-up
    had already finished), so that the run still tears it down.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.session_id: str | None = None


class StepFailed(ReplayError):
    """One of the composed commands failed; it has said why on stderr already."""

    def __init__(self, name: str, code: int) -> None:
        super().__init__(f"{name} failed (exit {code})")
        self.name = name
        self.exit_code = code


class Screen(Protocol):
    """The tmux workspace, as the flow uses it once it is laid out."""

    def announce(self, text: str, *, style: str) -> None: ...

    def kill(self) -> None: ...


class Steps(Protocol):
    """What the play flow asks of the world; each call blocks until its step is done.

    The foreground steps (``up``, ``break_session``, ``attach``, ``shell_here``) may be cut
    short by :class:`Stop` raised from a signal handler; :meth:`stop_foreground` ends whatever
    of them still runs.
    """

    def executable(self, name: str) -> str:
        """The path of a replaybook executable (the workspace's panes run them)."""
        ...

    def up(self, scenario: str, *, sla: int | None, player: str | None = None) -> str:
        """A new session of ``scenario`` (played by ``player``; None: the OS user): its id.
        StepFailed when replay-up fails."""
        ...

    def break_session(self, session_id: str, *, fault: str | None) -> None: ...

    def start_watcher(self, session_id: str, *, log: Path) -> None:
        """The fix watcher, in the background, its stderr appended to ``log``."""
        ...

    def watcher_exit_code(self) -> int | None:
        """None while the watcher runs (or was never started), else its exit status."""
        ...

    def stop_watcher(self, *, wait: float) -> None:
        """Give the watcher ``wait`` seconds to end on its own, then stop it."""
        ...

    def open_workspace(self, spec: WorkspaceSpec) -> Screen: ...

    def attach(self) -> None:
        """Show the workspace in this terminal until it closes or the trainee detaches."""
        ...

    def shell_here(self, session_id: str, *, record: Path) -> None:
        """The trainee's shell in this terminal (no tmux), until they leave it."""
        ...

    def stop_foreground(self) -> None: ...

    def down(self, session_id: str, *, quiet: bool) -> SessionState | None:
        """Tear the session down; its final state (None when it cannot be read).

        StepFailed when replay-down fails. ``quiet``: its stderr goes nowhere (no terminal).
        """
        ...


def find_executable(name: str) -> str:
    """A replaybook executable beside this interpreter (the venv), else on PATH."""
    beside = Path(sys.executable).with_name(name)
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise EnvironmentProblem(f"{name} is not installed (reinstall replaybook)")
    return found


class CommandSteps:
    """The real steps: the replay-* executables as child processes, tmux for the workspace.

    Every child gets ``REPLAYBOOK_OWNER_PID`` (this process owns the session) and no ``TMUX``
    (the workspace's server is not nested in the trainee's own tmux).
    """

    def __init__(self, *, executable: Callable[[str], str] = find_executable) -> None:
        self._executable = executable
        self.env = dict(os.environ, REPLAYBOOK_OWNER_PID=str(os.getpid()))
        self.env.pop("TMUX", None)
        self.tty_mode = saved_mode(_stdin_fd())  # before anything: the recorder may leave raw mode behind
        self.foreground: Child | None = None
        self.watcher: Child | None = None
        self.workspace: Workspace | None = None

    def executable(self, name: str) -> str:
        return self._executable(name)

    def up(self, scenario: str, *, sla: int | None, player: str | None = None) -> str:
        # `is not None`: a bad --sla (0, negative) is replay-up's to refuse, with its own message.
        argv = [self.executable("replay-up"), scenario, *(["--sla", str(sla)] if sla is not None else []),
                *(["--player", player] if player is not None else [])]
        self.foreground = child = self._on_terminal(argv, stdout=proc.CAPTURE)
        try:
            code = child.wait()
            out = child.output()
        except Stop as stop:
            # replay-up tears its own stack down on SIGINT/SIGTERM; a SIGTERM to run alone
            # is passed on, then run waits for that clean-up to finish.
            child.signal(signal.SIGTERM)
            code = child.wait()
            stop.session_id = _last_line(child.output()) if code == 0 else None
            raise
        if code != 0:
            raise StepFailed("replay-up", code)
        session_id = _last_line(out)
        if not session_id:
            raise SessionError("replay-up printed no session id")
        return session_id

    def break_session(self, session_id: str, *, fault: str | None) -> None:
        self._call("replay-break", session_id, *(["--fault", fault] if fault else []))

    def _call(self, name: str, *args: str) -> None:
        argv = [self.executable(name), *args]
        # Its stdout (the session id, for a pipe) is not for the trainee.
        self.foreground = child = self._on_terminal(argv, stdout=proc.CAPTURE)
        code = child.wait()
        if code != 0:
            raise StepFailed(name, code)

    def start_watcher(self, session_id: str, *, log: Path) -> None:
        # Its own process session: a Ctrl-C meant for run (or for replay-up) never reaches it;
        # run stops it itself. --keep-stack: teardown is run's job (and --keep's choice).
        argv = [self.executable("replay-check"), "--watch", "--through-deadline", "--keep-stack", session_id]
        self.watcher = proc.spawn(argv, env=self.env, stdin=proc.DISCARD, stdout=proc.DISCARD, stderr=log,
                                  own_session=True, dies_with_us=False)

    def watcher_exit_code(self) -> int | None:
        return self.watcher.poll() if self.watcher is not None else None

    def stop_watcher(self, *, wait: float) -> None:
        watcher = self.watcher
        if watcher is None or watcher.poll() is not None:
            return
        if watcher.wait(wait) is None:
            watcher.stop(grace=WATCHER_STOP_GRACE_SECONDS)

    def open_workspace(self, spec: WorkspaceSpec) -> Screen:
        self.workspace = build_workspace(spec)
        return self.workspace

    def attach(self) -> None:
        assert self.workspace is not None
        self.foreground = self._on_terminal(self.workspace.attach_argv())
        self.foreground.wait()  # a detach, the shell's exit or the monitor's kill ends it

    def shell_here(self, session_id: str, *, record: Path) -> None:
        argv = [self.executable("replay-shell"), session_id, "--record", str(record)]
        self.foreground = self._on_terminal(argv)
        self.foreground.wait()
        restore_mode(_stdin_fd(), self.tty_mode)

    def stop_foreground(self) -> None:
        if self.foreground is not None:
            self.foreground.stop(grace=FOREGROUND_GRACE_SECONDS)

    def down(self, session_id: str, *, quiet: bool) -> SessionState | None:
        # run's clean-up calls this while it ignores the stop signals: replay-down inherits that,
        # so nothing cuts the teardown short.
        child = self._on_terminal([self.executable("replay-down"), session_id, "--json"],
                                  stdout=proc.CAPTURE, stderr=proc.DISCARD if quiet else proc.INHERIT)
        code = child.wait()
        if code != 0:
            raise StepFailed("replay-down", code)
        try:
            return SessionState.from_json(child.output())
        except (ValueError, TypeError):
            return None

    def _on_terminal(
        self,
        argv: list[str],
        *,
        stdout: Stream = proc.INHERIT,
        stderr: Literal[Stream.INHERIT, Stream.DISCARD] = proc.INHERIT,
    ) -> Child:
        """A child in run's own process group, so on its terminal: it reads the keyboard, and the
        terminal's Ctrl-C and hang-up reach it as they reach run."""
        return proc.spawn(argv, env=self.env, stdout=stdout, stderr=stderr,
                          own_session=False, dies_with_us=False)


def _last_line(out: bytes) -> str | None:
    lines = [line.strip() for line in out.decode(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else None


def _stdin_fd() -> int:
    """stdin's descriptor; -1 (no terminal, which saved_mode and restore_mode pass over) when
    stdin is closed or replaced by something without one."""
    try:
        return sys.stdin.fileno()
    except (AttributeError, ValueError, OSError):
        return -1
