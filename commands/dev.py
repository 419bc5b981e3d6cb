"""replay-dev (replaybook dev): the author's live loop over a scenario.

The loop is the library's (libreplay/authoring/dev.py); this adapter checks the terminal and
tmux, asks about the pack's trust (never for the author's own directory), and draws the dev
console when tmux starts it in the workspace's right pane (``--console SESSION``, hidden).
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import sys
import termios
import time
import tty
from typing import TYPE_CHECKING, Annotated

import typer

from libreplay.core.errors import EnvironmentProblem, Interrupted
from libreplay.core.signals import STOP_SIGNALS, Handler, handling
from replaybook.commands.common import handles_errors, make_app, say
from replaybook.commands.run import _silence  # the terminal is closed: writing to it would only fail
from replaybook.commands.trust import YesOption, admit

if TYPE_CHECKING:
    from libreplay.authoring.dev import DevConsole
    from replaybook.hud.app import Wake

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
        raise typer.Exit(_shell(shell))
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
        _silence()
    if result.signum:
        raise Interrupted(result.signum)


# -- the workspace's panes ---------------------------------------------------------------------


def _shell(session_id: str) -> int:
    from libreplay.authoring.dev import shell_through_rebuilds

    if not sys.stdin.isatty():
        raise EnvironmentProblem("the dev shell needs a terminal (stdin is not a tty)")
    return shell_through_rebuilds(session_id, say)


# -- the console pane --------------------------------------------------------------------------


def _draw_console(session_id: str, fault: str | None) -> None:
    """Draw the console full-screen until it ends (q, Ctrl-C, the workspace or the session
    going away); keys typed in the pane are the console's, read raw."""
    from libreplay.authoring.dev import DevConsole
    from replaybook.hud.app import ENTER_SCREEN, LEAVE_SCREEN, RESET, Wake

    wake = Wake.create()
    console = DevConsole(session_id, fault=fault, on_change=wake.ring)

    def leave(_signum: int) -> None:
        console.stop.set()
        wake.ring()

    def resize(_signum: int) -> None:
        wake.ring()

    stdin = sys.stdin.fileno() if sys.stdin.isatty() else None
    saved = termios.tcgetattr(stdin) if stdin is not None else None
    handlers: dict[int, Handler] = {**dict.fromkeys(STOP_SIGNALS, leave), signal.SIGWINCH: resize}
    with handling(handlers):
        if stdin is not None:
            tty.setraw(stdin)  # Ctrl-C arrives as a key: the console decides what it means
        _write(ENTER_SCREEN)
        try:
            console.start()
            while not console.over:
                _paint(console)
                _wait_for_keys(console, wake, stdin)
        finally:
            _write(RESET + LEAVE_SCREEN)
            if stdin is not None and saved is not None:
                with contextlib.suppress(termios.error):
                    termios.tcsetattr(stdin, termios.TCSADRAIN, saved)
            wake.close()
    if not console.over:  # a signal to the console alone: the workspace goes with it
        console.end()


def _paint(console: DevConsole) -> None:
    from libreplay.authoring.dev_console import render
    from libreplay.session.state import now
    from replaybook.hud.app import paint
    from replaybook.hud.render import Line

    size = shutil.get_terminal_size(fallback=(40, 24))
    lines = render(console.view(), now(), size.columns, size.lines)
    _write(paint([Line(line.text, line.style) for line in lines], size.columns))


def _wait_for_keys(console: DevConsole, wake: Wake, stdin: int | None) -> None:
    """Until the next whole second, a change (the wake pipe) or a key."""
    watched = [wake.read_fd, *([stdin] if stdin is not None else [])]
    try:
        ready, _, _ = select.select(watched, [], [], 1.0 - (time.time() % 1.0) + 0.005)
    except InterruptedError:
        return
    if wake.read_fd in ready:
        wake.drain()
    if stdin is not None and stdin in ready:
        try:
            keys = os.read(stdin, 64).decode(errors="replace")
        except OSError:
            keys = ""
        if not keys:
            console.end()  # the pane's terminal is gone
        for key in keys:
            console.press(key)


def _write(text: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.write(text)
        sys.stdout.flush()


main = app
