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
    """Enter SERVICE's container with docker exec; while it is not running, says so and waits."""
    from libreplay.play import shell as trainee_shell

    state, service = trainee_shell.target(session, service)
    if not sys.stdin.isatty():
        raise EnvironmentProblem("replay-shell needs a terminal (stdin is not a tty)")
    code = trainee_shell.visit(state, service, record=record, say=say)
    raise typer.Exit(code)


main = app
