"""replay-check: is the incident fixed? Once, or watching until the session ends."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from replaybook.commands.common import SessionArgument, emit, handles_errors, make_app, say, session_from

if TYPE_CHECKING:
    from libreplay.session.state import SessionState

app = make_app("Run the success check once (exit 0 fixed, 1 not), or --watch until the session ends.")


@app.command()
@handles_errors
def check(
    session: SessionArgument = None,
    watch: Annotated[bool, typer.Option(help="Keep checking until resolved, timed out or ended.")] = False,
    through_deadline: Annotated[
        bool, typer.Option(help="With --watch: after the deadline, keep watching to note a late fix.")
    ] = False,
    keep_stack: Annotated[
        bool, typer.Option(help="With --watch: on Ctrl-C/SIGTERM leave the stack to the caller.")
    ] = False,
) -> None:
    """Exit 0 when fixed (resolved), 1 otherwise. --watch writes every change to session.toml,
    answers get-hint requests, and on Ctrl-C/SIGTERM tears the stack down (unless --keep-stack)."""
    from libreplay.session import watcher
    from libreplay.session.state import RESOLVED

    session_id = session_from(session)
    if not watch:
        fixed = watcher.check_once(session_id)
        emit("fixed" if fixed else "not fixed")
        raise typer.Exit(0 if fixed else 1)
    state = watcher.watch(
        session_id, through_deadline=through_deadline, down_on_interrupt=not keep_stack, on_change=_report
    )
    emit(state.status)
    raise typer.Exit(0 if state.status == RESOLVED else 1)


def _report(state: SessionState) -> None:
    from libreplay.session.state import RESOLVED

    if state.fixed_late_at is not None:
        say(f"session {state.id}: fixed after the deadline; the outcome stays timeout")
    elif state.status == RESOLVED:
        say(f"session {state.id}: RESOLVED, score {state.score}")
    else:
        say(f"session {state.id}: {state.status.upper()}")


main = app
