"""replay-run (replaybook run): play a scenario end to end in a tmux workspace.

The flow is the library's (libreplay/play/flow.py), composing the single executables as
subprocesses as a trainee could by hand (docs/terminal.md); this adapter checks the terminal,
asks about tmux and the pack's trust, and shows the debrief.
"""

from __future__ import annotations

import shutil
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from libreplay.core.errors import EnvironmentProblem, Interrupted
from libreplay.core.text import inert
from replaybook.commands.common import PlayerOption, confirm, emit, handles_errors, make_app, say, silence
from replaybook.commands.trust import YesOption, admit

if TYPE_CHECKING:
    from libreplay.play.choice import Choice

app = make_app("Play a scenario: break it, fix it in a real shell against the SLA, get a debrief.")


@app.command()
@handles_errors
def run(  # noqa: PLR0917 - one parameter per option
    scenario: Annotated[str | None, typer.Argument(help="Scenario id, pack/id or directory.")] = None,
    sla: Annotated[int | None, typer.Option(help="SLA in minutes (default: the scenario's).")] = None,
    fault: Annotated[str | None, typer.Option(help="The fault to inject (default: drawn at random).")] = None,
    keep: Annotated[bool, typer.Option("--keep", help="Leave the stack up afterwards.")] = False,
    no_split: Annotated[
        bool, typer.Option("--no-split", help="No tmux: the shell in this terminal, the HUD elsewhere.")
    ] = False,
    random_: Annotated[bool, typer.Option("--random", help="Play a scenario drawn at random.")] = False,
    tag: Annotated[str | None, typer.Option(help="With --random: only scenarios with this tag.")] = None,
    yes: YesOption = False,
    player: PlayerOption = None,
) -> None:
    """Bring SCENARIO up, break it, open the shell and HUD in tmux; debrief and tear down at the end."""
    from libreplay.play.flow import Play, PlayOptions
    from libreplay.play.steps import CommandSteps

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise EnvironmentProblem(
            "replaybook run is interactive and needs a terminal (stdin/stdout are not a tty)",
            hint="to script a session use replay-up | replay-break | replay-check --watch; replay-down",
        )
    if player is not None:
        from libreplay.session.ledger import check_player

        check_player(player)  # before anything is built
    chosen = _choose(scenario, random_, tag)
    admit(chosen.scenario, yes=yes)  # asked here, once: replay-up then finds the pack trusted
    if not no_split and shutil.which("tmux") is None:
        from libreplay.play.workspace import install_hint

        say("tmux is not installed: " + install_hint() + ".")
        if not confirm("Play without tmux now (--no-split)?"):
            raise EnvironmentProblem("tmux is not installed")
        no_split = True
    options = PlayOptions(chosen.name, sla=sla, fault=fault, keep=keep, split=not no_split,
                          title=chosen.scenario.title, player=player)
    result = Play(options, CommandSteps(), on_say=say, on_news=_news).run()
    if result.terminal_gone:
        silence()  # the terminal is closed: writing to it would only fail
    for line in result.debrief:
        emit(line)
    if result.signum:
        raise Interrupted(result.signum)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def _choose(scenario: str | None, random_: bool, tag: str | None) -> Choice:
    from libreplay.play import choice

    if scenario and random_:
        raise typer.BadParameter("name a SCENARIO or use --random, not both")
    if scenario:
        return choice.named(scenario)  # a typo fails here, before anything is built
    if not random_:
        raise typer.BadParameter("name a SCENARIO (replay-list shows them) or use --random")
    chosen = choice.drawn(tag)
    say(f"Drawn at random: {chosen.scenario.title}")  # blind play: never the id (docs/terminal.md)
    return chosen


def _news(text: str) -> None:
    """News while the shell (in raw mode) owns this terminal: a line of its own, \\r\\n ended."""
    sys.stderr.write(f"\r\n*** {inert(text, keep_newlines=False)} ***\r\n")
    sys.stderr.flush()


main = app
