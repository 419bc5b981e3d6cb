"""replay-shell: an interactive shell inside one of a session's service containers."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from replaybook.commands.common import handles_errors, make_app, say

from libreplay.core.errors import EnvironmentProblem, NotFound, SessionError
from libreplay.play.shell import shell_argv, shell_command_line
from libreplay.session.containers import ServiceContainer, find_container
from libreplay.session.state import SessionState

app = make_app("Open a shell inside a service of a session (get-hint works there), optionally recorded.")


@app.command()
@handles_errors
def shell(
    session: Annotated[str, typer.Argument(help="Session id.")],
    service: Annotated[
        str | None, typer.Argument(help="Service to enter; the scenario's shell service by default.")
    ] = None,
    record: Annotated[
        Path | None,
        typer.Option("--record", help="Record the shell with timing to this asciicast v2 file."),
    ] = None,
) -> None:
    """Enter SERVICE's container with docker exec; waits (Enter to retry) while it is not running."""
    from libreplay.session.state import load_session

    state = load_session(session)
    service = service or state.shell_service
    if service not in state.services:
        raise NotFound(f"session {session}: no service {service!r} (services: {', '.join(state.services)})")
    if not sys.stdin.isatty():
        raise EnvironmentProblem("replay-shell needs a terminal (stdin is not a tty)")
    docker = shutil.which("docker")
    if docker is None:
        raise EnvironmentProblem("the docker command is not installed", hint="replaybook doctor says how")
    recorded = False
    while True:
        container = _wait_until_running(state, service)
        code = _run_shell(container, docker, record, append=recorded)
        recorded = record is not None
        # The shell also ends when the container dies under it (a crash, a restart): offer to
        # reconnect rather than leave the trainee at the host prompt.
        if _still_running(state, service):
            raise typer.Exit(code)
        say(f"The {service} container stopped while you were in it.")
        _offer_retry(session, service)


def _wait_until_running(state: SessionState, service: str) -> ServiceContainer:
    while True:
        container = find_container(state, service)
        if container.running:
            return container
        exited = f", exit code {container.exit_code}" if container.exit_code else ""
        say(f"Service {service} is not running ({container.status}{exited}): it may be crash-looping.")
        _offer_retry(state.id, service)


def _offer_retry(session: str, service: str) -> None:
    from libreplay.core.paths import session_dir

    if not session_dir(session).is_dir():
        raise SessionError(f"session {session} has ended")
    if not sys.stdin.isatty():
        raise SessionError(f"service {service} of session {session} is not running")
    say(f"Press Enter to try again (docker logs shows why it stops); Ctrl-C to give up.  [{service}]")
    try:
        input()
    except EOFError:
        raise SessionError(f"service {service} of session {session} is not running") from None


def _still_running(state: SessionState, service: str) -> bool:
    try:
        return find_container(state, service).running
    except (NotFound, EnvironmentProblem):
        return False


def _run_shell(container: ServiceContainer, docker: str, record: Path | None, *, append: bool) -> int:
    if record is None:
        return subprocess.call(shell_argv(container, docker_bin=docker))
    record.parent.mkdir(parents=True, exist_ok=True)
    mode = "--append" if append else "--overwrite"
    argv = [sys.executable, "-m", "asciinema", "rec", "--quiet", mode,
            "-c", shell_command_line(container, docker_bin=docker), str(record)]
    return subprocess.call(argv)


main = app
