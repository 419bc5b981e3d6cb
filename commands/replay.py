"""replay-replay (replaybook replay): play a recorded session back in the terminal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from replaybook.commands.common import handles_errors, make_app

from libreplay.core.errors import InvalidInput, NotFound

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
    import tempfile

    from libreplay.play.transcripts import filtered_copy

    cast = transcript_for(session)
    argv = [sys.executable, "-m", "asciinema", "play", "-s", str(speed)]
    if idle_limit is not None:
        argv += ["-i", str(idle_limit)]
    with tempfile.TemporaryDirectory(prefix="replaybook-replay-") as scratch:
        # What the container printed may act on this terminal (clipboard, title): played filtered.
        safe = Path(scratch) / cast.name
        filtered_copy(cast, safe)
        code = subprocess.call([*argv, str(safe)])
    if code:
        raise typer.Exit(code)


def transcript_for(name: str) -> Path:
    """A .cast path as given, else the transcript of the session with that id."""
    from libreplay.core.paths import transcript_path

    given = Path(name).expanduser()
    if name.endswith(".cast") or given.is_file():
        if not given.is_file():
            raise NotFound(f"{given}: no such transcript file")
        _check_asciicast(given)
        return given
    cast = transcript_path(name)
    if not cast.is_file():
        raise NotFound(
            f"no transcript for session {name!r} (looked for {cast})",
            hint="only sessions started with `replaybook run` are recorded",
        )
    _check_asciicast(cast)
    return cast


def _check_asciicast(path: Path) -> None:
    import json

    try:
        with path.open(encoding="utf-8") as handle:
            header = json.loads(handle.readline() or "null")
    except (UnicodeDecodeError, json.JSONDecodeError):
        header = None
    if not isinstance(header, dict) or header.get("version") != 2:
        raise InvalidInput(f"{path}: not an asciicast v2 recording (first line must be its JSON header)")


main = app
