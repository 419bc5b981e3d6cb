"""replay-run (replaybook run): play a scenario end to end in a tmux workspace.

It composes the single executables as subprocesses, as a trainee could by hand:
  replay-up SCENARIO            -> the session id (stdout); build progress on stderr
  replay-break SESSION          -> fault injected, SLA clock running
  replay-check --watch …        -> in the background: notices the fix, answers get-hint
  tmux (own socket)             -> replay-shell (recorded) | replay-hud, a window per other service
  replay-down SESSION --json    -> teardown; the final state feeds the debrief
Ctrl-C, SIGTERM, SIGHUP, a tmux detach or leaving the shell before a fix: the session is
abandoned and torn down all the same. See docs/terminal.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import termios
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from replaybook.commands.common import confirm, emit, handles_errors, make_app, say
from replaybook.commands.trust import YesOption, admit

from libreplay.core import paths
from libreplay.core.errors import EnvironmentProblem, Interrupted, NotFound, ReplayError, SessionError
from libreplay.core.proc import stop_process
from libreplay.core.text import inert
from libreplay.session.state import ABANDONED, ACTIVE, ERROR, RESOLVED, TIMEOUT, SessionState

app = make_app("Play a scenario: break it, fix it in a real shell against the SLA, get a debrief.")

CLOSE_AFTER_SECONDS = 5.0
WATCHER_GRACE_SECONDS = 20.0
HINT_KEY = "h"


@app.command()
@handles_errors
def run(  # noqa: PLR0917 - one parameter per option
    scenario: Annotated[str | None, typer.Argument(help="Scenario id, pack/id or directory.")] = None,
    sla: Annotated[int | None, typer.Option(help="SLA in minutes (default: the scenario's).")] = None,
    fault: Annotated[str | None, typer.Option(help="The fault to inject (default: drawn at random).")] = None,
    keep: Annotated[bool, typer.Option("--keep", help="Leave the stack up afterwards.")] = False,
    no_split: Annotated[
        bool, typer.Option("--no-split", help="No tmux: the shell in this terminal, the HUD elsewhere.")
    ] = False,
    random_: Annotated[bool, typer.Option("--random", help="Play a scenario drawn at random.")] = False,
    tag: Annotated[str | None, typer.Option(help="With --random: only scenarios with this tag.")] = None,
    yes: YesOption = False,
) -> None:
    """Bring SCENARIO up, break it, open the shell and HUD in tmux; debrief and tear down at the end."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise EnvironmentProblem(
            "replaybook run is interactive and needs a terminal (stdin/stdout are not a tty)",
            hint="to script a session use replay-up | replay-break | replay-check --watch; replay-down",
        )
    name = _choose(scenario, random_, tag)
    _admit(name, yes)
    if not no_split and shutil.which("tmux") is None:
        from libreplay.play.workspace import install_hint

        say("tmux is not installed: " + install_hint() + ".")
        if not confirm("Play without tmux now (--no-split)?"):
            raise EnvironmentProblem("tmux is not installed")
        no_split = True
    code = Play(name, sla=sla, fault=fault, keep=keep, split=not no_split).run()
    if code:
        raise typer.Exit(code)


def _choose(scenario: str | None, random_: bool, tag: str | None) -> str:
    from libreplay.packs import catalog as packs

    if scenario and random_:
        raise typer.BadParameter("name a SCENARIO or use --random, not both")
    if scenario:
        packs.resolve_scenario(scenario)  # a typo fails here, before anything is built
        return scenario
    if not random_:
        raise typer.BadParameter("name a SCENARIO (replay-list shows them) or use --random")
    found = [s for scan in packs.scan_all() for s in scan.scenarios if tag is None or tag in s.tags]
    if not found:
        raise NotFound(f"no scenario has the tag {tag!r}" if tag else "no scenario is installed")
    chosen = random.choice(found)
    say(f"Drawn at random: {chosen.ref} - {chosen.title}")
    return chosen.ref


def _admit(name: str, yes: bool) -> None:
    """Ask about an untrusted pack here, once, before replay-up (which then finds it trusted)."""
    from libreplay.packs import catalog as packs

    admit(packs.resolve_scenario(name), yes=yes)


def executable(name: str) -> str:
    """A replaybook executable beside this interpreter (the venv), else on PATH."""
    beside = Path(sys.executable).with_name(name)
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise EnvironmentProblem(f"{name} is not installed (reinstall replaybook)")
    return found


