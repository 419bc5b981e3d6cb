"""Running host processes (docker compose, scenario scripts) with a timeout, always reaped.

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
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import sh

from libreplay.core.errors import EnvironmentProblem, ScenarioFailure

OUTPUT_TAIL_LINES = 15


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
    """
    started = time.monotonic()
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
        _err=collect_stderr,
        _out=collect_stdout if stream_stdout else None,
        _decode_errors="replace",
        _timeout=timeout,
        _timeout_signal=signal.SIGTERM,
        _preexec_fn=_die_with(os.getpid()),
    )
    group = running.pid  # it leads a session, so its pid is its group
    _reaper_watch(group)
    try:
        running.wait()
    except sh.TimeoutException:
        _kill_tree(running)
        shown = " ".join(argv)
        raise ProcessTimeout(f"`{shown}` did not finish within {timeout:g} s and was stopped") from None
    except BaseException:
        _kill_tree(running)  # an interrupt: nothing we started may outlive us
        raise
    finally:
        _reaper_forget(group)
    if stream_stdout:
        stdout = "".join(out_lines)
    else:
        stdout = running.stdout.decode(errors="replace") if isinstance(running.stdout, bytes) else ""
    return Completed(
        argv=tuple(argv),
        exit_code=int(running.exit_code or 0),
        stdout=stdout,
        stderr="".join(err_lines),
        seconds=time.monotonic() - started,
    )


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


def _kill_tree(running: sh.RunningCommand) -> None:
    """Kill the child's whole process group (it leads a session of its own)."""
    group = running.pid
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
    """Ask a child to stop (SIGTERM), give it ``grace`` seconds, then kill it; always reap it."""
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
