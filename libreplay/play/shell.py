"""The trainee's shell in a service container: the ``docker exec`` that opens it, recorded or
not, and reopened when the container dies under it.

:func:`visit` runs the shell until the trainee leaves it (``replay-shell``, the local play's
windows). :class:`ServiceShell` opens the same shell through the engine's exec API for
``replaybook serve``'s browser terminals, which run it in the server's process. Talk goes
through ``say``. While the service is not running the window says so, and why, and waits for
it: a window never waits silently (docs/terminal.md).
"""

from __future__ import annotations

import shlex
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from libreplay.core.errors import EnvironmentProblem, NotFound, ReplayError, SessionError
from libreplay.core.paths import session_dir
from libreplay.core.proc import interactive
from libreplay.engine.docker_api import ExecTerminal, open_exec
from libreplay.session.containers import ServiceContainer, find_container
from libreplay.session.hints import COMMAND_FINISHED, COMMAND_STARTED
from libreplay.session.state import CHANNEL_MOUNT, SessionState, load_session


# One line on PID 1's stdout, the container's log stream, which the watcher follows (as
# get-hint's requests): silent, and harmless when it cannot be written (another user's PID 1).
# The braces take the redirection's own error too; bash keeps $? across PROMPT_COMMAND.
def _announce(marker: str) -> str:
    return f"{{ printf '{marker}\\n' >/proc/1/fd/1; }} 2>/dev/null"


# Prefer bash for its line editing; fall back to sh in minimal images. Interactive but NOT a
# login shell: a login shell runs /etc/profile, which on Debian-based images sets PATH from
# scratch for root and so would drop the hint directory put in front of it. The shell says it
# is busy as it opens; bash then says when each command starts (PS0) and when the prompt is
# back (PROMPT_COMMAND), so the watcher slows its rounds down while the trainee sits at the
# prompt. sh says nothing more (a PS1 trick is unreliable): the watcher keeps it busy, polled.
SHELL_COMMAND = f"{_announce(COMMAND_STARTED)}; command -v bash >/dev/null && exec bash -i || exec sh -i"
SHELL_ANNOUNCEMENTS = {
    "PROMPT_COMMAND": _announce(COMMAND_FINISHED),
    "PS0": f"$({_announce(COMMAND_STARTED)})",  # expanded before each command; prints nothing
}
WAIT_POLL_SECONDS = 1.0  # how often a window waiting for its service looks again
# From this exit status on a shell may have been killed with its container: 125-127 are docker
# exec's own failures, 128+N (and -N from a child we ran) a signal. Below it the trainee left:
# bash's `exit` ends with the last command's status (a failed grep: 1).
MAYBE_KILLED_STATUS = 125
STOPPING_GRACE_SECONDS = 3.0  # how long such a shell's container is given to be seen stopped


# The command the watcher recognises as a trainee's shell (its exec_create event names it:
# session/vitals.py, SHELL_OPENED), whichever way it is opened.
SHELL_ARGV = ["sh", "-c", SHELL_COMMAND]


def shell_environment(container: ServiceContainer) -> dict[str, str]:
    """The shell's environment: the hint channel first on PATH, the announcements of its commands."""
    return {"PATH": f"{CHANNEL_MOUNT}/bin:{container.image_path}", **SHELL_ANNOUNCEMENTS}


def shell_argv(container: ServiceContainer, *, docker_bin: str = "docker") -> list[str]:
    """``docker exec -it`` into the container with :func:`shell_environment` (the container's
    own user, as :class:`ServiceShell`)."""
    env = [arg for name, value in shell_environment(container).items() for arg in ("-e", f"{name}={value}")]
    return [docker_bin, "exec", "-it", *env, container.id, *SHELL_ARGV]


def shell_command_line(container: ServiceContainer, *, docker_bin: str = "docker") -> str:
    """The same as one shell-quoted line (what asciinema's ``-c`` takes)."""
    return shlex.join(shell_argv(container, docker_bin=docker_bin))


def target(session_id: str, service: str | None) -> tuple[SessionState, str]:
    """The session and the service to enter (the scenario's shell service by default)."""
    state = load_session(session_id)
    service = service or state.shell_service
    if service not in state.services:
        known = ", ".join(state.services)
        raise NotFound(f"session {session_id}: no service {service!r} (services: {known})")
    return state, service


def visit(
    state: SessionState,
    service: str,
    *,
    record: Path | None,
    say: Callable[[str], None],
) -> int | None:
    """Enter ``service``'s container and return the shell's exit status once the trainee leaves
    (None when it is not known).

    While the container is not running, and when it stops or restarts under the shell (a
    crash, a stop, a hold's restart), it says what state the service is in and waits until it
    runs again; SessionError once the session has ended meanwhile.
    ``record``: an asciicast v2 file, appended to on each reconnection and when it exists
    already (a window reopened after the trainee left its shell keeps what went before).
    """
    docker = shutil.which("docker")
    if docker is None:
        raise EnvironmentProblem("the docker command is not installed", hint="replaybook doctor says how")
    recorded = record is not None and record.is_file() and record.stat().st_size > 0
    while True:
        container = _wait_until_running(state, service, say)
        code = _run_shell(container, docker, record, append=recorded)
        recorded = record is not None
        # The shell also ends when the container dies under it: offer to reconnect rather than
        # leave the trainee at the host prompt.
        if not _stopped_under(state, container, code):
            return code
        say(stopped_under_line(service))


def stopped_under_line(service: str) -> str:
    return f"The {service} container stopped while you were in it."


