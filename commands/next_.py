"""replay-next (replaybook next): play the scenario the campaign suggests, as `run --next` does.

`--show` names the suggestion instead (its title and the campaign's reason on stdout; `--json`
for scripts). The suggestion is libreplay/progress/campaign.py's, from the ledger's sessions of
`--player` when one is named, else from every line, as `replaybook stats` counts them; playing
it is run's (commands/run.py :func:`play`), offer after a miss included. docs/progress.md.
"""

from __future__ import annotations

from typing import Annotated

import typer

from replaybook.commands.common import PlayerOption, emit, emit_json, handles_errors, make_app, read_ledgers
from replaybook.commands.run import KeepOption, NoSplitOption, SlaOption, TrackOption, play, suggested_choice
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
    track: TrackOption = None,
) -> None:
    """Play the scenario the campaign suggests now, exactly as `replaybook run --next` does.
    With --player, the suggestion comes from that player's sessions only; without, from every
    session in the ledger (as `replaybook stats` counts them). With --track, only that track's
    scenarios, the new ones in the track's order."""
    if show or json_:
        _refuse_play_options(sla=sla, keep=keep, no_split=no_split, yes=yes)
        _show(json_=json_, player=player, track=track)
        return
    play(lambda: suggested_choice(player=player, track=track), sla=sla, fault=None, keep=keep,
         no_split=no_split, yes=yes, player=player, command="next", track=track)


def _refuse_play_options(*, sla: int | None, keep: bool, no_split: bool, yes: bool) -> None:
    """--show plays nothing: an option that only changes a play would be silently ignored."""
    given = [name for name, value in (("--sla", sla is not None), ("--keep", keep),
                                      ("--no-split", no_split), ("--yes", yes)) if value]
    if given:
        raise typer.BadParameter(f"{', '.join(given)}: for playing; --show and --json play nothing "
                                 "(leave them out, or drop --show to play)")


def _show(*, json_: bool, player: str | None, track: str | None) -> None:
    """The suggestion on stdout: its title, then why (blind play: the id only in --json, for
    scripts, which run it by its ref)."""
    from libreplay.play.choice import suggestion
    from libreplay.session.ledger import check_player

    if player is not None:
        check_player(player)
    suggested = suggestion(read_ledgers(None), player=player, track=track)
    if json_:
        emit_json({"ref": suggested.ref, "title": suggested.title, "difficulty": suggested.difficulty,
                   "kind": suggested.kind, "reason": suggested.reason, "due": suggested.due.isoformat()})
        return
    emit(suggested.title)
    emit(suggested.reason)


main = app
