"""replay-replay (replaybook replay): play a recorded session back in the terminal."""

from __future__ import annotations

from typing import Annotated

import typer

from replaybook.commands.common import handles_errors, make_app

app = make_app("Play back the recorded shell of a session (an asciicast v2 file).")


@app.command()
@handles_errors
def replay(
    session: Annotated[str, typer.Argument(help="A session id, or the path of a .cast file.")],
    speed: Annotated[float, typer.Option("--speed", "-s", min=0.01, help="Playback speed factor.")] = 1.0,
    idle_limit: Annotated[
        float | None, typer.Option("--idle-limit", help="Cap pauses at this many seconds.")
    ] = 2.0,
) -> None:
    """Play SESSION's transcript; Ctrl-C stops, space pauses (asciinema play)."""
    from libreplay.play.transcripts import play_back, transcript_for

    code = play_back(transcript_for(session), speed=speed, idle_limit=idle_limit)
    if code:
        raise typer.Exit(code)


main = app