class _Stop(Exception):
    """A signal asked run to stop (SIGINT, SIGTERM, SIGHUP)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class Play:
    def __init__(self, scenario: str, *, sla: int | None, fault: str | None, keep: bool, split: bool):
        self.scenario = scenario
        self.sla = sla
        self.fault = fault
        self.keep = keep
        self.split = split
        self.session_id: str | None = None
        self.step: str | None = None  # the composed command running before play starts
        self.session_gone = False  # torn down by someone else (replay-break on failure)
        self.watcher: subprocess.Popen[bytes] | None = None
        self.watcher_died = False
        self.workspace: Any = None
        self.foreground: subprocess.Popen[bytes] | None = None
        self.terminal_gone = False
        self.stop_monitor = threading.Event()
        self.env = dict(os.environ, REPLAYBOOK_OWNER_PID=str(os.getpid()))
        self.env.pop("TMUX", None)
        self.tty_mode = _save_tty()

    # -- the whole play --------------------------------------------------------------------

    def run(self) -> int:
        signum = 0
        final: SessionState | None = None
        with self._signals():
            try:
                self.session_id = self._up()
                self._set_transcript()
                self._call("replay-break", self.session_id, *(["--fault", self.fault] if self.fault else []))
                self.step = None
                self._start_watcher()
                if self.split:
                    self._play_in_tmux()
                else:
                    self._play_here()
            except _Stop as stop:
                signum = stop.signum
            finally:
                _ignore_signals()  # clean-up runs to its end whatever arrives now
                final = self._clean_up()
        if self.terminal_gone:
            _silence()  # the terminal is closed: writing to it would only fail
        else:
            self._debrief(final)
        if signum:
            raise Interrupted(signum)
        return 0 if final is not None and final.status == RESOLVED else 1

    # -- the steps ---------------------------------------------------------------------------

    def _up(self) -> str:
        # `is not None`: a bad --sla (0, negative) is replay-up's to refuse, with its own message.
        sla = ["--sla", str(self.sla)] if self.sla is not None else []
        argv = [executable("replay-up"), self.scenario, *sla]
        self.step = "replay-up"
        say(f"Starting {self.scenario} (the first run builds its images; this can take a few minutes)...")
        self.foreground = subprocess.Popen(argv, stdout=subprocess.PIPE, env=self.env)
        try:
            out, _ = self.foreground.communicate()
        except _Stop:
            # replay-up tears its own stack down on SIGINT/SIGTERM; a SIGTERM to run alone
            # is passed on, then run waits for that clean-up to finish.
            with contextlib.suppress(ProcessLookupError):
                self.foreground.send_signal(signal.SIGTERM)
            out, _ = self.foreground.communicate()
            self.session_id = _last_line(out) if self.foreground.returncode == 0 else None
            raise
        if self.foreground.returncode != 0:
            raise _StepFailed("replay-up", self.foreground.returncode)
        session_id = _last_line(out)
        if not session_id:
            raise SessionError("replay-up printed no session id")
        return session_id

    def _call(self, name: str, *args: str) -> str:
        self.step = name
        self.foreground = subprocess.Popen([executable(name), *args], stdout=subprocess.PIPE, env=self.env)
        out, _ = self.foreground.communicate()
        if self.foreground.returncode != 0:
            raise _StepFailed(name, self.foreground.returncode)
        return out.decode(errors="replace")

    def _set_transcript(self) -> None:
        from libreplay.session.state import update_session

        assert self.session_id is not None
        cast = paths.transcript_path(self.session_id)
        cast.parent.mkdir(parents=True, exist_ok=True)
        update_session(self.session_id, lambda state: setattr(state, "transcript", str(cast)))

    def _start_watcher(self) -> None:
        assert self.session_id is not None
        # Its own process session: a Ctrl-C meant for run (or for replay-up) never reaches it;
        # run stops it itself. --keep-stack: teardown is run's job (and --keep's choice).
        log = paths.session_dir(self.session_id) / ".watch.log"
        with log.open("ab") as handle:
            self.watcher = subprocess.Popen(
                [executable("replay-check"), "--watch", "--through-deadline", "--keep-stack",
                 self.session_id],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=handle,
                env=self.env, start_new_session=True,
            )

    # -- playing ---------------------------------------------------------------------------------

    def _play_in_tmux(self) -> None:
        from libreplay.play.workspace import build_workspace

        assert self.session_id is not None
        self.workspace = build_workspace(self._workspace_spec())
        monitor = threading.Thread(target=self._monitor, name="run-monitor", daemon=True)
        monitor.start()
        env = dict(self.env)
        self.foreground = subprocess.Popen(self.workspace.attach_argv(), env=env)
        self.foreground.wait()  # a detach, the shell's exit or the monitor's kill ends it

    def _workspace_spec(self) -> Any:
        from libreplay.play.workspace import ExtraWindow, WorkspaceSpec, server_command, socket_name
        from libreplay.session.state import load_session

        assert self.session_id is not None
        sid = self.session_id
        state = load_session(sid)
        socket = socket_name(sid)
        cast = paths.transcript_path(sid)
        shell = shlex.join([executable("replay-shell"), sid, "--record", str(cast)])
        end = server_command(socket, "kill-session", "-t", "replaybook")
        hud = shlex.join([executable("replay-hud"), sid, "--tmux", "--hint-key", HINT_KEY])
        windows = tuple(
            ExtraWindow(inert(service, keep_newlines=False),  # tmux shows it in the status line
                        _reopening(shlex.join([executable("replay-shell"), sid, service]), service))
            for service in state.services if service != state.shell_service
        )
        hint = shlex.join([executable("replay-hint"), sid])
        display = server_command(socket, "display-message", "-d", "3000", "--")  # long enough to read
        columns, rows = shutil.get_terminal_size((120, 40))
        return WorkspaceSpec(
            socket=socket,
            shell_command=shell_then(shell, end),  # leaving the shell ends the session
            hud_command=hud,
            windows=windows,
            key_bindings={HINT_KEY: hint_binding(hint, display)},
            status_left=f"[replaybook {sid}] ",
            status_right=f"C-b {HINT_KEY}: hint | exit the shell: give up ",
            columns=columns,
            rows=max(10, rows - 1),  # the status line takes one
            environment={"REPLAYBOOK_NO_ORPHAN_NOTICE": "1"},
        )

    def _play_here(self) -> None:
        assert self.session_id is not None
        say("No tmux: for the incident page, SLA and hints run this in a second terminal:")
        say(f"    replay-hud {self.session_id}")
        say("Ask for a hint with get-hint in the shell. Leaving the shell before a fix gives up.")
        monitor = threading.Thread(target=self._monitor, name="run-monitor", daemon=True)
        monitor.start()
        cast = paths.transcript_path(self.session_id)
        argv = [executable("replay-shell"), self.session_id, "--record", str(cast)]
        self.foreground = subprocess.Popen(argv, env=self.env)
        self.foreground.wait()
        _restore_tty(self.tty_mode)

    # -- watching for the end ----------------------------------------------------------------

    def _monitor(self) -> None:
        """React to the session's state: announce the outcome, close the workspace shortly after."""
        import watchfiles

        assert self.session_id is not None
        directory = paths.session_dir(self.session_id)
        announced: set[str] = set()
        try:
            for _changes in watchfiles.watch(
                directory, watch_filter=lambda _c, p: Path(p).name == "session.toml",
                stop_event=self.stop_monitor, debounce=200, step=50, recursive=False,
                yield_on_timeout=True, rust_timeout=1000, raise_interrupt=False,
            ):
                if self._react(announced):
                    return
        except (FileNotFoundError, OSError, RuntimeError):
            pass
        if not self.stop_monitor.is_set():
            self._close_soon("The session has ended.", 0)

    def _react(self, announced: set[str]) -> bool:
        """True once the workspace is being closed."""
        from libreplay.session.state import load_session

        assert self.session_id is not None
        # Polled before the state is read: a watcher that ended after writing the outcome is
        # then seen with that outcome, not mistaken for one that died. Once run is cleaning up,
        # it stops the watcher itself.
        watcher_exited = (self.watcher is not None and self.watcher.poll() is not None
                          and not self.stop_monitor.is_set())
        try:
            state = load_session(self.session_id)
        except (NotFound, ReplayError):
            self._close_soon("The session has ended.", 0)
            return True
        if state.status == RESOLVED:
            self._close_soon(f"RESOLVED - service restored. Closing in {CLOSE_AFTER_SECONDS:.0f} s...",
                             CLOSE_AFTER_SECONDS)
            return True
        if state.status == TIMEOUT and state.fixed_late_at is not None:
            self._close_soon("Fixed, but after the SLA. Closing shortly...", CLOSE_AFTER_SECONDS)
            return True
        if state.status == TIMEOUT and "timeout" not in announced:
            announced.add("timeout")
            self._announce("SLA BREACHED. Keep going to practise, or exit the shell to end.", good=False)
        if state.status in (ABANDONED, ERROR):
            self._close_soon(f"The session ended ({state.status}).", 2.0)
            return True
        if watcher_died(state, watcher_exited=watcher_exited):
            # Nothing would notice a fix any more, nor answer get-hint: end rather than play on.
            self.watcher_died = True
            self._close_soon("The fix watcher stopped: ending the session.", 3.0, good=False)
            return True
        return False

    def _announce(self, text: str, *, good: bool = True) -> None:
        if self.workspace is not None:
            # In the status line rather than display-message: tmux stops redrawing panes while
            # a message is up, which would freeze the HUD just as it turns RESOLVED.
            self.workspace.announce(text, style="bg=green,fg=black,bold" if good else "bg=red,fg=white,bold")
        else:
            with contextlib.suppress(OSError):
                sys.stderr.write(f"\r\n*** {inert(text, keep_newlines=False)} ***\r\n")  # raw mode: \r\n
                sys.stderr.flush()

    def _close_soon(self, text: str, delay: float, *, good: bool = True) -> None:
        if self.workspace is None:
            # --no-split: the shell owns this terminal; killing it from here would leave the
            # recorder's raw mode behind. The trainee leaves it when they have read the news.
            news = text.partition(" Closing")[0]
            self._announce(f"{news} Leave the shell (exit) for the debrief.", good=good)
            return
        self._announce(text, good=good)
        if self.stop_monitor.wait(delay):
            return  # run is already cleaning up
        self.workspace.kill()

    # -- the end -------------------------------------------------------------------------------

    def _clean_up(self) -> SessionState | None:
        self.stop_monitor.set()
        if self.workspace is not None:
            self.workspace.kill()
        self._reap_foreground()
        if self.session_id is None:
            self._stop_watcher(wait=0)
            return None
        if not paths.session_dir(self.session_id).exists():
            # replay-break tears everything down itself when it fails or is stopped (and says
            # why on stderr); replay-down would only fail on the missing session.
            self.session_gone = True
            self._stop_watcher(wait=0)
            self._say(self._gone_message())
            return None
        final = self._load()
        if final is not None and final.status == RESOLVED:
            self._stop_watcher(wait=WATCHER_GRACE_SECONDS)  # it is writing the ledger line
        if self.keep:
            self._stop_watcher(wait=0)
            return self._disown() or final
        watch_log = self._keep_watch_log() if self.watcher_died else None
        downed = self._down()
        self._stop_watcher(wait=WATCHER_GRACE_SECONDS)
        if watch_log is not None:
            self._say_watcher_died(watch_log)
        return downed or final

    def _gone_message(self) -> str:
        if self.step is not None:
            return (f"{self.step} has already torn session {self.session_id} down; "
                    "what went wrong is in its message above.")
        return f"Session {self.session_id} has already been torn down (by replay-down elsewhere?)."

    def _disown(self) -> SessionState | None:
        """--keep: run is about to exit, so it no longer owns the session; it is not an orphan."""
        from libreplay.session.state import update_session

        assert self.session_id is not None

        def clear(state: SessionState) -> None:
            state.owner_pid = state.owner_started = None

        try:
            return update_session(self.session_id, clear)
        except ReplayError:
            return None

    def _keep_watch_log(self) -> Path | None:
        """Copy the dead watcher's log beside the transcript: replay-down removes the session dir."""
        assert self.session_id is not None
        kept = paths.transcript_path(self.session_id).with_suffix(".watch.log")
        try:
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(paths.session_dir(self.session_id) / ".watch.log", kept)
        except OSError:
            return None
        return kept

    def _say_watcher_died(self, log: Path) -> None:
        code = self.watcher.returncode if self.watcher is not None else None
        self._say(f"replay-check --watch stopped (exit {code}) while the session was still being played, "
                  "so a fix could no longer be noticed. Its log:")
        self._say(f"    {log}")
        with contextlib.suppress(OSError):
            for line in log.read_text(errors="replace").splitlines()[-3:]:
                self._say(f"    | {line}")

    def _reap_foreground(self) -> None:
        if self.foreground is not None:
            stop_process(self.foreground, grace=30)

    def _load(self) -> SessionState | None:
        from libreplay.session.state import load_session

        assert self.session_id is not None
        try:
            return load_session(self.session_id)
        except ReplayError:
            return None

    def _down(self) -> SessionState | None:
        assert self.session_id is not None
        stderr: int | None = subprocess.DEVNULL if self.terminal_gone else None
        result = subprocess.run(
            [executable("replay-down"), self.session_id, "--json"],
            stdout=subprocess.PIPE, stderr=stderr, env=self.env, check=False,
        )
        if result.returncode != 0:
            self._say(f"replay-down {self.session_id} failed (exit {result.returncode}); run it again.")
            return None
        try:
            return SessionState.from_dict(_parse_state(result.stdout))
        except (ValueError, TypeError):
            return None

    def _stop_watcher(self, *, wait: float) -> None:
        watcher = self.watcher
        if watcher is None or watcher.poll() is not None:
            return
        try:
            watcher.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            stop_process(watcher, grace=15)

    def _debrief(self, final: SessionState | None) -> None:
        from libreplay.play.debrief import debrief_lines
        from libreplay.scenario.load import load_scenario
        from libreplay.session.ledger import personal_best

        if final is None:
            if self.session_id is not None and not self.session_gone:
                self._say(f"Session {self.session_id}: its final state could not be read.")
            return
        try:
            scenario = load_scenario(Path(final.scenario_dir), pack=final.pack)
        except ReplayError:
            scenario = None
        for line in debrief_lines(final, scenario, personal_best(final.scenario, final.pack)):
            emit(line)
        if self.keep:
            emit("")
            emit(f"The stack is still up (--keep). When done:  replay-down {final.id}")

    # -- signals and talk ----------------------------------------------------------------------

    @contextlib.contextmanager
    def _signals(self) -> Any:
        def stop(signum: int, _frame: FrameType | None) -> None:
            if signum == signal.SIGHUP:
                self.terminal_gone = True
            raise _Stop(signum)

        previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _say(self, text: str) -> None:
        if not self.terminal_gone:
            with contextlib.suppress(OSError):
                say(text)


