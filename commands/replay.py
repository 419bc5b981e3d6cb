"""replay-replay (replaybook replay): play a recorded session back in the terminal."""

from __future__ import annotations

from typing import Annotated

import typer

from replaybook.commands.common import emit, handles_errors, make_app, table_lines

app = make_app("Play back a recorded window of a session (an asciicast v2 file).")


@app.command()
@handles_errors
def replay(
    session: Annotated[str, typer.Argument(help="A session id, or the path of a .cast file.")],
    speed: Annotated[float, typer.Option("--speed", "-s", min=0.01, help="Playback speed factor.")] = 1.0,
    idle_limit: Annotated[
        float | None, typer.Option("--idle-limit", help="Cap pauses at this many seconds.")
    ] = 2.0,
    window: Annotated[
        str, typer.Option("--window", "-w", help="The window: shell (the trainee's, default) or a service's.")
    ] = "shell",
    list_: Annotated[
        bool, typer.Option("--list", help="List the session's recorded windows instead.")
    ] = False,
) -> None:
    """Play SESSION's transcript (one window of it); Ctrl-C stops, space pauses (asciinema play).
    --list prints a table of the recorded windows and their files."""
    from libreplay.play.transcripts import play_back, recorded_windows, transcript_for

    if list_:
        windows = recorded_windows(session)
        if not windows:
            transcript_for(session)  # the error that says there is no recording
        for line in table_lines(["WINDOW", "FILE"], [(name, str(path)) for name, path in windows.items()]):
            emit(line)
        return
    code = play_back(transcript_for(session, window), speed=speed, idle_limit=idle_limit)
    if code:
        raise typer.Exit(code)


main = app
