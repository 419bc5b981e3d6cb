"""replay-shell: an interactive shell inside one of a session's service containers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from libreplay.core.errors import EnvironmentProblem
from replaybook.commands.common import handles_errors, make_app, say

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
    """Enter SERVICE's container with docker exec; while it is not running, says so and waits.
    Exits 0 once the trainee leaves the shell, whatever its last command's status."""
    from libreplay.play import shell as trainee_shell

    state, service = trainee_shell.target(session, service)
    if not sys.stdin.isatty():
        raise EnvironmentProblem("replay-shell needs a terminal (stdin is not a tty)")
    # The shell's own status is the trainee's last command's: not ours to report (it would read
    # as one of our documented failures, and the play's pane would stop on it).
    trainee_shell.visit(state, service, record=record, say=say)


main = app
