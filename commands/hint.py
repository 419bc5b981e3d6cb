"""replay-hint: reveal the session's next hint."""

from __future__ import annotations

import typer

from replaybook.commands.common import SessionArgument, emit, handles_errors, make_app, say, session_from

app = make_app("Reveal the next hint of a session (printed and recorded).")


@app.command()
@handles_errors
def hint(session: SessionArgument = None) -> None:
    """Print the next hint and count it; exit 1 (and say so) when none are left."""
    from libreplay.session import lifecycle as sessions
    from libreplay.session.hints import NO_MORE_HINTS, format_hint

    revealed = sessions.reveal_hint(session_from(session))
    if revealed is None:
        say(NO_MORE_HINTS)
        raise typer.Exit(1)
    emit(format_hint(revealed))


main = app