class _StepFailed(ReplayError):
    """One of the composed commands failed; it has said why on stderr already."""

    def __init__(self, name: str, code: int) -> None:
        super().__init__(f"{name} failed (exit {code})")
        self.exit_code = code


def watcher_died(state: SessionState, *, watcher_exited: bool) -> bool:
    """The fix watcher has exited while the session still needed it.

    With --through-deadline it only ever leaves once the session is over (resolved, fixed
    late, torn down): ended while active, or timed out with no late fix, it died early.
    """
    return watcher_exited and state.status in (ACTIVE, TIMEOUT) and state.fixed_late_at is None


def shell_then(shell: str, end: str) -> str:
    """The shell pane's command: run ``shell``, then ``end`` (which closes the workspace).

    When replay-shell fails, its error would vanish with the pane at once: the message stays
    on screen until Enter. Run with ``sh -c`` whatever the trainee's login shell (tmux runs a
    pane's command with it). Ctrl-C at the prompt is ignored so it cannot skip ``end``.
    """
    notice = r"\n[replay-shell ended with exit status %s; its message is above. Enter ends the session.]\n"
    script = (
        f"{shell}; code=$?; "
        f"if [ \"$code\" -ne 0 ]; then trap '' INT; printf {shlex.quote(notice)} \"$code\"; read _; fi; "
        f"{end}"
    )
    return shlex.join(["sh", "-c", script])


