"""Running host processes: the one way libreplay starts a child, with a timeout, always reaped.

Every child of the library starts here: Compose and the scenario scripts (:func:`run`), the host
tools the doctor and the base image run with their output passed on line by line (:func:`run`
with ``on_stderr`` and ``stream_stdout``), and a child whose output is a byte stream another
party consumes, such as the tar of a root file system uploaded to the engine (:func:`reading`).

It is built on ``sh`` rather than on ``subprocess`` because ``sh`` already does, in one call,
what every caller here needs: a time limit that stops the child, a session (so a process group)
of its own, a pre-exec hook, line callbacks for stdout and stderr read by one thread of its own
(so a caller's progress lines arrive in order, without reader threads of ours), any descriptor
as stdout (a pipe we read), and death by a signal reported as an exit status. On
``subprocess`` each of those is code of ours: reader threads, a timer, the group handling.

Each child runs in its own process group, so a timeout or an interrupt kills the whole
tree it started (a script's `docker compose exec`, a build) and never leaves it behind.

When this process itself is killed (SIGKILL: no clean-up of ours can run) its children go
too: each child gets a parent-death signal (``PR_SET_PDEATHSIG``), and since that signal
reaches only the child itself, never what it started (a script's ``docker compose exec``),
a small reaper process (``sh``, one per process, started with the first child) holds each
child's process group and kills the groups still listed once our end of its pipe closes.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sh

from libreplay.core.errors import EnvironmentProblem, ReplayError, ScenarioFailure

OUTPUT_TAIL_LINES = 15
CHUNK_BYTES = 64 * 1024  # what reading() hands on at a time


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def how_it_ended(self) -> str:
        if self.exit_code < 0:
            return f"was killed by signal {-self.exit_code}"
        return f"exited {self.exit_code}"

    def tail(self, lines: int = OUTPUT_TAIL_LINES) -> str:
        """The last lines of output, for an error message."""
        text = (self.stdout + self.stderr).strip().splitlines()
        return "\n".join(text[-lines:])


class ProcessTimeout(ScenarioFailure):
    """A script or command ran past its time limit and was killed."""


class ProcessFailed(ReplayError):
    """A child whose output was being read (:func:`reading`) did not exit 0; ``completed`` says how."""

    def __init__(self, completed: Completed) -> None:
        shown = " ".join(completed.argv)
        tail = completed.tail()
        super().__init__(f"`{shown}` {completed.how_it_ended}" + (f": {tail}" if tail else ""))
        self.completed = completed


def run(
    argv: Sequence[str],
    *,
    timeout: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    on_stderr: Callable[[str], None] | None = None,
    stream_stdout: bool = False,
) -> Completed:
    """Run ``argv`` to completion (any exit status) within ``timeout`` seconds.

    ``on_stderr`` sees each line of stderr as it comes; with ``stream_stdout`` it sees stdout's
    lines too (compose prints build progress on stdout when the classic builder runs).
    The child's stdin is an empty pipe: nothing it runs can wait for an answer.
    """
    err_lines: list[str] = []
    out_lines: list[str] = []

    def collect_stdout(line: str) -> None:
        out_lines.append(line)
        if on_stderr is not None:
            on_stderr(line.rstrip("\n"))

    def collect_stderr(line: str) -> None:
        err_lines.append(line)
        if on_stderr is not None:
            on_stderr(line.rstrip("\n"))

    child = _Child.start(argv, timeout=timeout, cwd=cwd, env=env,
                         stdout=collect_stdout if stream_stdout else None, stderr=collect_stderr)
    exit_code = child.wait()
    if stream_stdout:
        stdout = "".join(out_lines)
    else:
        captured = child.running.stdout
        stdout = captured.decode(errors="replace") if isinstance(captured, bytes) else ""
    return child.completed(exit_code, stdout=stdout, stderr="".join(err_lines))


@contextmanager
def reading(
    argv: Sequence[str],
    *,
    timeout: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    on_stderr: Callable[[str], None] | None = None,
) -> Iterator[Iterator[bytes]]:
    """Start ``argv`` and give its stdout as chunks of bytes, as the child writes them.

    The chunks end only when the child has exited 0: a child that failed raises
    :class:`ProcessFailed` (with its stderr) and one past ``timeout`` :class:`ProcessTimeout`
    from the iteration itself, so whoever consumes the bytes (an upload) never takes a cut
    stream for a whole one. Leaving the block stops the child's whole tree if it still runs.
    ``on_stderr`` sees each line of stderr as it comes.
    """
    err_lines: list[str] = []

    def collect_stderr(line: str) -> None:
        err_lines.append(line)
        if on_stderr is not None:
            on_stderr(line.rstrip("\n"))

    read_end, write_end = os.pipe()
    try:
        child = _Child.start(argv, timeout=timeout, cwd=cwd, env=env, stdout=write_end,
                             stderr=collect_stderr)
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)  # the child holds its own copy: the end of file comes when it is done
    pipe = os.fdopen(read_end, "rb", buffering=0)

    def chunks() -> Iterator[bytes]:
        while True:
            # A deadline of our own for the wait: the child's time limit stops the child only,
            # and something it started could keep the pipe open long after.
            left = child.started + timeout - time.monotonic()
            if not select.select([pipe], [], [], max(0.0, left))[0]:
                child.stop()
                raise child.timed_out()
            chunk = pipe.read(CHUNK_BYTES)
            if not chunk:
                break
            yield chunk
        completed = child.completed(child.wait(), stdout="", stderr="".join(err_lines))
        if not completed.ok:
            raise ProcessFailed(completed)

    try:
        yield chunks()
    finally:
        child.stop()  # first: a reader still blocked on the pipe then sees its end
        pipe.close()


class _Child:
    """One running child: in a session of its own, watched by the reaper until it is waited for."""

    def __init__(self, argv: Sequence[str], running: sh.RunningCommand, timeout: float) -> None:
        self.argv = tuple(argv)
        self.running = running
        self.timeout = timeout
        self.started = time.monotonic()
        self.group = running.pid  # it leads a session, so its pid is its group
        self._lock = threading.Lock()
        self._done = False
        _reaper_watch(self.group)

    @classmethod
    def start(
        cls,
        argv: Sequence[str],
        *,
        timeout: float,
        cwd: Path | None,
        env: Mapping[str, str] | None,
        stdout: Any,
        stderr: Any,
    ) -> _Child:
        """``stdout``/``stderr``: a callback for each line, a descriptor, or None to capture."""
        try:
            command = sh.Command(argv[0])
        except sh.CommandNotFound as exc:
            raise EnvironmentProblem(f"{argv[0]} is not installed", hint="replaybook doctor") from exc
        running = command(
            *argv[1:],
            _bg=True,
            _bg_exc=False,
            _new_session=True,
            _tty_out=False,
            # Any exit status is an answer, also death by a signal (sh reports it as -N).
            _ok_code=[*range(256), *(-sig for sig in range(1, 65))],
            _cwd=str(cwd) if cwd else None,
            _env=dict(env) if env is not None else dict(os.environ),
            _err=stderr,
            _out=stdout,
            _decode_errors="replace",
            _timeout=timeout,
            _timeout_signal=signal.SIGTERM,
            _preexec_fn=_die_with(os.getpid()),
        )
        return cls(argv, running, timeout)

    def wait(self) -> int:
        """The exit status (-N: killed by signal N). Past the time limit, or on an interrupt, the
        whole tree is killed first (ProcessTimeout, or the interrupt itself)."""
        try:
            self.running.wait()
        except sh.TimeoutException:
            self.stop()
            raise self.timed_out() from None
        except BaseException:
            self.stop()  # an interrupt: nothing we started may outlive us
            raise
        self._forget()
        return int(self.running.exit_code or 0)

    def stop(self) -> None:
        """Kill the child's tree unless it was waited for already; reap it."""
        if self._done:
            return
        _kill_tree(self.group)
        with suppress(sh.TimeoutException):
            self.running.wait()  # dead by now: this only reaps it
        self._forget()

    def timed_out(self) -> ProcessTimeout:
        shown = " ".join(self.argv)
        return ProcessTimeout(f"`{shown}` did not finish within {self.timeout:g} s and was stopped")

    def completed(self, exit_code: int, *, stdout: str, stderr: str) -> Completed:
        return Completed(argv=self.argv, exit_code=exit_code, stdout=stdout, stderr=stderr,
                         seconds=time.monotonic() - self.started)

    def _forget(self) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
        _reaper_forget(self.group)


