"""Running host processes: the one way libreplay starts a child.

Every child of the library starts here, in one of four ways:

- :func:`run`: to completion within a time limit, its output kept or passed on line by line
  (Compose, the scenario scripts, the host tools the doctor and the base image run);
- :func:`reading`: its stdout a byte stream another party consumes, such as the tar of a root
  file system uploaded to the engine;
- :func:`spawn`: a long-running child the caller holds as a :class:`Child`: polled, waited for
  (with a time limit or not), signalled, stopped after a grace period; its stdout kept, thrown
  away or appended to a file (``replaybook run``'s steps: replay-up, the fix watcher, tmux);
- :func:`interactive`: a child on our terminal until it exits (the trainee's shell, a playback).

How a child stands towards us is decided the same way for all of them, here:

- *Its own session* (so a process group of its own): a Ctrl-C on our terminal never reaches
  it, and stopping it (a time limit, an interrupt, :meth:`Child.stop`) stops the whole tree it
  started (a script's `docker compose exec`, a build), never leaving it behind. :func:`run` and
  :func:`reading` always start one so. A child on our terminal instead shares our process group,
  so it can read the terminal and the terminal's signals reach it as they reach us; it is then
  signalled alone, never our group.
- *Dying with us*: when this process itself is killed (SIGKILL: no clean-up of ours can run),
  its children go too. Each gets a parent-death signal (``PR_SET_PDEATHSIG``), and since that
  signal reaches only the child itself, never what it started (a script's ``docker compose
  exec``), a small reaper process (``sh``, one per process, started with the first child that
  needs it) holds each such child's process group and kills the groups still listed once our
  end of its pipe closes. The children of :func:`run` and :func:`reading` always die with us;
  a :func:`spawn` caller may say otherwise (``dies_with_us=False``) for a child that is to
  outlive a SIGKILL of ours; an :func:`interactive` child never does: a tmux client or a shell
  killed while the terminal is in raw mode would leave the terminal unusable.
- *Stopping* it: SIGTERM, a grace period, then SIGKILL (:func:`_terminate`).

:func:`run` and :func:`reading` are built on ``sh`` rather than on ``subprocess`` because ``sh``
already does, in one call, most of what they need: a session of its
own, a pre-exec hook, line callbacks for stdout and stderr read by one thread of its own (so a
caller's progress lines arrive in order, without reader threads of ours), any descriptor as
stdout (a pipe we read), and death by a signal reported as an exit status. The time limit is
a timer of ours (:class:`_Child`): sh's own looks every 0.1 s whether the child is done, which
held every child, however quick, for at least 0.1 s.

:func:`spawn` and :func:`interactive` are built on :class:`subprocess.Popen`, because ``sh``
cannot serve them: its one mode that leaves a child our terminal in the foreground (``_fg``)
takes no pre-exec hook and gives no handle, and every child it starts in the background gets
SIGHUP ignored, where a child on the terminal must end when the terminal hangs up, as we do.
``Popen`` starts a child with our signal dispositions otherwise (a signal we ignore stays
ignored: ``replaybook run``'s clean-up relies on that for replay-down), SIGPIPE back to its
default, and none of our other descriptors. Both engines share the bookkeeping above: the
pre-exec hook (:func:`_die_with`), the reaper's list (:class:`_Tracked`) and the stopping.
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
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, Literal, overload

from libreplay.core.errors import EnvironmentProblem, ReplayError, ScenarioFailure

if TYPE_CHECKING:
    import sh  # imported where a child starts: a command that starts none (--help, list) never loads it

OUTPUT_TAIL_LINES = 15
CHUNK_BYTES = 64 * 1024  # what reading() hands on, and a kept stdout is read, at a time
TREE_GRACE_SECONDS = 2.0  # run, reading (time limit, stop): SIGTERM, then SIGKILL, each has that long


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
    own_session: bool = True,
) -> Completed:
    """Run ``argv`` to completion (any exit status) within ``timeout`` seconds.

    ``on_stderr`` sees each line of stderr as it comes; with ``stream_stdout`` it sees stdout's
    lines too (compose prints build progress on stdout when the classic builder runs).
    ``own_session=False`` keeps the child in our session and process group, so it keeps our
    terminal (``sudo`` in a doctor's fix can ask for a password on it); a timeout or an
    interrupt then stops the child alone, not what it started.
    The child's stdin is an empty pipe: nothing it runs can wait for an answer.
    """
    err_lines: list[str] = []
    out_lines: list[str] = []
    child = _Child.start(argv, timeout=timeout, cwd=cwd, env=env, own_session=own_session,
                         stdout=_collector(out_lines, on_stderr) if stream_stdout else None,
                         stderr=_collector(err_lines, on_stderr))
    exit_code = child.wait()
    if stream_stdout:
        stdout = "".join(out_lines)
    else:
        captured = child.running.stdout
        stdout = captured.decode(errors="replace") if isinstance(captured, bytes) else ""
    return child.completed(exit_code, stdout=stdout, stderr="".join(err_lines))


def _collector(into: list[str], on_line: Callable[[str], None] | None) -> Callable[[str], None]:
    """A line callback for ``sh``: keeps each line, and passes it on (without its newline)."""

    def collect(line: str) -> None:
        into.append(line)
        if on_line is not None:
            on_line(line.rstrip("\n"))

    return collect


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
    read_end, write_end = os.pipe()
    try:
        child = _Child.start(argv, timeout=timeout, cwd=cwd, env=env, stdout=write_end,
                             stderr=_collector(err_lines, on_stderr))
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


# -- a child the caller holds ----------------------------------------------------------------


class Stream(Enum):
    """Where a :func:`spawn` child's stdin, stdout or stderr goes (a :class:`Path`: appended to)."""

    INHERIT = "inherit"  # ours: the terminal, for a child on it
    DISCARD = "discard"  # /dev/null
    CAPTURE = "capture"  # stdout only: kept, see Child.output()


INHERIT: Final = Stream.INHERIT
DISCARD: Final = Stream.DISCARD
CAPTURE: Final = Stream.CAPTURE


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    stdin: Literal[Stream.INHERIT, Stream.DISCARD] = INHERIT,
    stdout: Stream | Path = INHERIT,
    stderr: Literal[Stream.INHERIT, Stream.DISCARD] | Path = INHERIT,
    own_session: bool = True,
    dies_with_us: bool = True,
) -> Child:
    """Start ``argv`` and return at once; the :class:`Child` is the caller's to wait for or stop.

    ``own_session``: it leads a session (a process group) of its own, out of reach of our
    terminal's Ctrl-C, and :meth:`Child.signal` and :meth:`Child.stop` reach its whole group.
    False: it shares our process group, and so our terminal (it can read the keyboard), and is
    signalled alone. ``dies_with_us``: it is killed when we are (see the module's docstring);
    the parent-death signal comes when the *thread* that started it ends, so a tied child that
    is to run long is started from a thread that lives as long (the main thread).
    ``env``: its whole environment (None: ours). A program that is not there is
    EnvironmentProblem.
    """
    with ExitStack() as files:  # a log file is the child's once it has started: ours is closed
        into = [_popen_stream(target, files) for target in (stdin, stdout, stderr)]
        try:
            popen = subprocess.Popen(
                list(argv),
                stdin=into[0],
                stdout=into[1],
                stderr=into[2],
                env=dict(env) if env is not None else None,
                start_new_session=own_session,
                # Python in the child before exec, as sh runs its own: the hook only calls prctl.
                preexec_fn=_die_with(os.getpid()) if dies_with_us else None,  # noqa: PLW1509
            )  # fmt: skip
        except FileNotFoundError as exc:
            raise _not_installed(argv[0]) from exc
    return Child(argv, popen, own_session=own_session, dies_with_us=dies_with_us)