def hint_binding(hint: str, display: str) -> str:
    """The ``C-b h`` command: ask for a hint; when refused, show replay-hint's own words.

    A revealed hint shows in the HUD, so success says nothing (a tmux message would also freeze
    the HUD's redraws while it is up). ``display`` gets the message as its last argument; tmux
    reads ``#`` in it as a format, so each is doubled.
    """
    said = r'"$(printf %s "${said:-replay-hint failed}" | tr "\n" " " | sed "s/#/##/g")"'
    return f"said=$({hint} 2>&1 >/dev/null) || {display} {said}"


def _reopening(command: str, service: str) -> str:
    """A window command that offers to reopen the service's shell after it ends."""
    prompt = shlex.quote(f"[{inert(service, keep_newlines=False)}: shell ended. Enter reopens it.]")
    return f"while :; do {command}; printf '%s\\n' {prompt}; read _ || break; done"


def _last_line(out: bytes) -> str | None:
    lines = [line.strip() for line in out.decode(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else None


def _parse_state(out: bytes) -> dict[str, Any]:
    data = json.loads(out.decode())
    if not isinstance(data, dict):
        raise ValueError("not an object")
    from datetime import datetime

    for key, value in list(data.items()):
        if key.endswith("_at") or key == "deadline":
            data[key] = datetime.fromisoformat(value) if isinstance(value, str) else value
    return data


def _silence() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            os.dup2(devnull, stream.fileno())
    os.close(devnull)


def _ignore_signals() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)


def _save_tty() -> list[Any] | None:
    try:
        return termios.tcgetattr(sys.stdin.fileno())
    except (termios.error, ValueError, OSError):
        return None


def _restore_tty(mode: list[Any] | None) -> None:
    if mode is not None:
        with contextlib.suppress(termios.error, ValueError, OSError):
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, mode)


main = app
