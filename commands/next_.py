"""replay-next (replaybook next): play the scenario the campaign suggests, as `run --next` does.

`--show` names the suggestion instead (its title and the campaign's reason on stdout; `--json`
for scripts). The suggestion is libreplay/progress/campaign.py's; playing it is run's
(commands/run.py :func:`play`), offer after a miss included. docs/progress.md.
"""

from __future__ import annotations

from typing import Annotated

import typer

from replaybook.commands.common import PlayerOption, emit, emit_json, handles_errors, make_app
from replaybook.commands.run import KeepOption, NoSplitOption, SlaOption, play, suggested_choice
from replaybook.commands.trust import YesOption

app = make_app("Play the scenario the campaign suggests next (what `replaybook stats` suggests too).")


@app.command("next")
@handles_errors
def next_(  # noqa: PLR0917 - one parameter per option
    show: Annotated[bool, typer.Option("--show", help="Name the suggestion and why; play nothing.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="--show, as JSON (ref, title, difficulty, kind, "
                                                       "reason, due).")] = False,
    sla: SlaOption = None,
    keep: KeepOption = False,
    no_split: NoSplitOption = False,
    yes: YesOption = False,
    player: PlayerOption = None,
) -> None:
    """Play the scenario the campaign suggests now, exactly as `replaybook run --next` does."""
    if show or json_:
        _show(json_=json_)
        return
    play(suggested_choice, sla=sla, fault=None, keep=keep, no_split=no_split, yes=yes, player=player)


def _show(*, json_: bool) -> None:
    """The suggestion on stdout: its title, then why (blind play: the id only in --json, for
    scripts, which run it by its ref)."""
    from libreplay.play.choice import suggestion

    suggested = suggestion()
    if json_:
        emit_json({"ref": suggested.ref, "title": suggested.title, "difficulty": suggested.difficulty,
                   "kind": suggested.kind, "reason": suggested.reason, "due": suggested.due.isoformat()})
        return
    emit(suggested.title)
    emit(suggested.reason)


main = app
