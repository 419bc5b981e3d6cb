"""replay-dev (replaybook dev): the author's live loop over a scenario.

The loop is the library's (libreplay/authoring/dev.py); this adapter checks the terminal and
tmux, asks about the pack's trust (never for the author's own directory), and draws the dev
console when tmux starts it in the workspace's right pane (``--console SESSION``, hidden).
"""

from __future__ import annotations

import shutil
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from libreplay.core.errors import EnvironmentProblem, Interrupted
from replaybook.commands.common import handles_errors, make_app, say, silence
from replaybook.commands.trust import YesOption, admit

if TYPE_CHECKING:
    from libreplay.authoring.dev import DevConsole
    from replaybook.hud.screen import FullScreen

app = make_app("The author's loop: a scenario up and broken, its check live, edits validated at once.")


@app.command()
@handles_errors
def dev(
    scenario: Annotated[
        str | None, typer.Argument(help="Scenario directory (yours: no trust question), id or pack/id.")
    ] = None,
    fault: Annotated[
        str | None, typer.Option(help="The fault to break with (default: the first; f picks the next).")
    ] = None,
    yes: YesOption = False,
    console: Annotated[
        str | None, typer.Option("--console", hidden=True, help="Draw the dev console of this session.")
    ] = None,
    shell: Annotated[
        str | None, typer.Option("--shell", hidden=True, help="The shell pane of this session.")
    ] = None,
) -> None:
    """Bring SCENARIO up and break it; beside a shell in the stack, a console shows the check
    (passing or failing, since when) and validates the directory at every change. Keys: b breaks
    again, r rebuilds, s runs the solve script, f picks the next fault, q quits. Nothing is
    recorded; q, Ctrl-C, leaving the shell or closing the terminal tear everything down."""
    if console is not None:
        _draw_console(console, fault)
        return
    if shell is not None:
        _shell(shell)  # the author left the shell: the pane's command succeeded
        return
    if scenario is None:
        raise typer.BadParameter("name a SCENARIO: its directory, id or pack/id")
    from libreplay.authoring.dev import DevLoop
    from libreplay.packs import catalog
    from libreplay.play.workspace import install_hint, tmux_binary

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise EnvironmentProblem(
            "replaybook dev is interactive and needs a terminal (stdin/stdout are not a tty)",
            hint="to prove a scenario without one use replaybook test",
        )
    if tmux_binary() is None:
        raise EnvironmentProblem("replaybook dev needs tmux, which is not installed", hint=install_hint())
    found = catalog.resolve_scenario(scenario)
    admit(found, yes=yes)  # your own directory is never asked about
    result = DevLoop(found, fault=fault, on_say=say).run()
    if result.terminal_gone:
        silence()  # the terminal is closed: writing to it would only fail
    if result.signum:
        raise Interrupted(result.signum)


# -- the workspace's panes ---------------------------------------------------------------------


def _shell(session_id: str) -> int | None:
    from libreplay.authoring.dev import shell_through_rebuilds

    if not sys.stdin.isatty():
        raise EnvironmentProblem("the dev shell needs a terminal (stdin is not a tty)")
    return shell_through_rebuilds(session_id, say)


# -- the console pane --------------------------------------------------------------------------


def _draw_console(session_id: str, fault: str | None) -> None:
    """Draw the console full-screen until it ends (q, Ctrl-C, the workspace or the session
    going away); keys typed in the pane are the console's, read raw."""
    from libreplay.authoring.dev import DevConsole
    from replaybook.hud.screen import FullScreen

    screen = FullScreen()
    console = DevConsole(session_id, fault=fault, on_change=screen.ring)
    try:
        with screen.shown():
            console.start()
            while not (console.over or screen.stop.is_set()):
                _paint(console, screen)
                _press(console, screen.wait())
    finally:
        screen.close()
    if not console.over:  # a stop signal to the console alone: the workspace goes with it
        console.end()


def _paint(console: DevConsole, screen: FullScreen) -> None:
    from libreplay.authoring.dev_console import render
    from libreplay.session.state import now
    from replaybook.hud.render import Line

    size = shutil.get_terminal_size(fallback=(40, 24))
    lines = render(console.view(), now(), size.columns, size.lines)
    screen.draw([Line(line.text, line.style) for line in lines], size.columns)


def _press(console: DevConsole, keys: str | None) -> None:
    if keys is None:
        console.end()  # the pane's terminal is gone
        return
    for key in keys:
        console.press(key)


main = app
