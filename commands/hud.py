"""replay-hud: the trainee's heads-up display for a session (incident, SLA countdown, hints)."""

from __future__ import annotations

from typing import Annotated

import typer

from replaybook.commands.common import handles_errors, make_app

app = make_app("Show a session's incident page, SLA countdown and hints; redraws as the session changes.")


@app.command()
@handles_errors
def hud(
    session: Annotated[str, typer.Argument(help="Session id (replay-sessions lists them).")],
    tmux: Annotated[
        bool,
        typer.Option("--tmux", help="Show the tmux windows (C-b 1 …) that replaybook run opens."),
    ] = False,
    hint_key: Annotated[
        str | None, typer.Option(help="The tmux key (after the prefix) that asks for a hint.")
    ] = None,
) -> None:
    """Draw the HUD full-screen until the session ends (q or Ctrl-C leaves when run on its own)."""
    from replaybook.hud.app import run_hud
    from replaybook.hud.render import Layout

    run_hud(session, Layout(in_tmux=tmux, hint_key=hint_key if tmux else None))


main = app