# -- when we are killed ----------------------------------------------------------------------

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

# The reaper: reads "+GROUP" and "-GROUP" lines; at end of input (we are gone, however we
# went) it stops every group still listed: SIGTERM, a second's grace, SIGKILL. Stop signals
# are ignored, and it runs in a session of its own, so the Ctrl-C meant for us spares it.
_REAPER_SCRIPT = """
trap '' HUP INT TERM
groups=' '
while read -r line; do
  group=${line#?}
  case $line in
    +*) groups="$groups$group " ;;
    -*) groups="${groups%% $group *} ${groups#* $group }" ;;
  esac
done
[ -n "${groups# }" ] || exit 0
for group in $groups; do kill -TERM -"$group" 2>/dev/null; done
sleep 1
for group in $groups; do kill -KILL -"$group" 2>/dev/null; done
"""

_reaper_lock = threading.Lock()
_reaper_pipe: dict[int, int] = {}  # our pid -> the write end of that process's reaper's input


def _die_with(parent: int) -> Callable[[], None]:
    """A pre-exec hook (it runs in the child): SIGKILL the child when ``parent`` dies."""

    # Looked up here, in the parent: loading a library between fork and exec could deadlock.
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)

    return preexec


def _reaper_watch(group: int) -> None:
    _reaper_send(f"+{group}\n")


def _reaper_forget(group: int) -> None:
    _reaper_send(f"-{group}\n")


def _reaper_send(line: str) -> None:
    """One short line: a single write below PIPE_BUF, so lines from threads never mix."""
    with _reaper_lock:
        pipe = _reaper_pipe.get(os.getpid())
        if pipe is None:
            pipe = _reaper_pipe[os.getpid()] = _start_reaper()
    # A killed reaper (EPIPE): the parent-death signal still covers our direct children.
    with suppress(OSError):
        os.write(pipe, line.encode())


def _start_reaper() -> int:
    read_end, write_end = os.pipe()  # neither end is inherited by what we run later
    try:
        os.posix_spawnp(
            "sh", ["sh", "-c", _REAPER_SCRIPT], dict(os.environ),
            file_actions=[
                (os.POSIX_SPAWN_DUP2, read_end, 0),
                (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
            ],
            setsid=True,
        )  # fmt: skip
    finally:
        os.close(read_end)
    return write_end


# -- stopping what we started -----------------------------------------------------------------


def _kill_tree(group: int) -> None:
    """Kill a child's whole process group (it leads a session of its own)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(group, sig)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            if not _group_alive(group):
                return
            time.sleep(0.05)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def stop_process(child: subprocess.Popen[str] | subprocess.Popen[bytes], *, grace: float) -> None:
    """Ask a child to stop (SIGTERM), give it ``grace`` seconds, then kill it; always reap it.

    Only for the long-running children ``replaybook run`` still starts itself (commands/run.py:
    the watcher, the tmux client on the terminal); nothing of the library starts one that way.
    """
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