def interactive(argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> int:
    """Run ``argv`` on our terminal until it exits; its exit status (-N: killed by signal N).

    It shares our process group (it reads the keyboard; the terminal's signals reach it as they
    reach us) and is never tied to us: a tmux client, a shell or a player killed while the
    terminal is in raw mode would leave the terminal unusable, while the terminal's own hang-up
    ends it as it ends us. Should our wait be interrupted, it is killed (SIGKILL) before the
    interrupt goes on; after a Ctrl-C, which reached it too, ``Popen.wait`` has given it a
    quarter of a second to end on its own first.
    """
    child = spawn(argv, env=env, own_session=False, dies_with_us=False)
    try:
        return child.wait()
    except BaseException:
        child.signal(signal.SIGKILL)
        child.wait()
        raise


def _popen_stream(target: Stream | Path, files: ExitStack) -> int | IO[bytes] | None:
    if isinstance(target, Path):
        return files.enter_context(target.open("ab"))
    return {Stream.INHERIT: None, Stream.DISCARD: subprocess.DEVNULL, Stream.CAPTURE: subprocess.PIPE}[target]


def _not_installed(program: str) -> EnvironmentProblem:
    return EnvironmentProblem(f"{program} is not installed", hint="replaybook doctor")


class _Tracked:
    """What this module keeps of every child, however it was started (``sh`` or ``Popen``).

    A child that leads a process group of its own and is to die with us is on the reaper's list
    from its start until it is reaped (:meth:`_reaped`, once): only then is its group no longer
    ours to kill. A child in our own process group is never listed: its group is ours.
    """

    def __init__(self, argv: Sequence[str], pid: int, *, listed: bool) -> None:
        self.argv = tuple(argv)
        self.pid = pid
        self.started = time.monotonic()
        self._listed = listed
        self._lock = threading.Lock()
        self._done = False
        if listed:
            _reaper_watch(pid)

    def _reaped(self) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
        if self._listed:
            _reaper_forget(self.pid)


class Child(_Tracked):
    """A child started by :func:`spawn`. Safe to poll from one thread while another waits."""

    def __init__(
        self, argv: Sequence[str], popen: subprocess.Popen[bytes], *, own_session: bool, dies_with_us: bool
    ) -> None:
        super().__init__(argv, popen.pid, listed=own_session and dies_with_us)
        self.own_session = own_session
        self._popen = popen
        self._stdout: list[bytes] = []
        self._reader: threading.Thread | None = None
        if popen.stdout is not None:
            # Read as it comes, so a child never blocks on a full pipe, whoever waits for it.
            self._reader = threading.Thread(target=_read_all, args=(popen.stdout, self._stdout),
                                            name=f"stdout of {self.argv[0]}", daemon=True)
            self._reader.start()

    def poll(self) -> int | None:
        """None while it runs, else its exit status (-N: killed by signal N)."""
        code = self._popen.poll()
        if code is not None:
            self._reaped()
        return code

    @overload
    def wait(self) -> int: ...

    @overload
    def wait(self, timeout: float | None) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int | None:
        """Its exit status once it has exited; None if it still runs after ``timeout`` seconds.

        A signal handler of ours that raises (Ctrl-C) interrupts the wait, not the child."""
        try:
            code = self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._reaped()
        return code

    def signal(self, sig: int) -> None:
        """Send ``sig`` to its process group if it leads one, else to it alone; once it has
        ended, to nothing."""
        self._send(sig)

    def stop(self, grace: float) -> None:
        """SIGTERM, ``grace`` seconds to end, then SIGKILL; returns once it is reaped."""
        _terminate(self._send, lambda seconds: self.wait(seconds) is not None,
                   grace=grace, after_kill=None)

    def output(self, timeout: float | None = None) -> bytes:
        """All it wrote to stdout (``stdout=CAPTURE``). Waits until the pipe ends, which comes
        when it has exited (and whatever it started holding that stdout has too), or at most
        ``timeout`` seconds: then what came so far."""
        if self._reader is None:
            raise ValueError(f"the stdout of {self.argv[0]} was not kept (spawn(..., stdout=CAPTURE))")
        self._reader.join(timeout)
        return b"".join(self._stdout)

    def _send(self, sig: int) -> bool:
        """``sig`` sent; False when there was nothing left to send it to."""
        if self.poll() is not None:
            return False
        try:
            if self.own_session:
                os.killpg(self.pid, sig)
            else:
                os.kill(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            return False
        return True


def _read_all(pipe: IO[bytes], into: list[bytes]) -> None:
    with pipe:
        for chunk in iter(lambda: os.read(pipe.fileno(), CHUNK_BYTES), b""):
            into.append(chunk)


# -- a child run to its end (run, reading) ----------------------------------------------------


class _Child(_Tracked):
    """One child of :func:`run` or :func:`reading`: in a session of its own, dying with us."""

    def __init__(
        self, argv: Sequence[str], running: sh.RunningCommand, timeout: float, *, own_session: bool
    ) -> None:
        super().__init__(argv, running.pid, listed=own_session)
        self.running = running
        self.timeout = timeout
        # Leading a session of its own, its pid is its group; otherwise its group is ours.
        self.group = running.pid if own_session else None
        # The time limit is a timer of ours, not sh's ``_timeout``: sh's thread for it looks
        # every 0.1 s whether the child is done, so each child would cost at least 0.1 s.
        self.expired = threading.Event()
        self._timer = threading.Timer(timeout, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        """Past the time limit (in the timer's thread): the child's tree is stopped at once, not
        the child alone (what it started holds its output open, so waiting for the child would
        wait for them too): SIGTERM, TREE_GRACE_SECONDS to end, then SIGKILL, so a child that
        ignores SIGTERM (a check.sh with ``trap '' TERM``) cannot hold wait() forever. wait()
        then raises ProcessTimeout."""
        self.expired.set()
        _stop_by(self._signal_unless_reaped)

    def _signal_unless_reaped(self, sig: int) -> bool:
        """``sig`` to the child's group (or the child alone); False once it has been reaped:
        its pid may then be another process's. Under the lock :meth:`_reaped` takes, so the two
        cannot cross. A group outlives its leader's reaping by sh's thread while what the leader
        started still runs (the kernel keeps the group's id theirs), so only a lone child is also
        checked against sh's own record of its exit."""
        with self._lock:
            if self._done:
                return False
            if self.group is not None:
                return _signal_group(self.group, sig)
            if self.running.process.exit_code is not None:
                return False
            return _signal_pid(self.pid, sig)

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
        own_session: bool = True,
    ) -> _Child:
        """``stdout``/``stderr``: a callback for each line, a descriptor, or None to capture."""
        import sh

        try:
            command = sh.Command(argv[0])
        except sh.CommandNotFound as exc:
            raise _not_installed(argv[0]) from exc
        running = command(
            *argv[1:],
            _bg=True,
            _bg_exc=False,
            _new_session=own_session,
            _tty_out=False,
            # Any exit status is an answer, also death by a signal (sh reports it as -N).
            _ok_code=[*range(256), *(-sig for sig in range(1, 65))],
            _cwd=str(cwd) if cwd else None,
            _env=dict(env) if env is not None else dict(os.environ),
            _err=stderr,
            _out=stdout,
            _decode_errors="replace",
            _preexec_fn=_die_with(os.getpid()),
        )
        return cls(argv, running, timeout, own_session=own_session)

    def wait(self) -> int:
        """The exit status (-N: killed by signal N). Past the time limit, or on an interrupt, the
        whole tree is killed first (ProcessTimeout, or the interrupt itself)."""
        try:
            self.running.wait()
        except BaseException:
            self.stop()  # an interrupt: nothing we started may outlive us
            raise
        finally:
            self._timer.cancel()
        if self.expired.is_set():
            self.stop()  # what the child started may still run
            raise self.timed_out()
        self._reaped()
        return int(self.running.exit_code or 0)

    def stop(self) -> None:
        """Kill the child's tree unless it was waited for already; reap it."""
        if self._done:
            return
        _stop_by(self._signal_unless_reaped)
        self._timer.cancel()
        self.running.wait()  # dead by now: this only reaps it
        self._reaped()

    def timed_out(self) -> ProcessTimeout:
        shown = " ".join(self.argv)
        return ProcessTimeout(f"`{shown}` did not finish within {self.timeout:g} s and was stopped")

    def completed(self, exit_code: int, *, stdout: str, stderr: str) -> Completed:
        return Completed(argv=self.argv, exit_code=exit_code, stdout=stdout, stderr=stderr,
                         seconds=time.monotonic() - self.started)


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


def _terminate(
    send: Callable[[int], bool],
    gone_within: Callable[[float | None], bool],
    *,
    grace: float,
    after_kill: float | None,
) -> None:
    """The one way a child is stopped: SIGTERM, ``grace`` seconds to end, then SIGKILL and
    ``after_kill`` seconds (None: as long as it takes) for the end to be seen.

    ``send`` delivers a signal (False: nothing was left to deliver it to); ``gone_within``
    waits up to that long for the end (True once it has come).
    """
    for sig, patience in ((signal.SIGTERM, grace), (signal.SIGKILL, after_kill)):
        if not send(sig) or gone_within(patience):
            return


def _stop_by(send: Callable[[int], bool]) -> None:
    """Stop what ``send`` signals (a group, or one process), seeing its end by signal 0."""
    _terminate(send, lambda seconds: _gone_within(send, seconds),
               grace=TREE_GRACE_SECONDS, after_kill=TREE_GRACE_SECONDS)


def _signal_pid(pid: int, sig: int) -> bool:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _signal_group(group: int, sig: int) -> bool:
    try:
        os.killpg(group, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _gone_within(send: Callable[[int], bool], seconds: float | None) -> bool:
    deadline = time.monotonic() + (seconds if seconds is not None else float("inf"))
    while send(0):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True
