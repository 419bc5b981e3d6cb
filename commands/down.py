"""replay-down: tear a session's stack down and record how it ended."""

from __future__ import annotations

from typing import Annotated

import typer

from replaybook.commands.common import (
    JsonOption,
    SessionArgument,
    emit,
    emit_json,
    emit_session,
    handles_errors,
    make_app,
    say,
    session_from,
)

app = make_app("Tear a session's stack down (containers, networks, volumes) and record its outcome.")


@app.command()
@handles_errors
def down(
    session: SessionArgument = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Every session of this home, orphans included.")
    ] = False,
    json_: JsonOption = False,
) -> None:
    """A session still being played is recorded as abandoned. Prints the session id (or, with
    --json, its final state)."""
    from libreplay.session import lifecycle as sessions

    if all_:
        removed = sessions.down_all()
        for session_id in removed:
            say(f"removed session {session_id}")
        if json_:
            emit_json(removed)
        else:
            for session_id in removed:
                emit(session_id)
        return
    state = sessions.down(session_from(session))
    say(f"session {state.id} is down ({state.outcome or state.status})")
    emit_session(state, json_)


main = app