class ServiceShell:
    """The trainee's shell in ``service`` as a terminal of the engine's exec API (no docker
    CLI; over ssh:// the SDK's transport runs an ``ssh`` child for its connection): the
    command, environment and user of :func:`shell_argv`, so the watcher tells it apart as it
    does the local one. :meth:`open` waits as :func:`visit` does while the container is not
    running; :meth:`reopen_line` says, once the shell ended, whether the trainee left it or its
    container stopped under it (then it is opened again)."""

    def __init__(self, session_id: str, service: str) -> None:
        self.session_id = session_id
        self.service = service
        self._last: ExecTerminal | None = None
        self._entered: ServiceContainer | None = None  # the container the last shell opened in

    def open(self, rows: int, cols: int, *, say: Callable[[str], None],
             stopped: threading.Event) -> ExecTerminal | None:
        """The shell, once its container runs; None when ``stopped`` is set first."""
        state = load_session(self.session_id)
        while (container := wait_until_running(state, self.service, say, stopped)) is not None:
            try:
                self._last = open_exec(container.id, SHELL_ARGV, env=shell_environment(container),
                                       rows=rows, cols=cols)
                self._entered = container
            except (EnvironmentProblem, NotFound):
                if _still_running(state, self.service):
                    raise
                continue  # it stopped (or went) just now: waited for again, and said
            return self._last
        return None

    def reopen_line(self) -> str | None:
        """None when the trainee left the shell (the container it opened in still runs, not
        restarted since), else what to say before it is opened again."""
        try:
            state = load_session(self.session_id)
        except ReplayError:
            return None  # the session is gone: nothing to reopen
        if self._last is None or self._entered is None:
            return None  # never opened: nothing ended
        stopped = _stopped_under(state, self._entered, self._last.exit_code())
        return stopped_under_line(self.service) if stopped else None


def _wait_until_running(state: SessionState, service: str, say: Callable[[str], None]) -> ServiceContainer:
    found = wait_until_running(state, service, say, threading.Event())
    assert found is not None  # never stopped
    return found


def wait_until_running(state: SessionState, service: str, say: Callable[[str], None],
                       stopped: threading.Event) -> ServiceContainer | None:
    """The service's container once it runs (None when ``stopped`` is set first). Until then:
    one line saying why this window waits (again whenever that changes), and a look once a
    second; the trainee starts a stopped service from the main shell, or its restart policy
    brings it back."""
    said = ""
    while not stopped.is_set():
        container = find_container(state, service)
        if container.running:
            if said:
                say(f"Service {service} is running again: opening its shell.")
            return container
        line = not_running_line(state, container)
        if line != said:
            say(line)
            said = line
        if not session_dir(state.id).is_dir():
            raise SessionError(f"session {state.id} has ended")
        stopped.wait(WAIT_POLL_SECONDS)
    return None


def not_running_line(state: SessionState, container: ServiceContainer) -> str:
    """What a window waiting for ``container``'s service says about it."""
    service = container.service
    code = container.exit_code
    if container.status == "exited":
        how = "is stopped" + (f" (exited with code {code})" if code is not None else "")
    elif container.status == "restarting":
        last = f", last exit code {code}" if code is not None else ""
        how = f"keeps restarting (crash-looping?{last}; `docker logs {service}` shows why)"
    else:
        how = f"is not running ({container.status})"
    if service == state.shell_service:
        then = "this shell opens again once it runs"
    else:
        then = f"start it with `docker start {service}` in the main shell; this window opens once it runs"
    return f"Service {service} {how}: {then}."


def _still_running(state: SessionState, service: str) -> bool:
    try:
        return find_container(state, service).running
    except (NotFound, EnvironmentProblem):
        return False


def _stopped_under(state: SessionState, entered: ServiceContainer, code: int | None) -> bool:
    """Whether a shell opened in ``entered`` ended because its container stopped under it rather
    than by the trainee's `exit`. The container is not running, or runs again since (restarted:
    a new start time; recreated: another container) — a hold's restart can be that quick. The
    engine may report the stop a moment after the shell was killed, so a shell that may have
    been killed (MAYBE_KILLED_STATUS on, or its status unknown) gives it STOPPING_GRACE_SECONDS
    to; one the trainee left is not waited for."""
    maybe_killed = code is None or code < 0 or code >= MAYBE_KILLED_STATUS
    deadline = time.monotonic() + (STOPPING_GRACE_SECONDS if maybe_killed else 0.0)
    while True:
        try:
            now = find_container(state, entered.service)
        except (NotFound, EnvironmentProblem):
            return True
        if not now.running or (now.id, now.started_at) != (entered.id, entered.started_at):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)


def _run_shell(container: ServiceContainer, docker: str, record: Path | None, *, append: bool) -> int | None:
    """The shell's exit status (None when it is not known: asciinema was killed). Raises
    EnvironmentProblem when asciinema failed before running it (its message is on the terminal)."""
    if record is None:
        return interactive(shell_argv(container, docker_bin=docker))
    record.parent.mkdir(parents=True, exist_ok=True)
    mode = "--append" if append else "--overwrite"
    # asciinema exits 0 whatever its command did: the status comes back through a file of ours
    # (the host's temporary directory; the container never sees it).
    with tempfile.TemporaryDirectory(prefix="replaybook-shell-") as private:
        status_file = Path(private) / "status"
        keep_status = f"echo $? >{shlex.quote(str(status_file))}"
        command = f"{shell_command_line(container, docker_bin=docker)}; {keep_status}"
        argv = [sys.executable, "-m", "asciinema", "rec", "--quiet", mode, "-c", command, str(record)]
        recorder = interactive(argv)
        try:
            return int(status_file.read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            if recorder > 0:
                raise EnvironmentProblem(
                    f"recording the shell failed: asciinema exited with status {recorder}",
                    hint="its message is above; replaybook doctor checks asciinema",
                ) from None
            return None  # asciinema itself was killed (or ended at once): not known
