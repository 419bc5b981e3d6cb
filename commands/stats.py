"""replay-stats: what the ledger says of each scenario and overall, and what to play next."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from replaybook.commands.common import (
    JsonOption,
    LedgerOption,
    emit_json,
    emit_lines,
    handles_errors,
    make_app,
    read_ledgers,
    say,
    table_lines,
)

if TYPE_CHECKING:
    from libreplay.progress.campaign import Suggestion
    from libreplay.progress.stats import ScenarioStats, Stats, Totals

app = make_app("Sum up the ledger: per scenario and overall, and what to play next.")

WIDTH = 80  # every line fits an 80-column terminal
HEADER = ("SCENARIO", "PLAYED", "WON", "BEST", "MEDIAN", "HINTS", "SCORE", "LAST")
GAP = 2  # between columns (libreplay.core.table)
SCENARIO_MIN_WIDTH = 16  # a long name is cut to fit, never below this
PACK_MIN_WIDTH = 5  # of which a cut pack name keeps at least this
NO_FIGURE = "-"

StatsPlayerOption = Annotated[
    str | None,
    typer.Option("--player", metavar="NAME", help="Only this player's sessions (default: everyone's)."),
]


@app.command()
@handles_errors
def stats_(
    ledger: LedgerOption = None,
    player: StatsPlayerOption = None,
    json_: JsonOption = False,
) -> None:
    """Per scenario: sessions, wins, best and median time to fix, hints, best score, last played;
    totals; and what to play next, and why (what `replaybook next` suggests).

    Reads your ledger, or the ledgers --ledger names, merged (a line that cannot be used is
    skipped with a warning naming file and line). Exit 0, an empty ledger too; 4 when a --ledger
    FILE does not exist; 3 when it cannot be read or --player is not a player's name.
    """
    from libreplay.progress.campaign import suggest_next
    from libreplay.progress.stats import summarize
    from libreplay.session.ledger import Ledgers, check_player

    if player is not None:
        check_player(player)
    entries = read_ledgers(ledger).entries
    if player is not None:
        entries = [entry for entry in entries if entry.player == player]
    summary = summarize(entries)
    suggestion = suggest_next(Ledgers(entries))
    if not entries:
        say(f"No sessions of {player} yet." if player else "No sessions yet.")
    elif player is None and len(summary.totals.players) > 1:
        say(f"Note: sessions of {len(summary.totals.players)} players; give --player NAME for one player's.")
    if json_:
        emit_json(record(summary, suggestion))
        return
    lines = [*table(summary.scenarios), *totals_lines(summary.totals)] if entries else []
    emit_lines([*lines, *next_lines(suggestion)])


# -- the table ------------------------------------------------------------------------------------


def table(scenarios: Sequence[ScenarioStats]) -> list[str]:
    """One row per scenario played; the names are cut to keep every line within WIDTH."""
    figures = [_figures(scenario) for scenario in scenarios]
    others = [max(map(_width, column)) for column in zip(HEADER[1:], *figures, strict=True)]
    room = max(SCENARIO_MIN_WIDTH, WIDTH - sum(others) - GAP * len(others))
    rows = [(_name(scenario, room), *cells) for scenario, cells in zip(scenarios, figures, strict=True)]
    return table_lines(HEADER, rows)


def _figures(scenario: ScenarioStats) -> tuple[str, ...]:
    return (
        str(scenario.attempts),
        str(scenario.successes),
        _clock(scenario.best_seconds),
        _clock(scenario.median_seconds),
        f"{scenario.mean_hints:.1f}",
        str(scenario.best_score) if scenario.successes else NO_FIGURE,
        _day(scenario.last_played),
    )


def _name(scenario: ScenarioStats, room: int) -> str:
    """As `replaybook list` names it (the id alone in the official pack, else pack/id), within
    ``room`` cells: a long pack name gives way first, since the id says which scenario."""
    from libreplay.packs.catalog import OFFICIAL

    if scenario.pack == OFFICIAL or not scenario.pack:
        return _cut(scenario.scenario, room)
    whole = _cut(scenario.ref, room)
    if not whole.endswith("…"):
        return whole
    pack = _cut(scenario.pack, max(PACK_MIN_WIDTH, room // 3))
    return f"{pack}/{_cut(scenario.scenario, room - _width(pack) - 1)}"


def _cut(text: str, room: int) -> str:
    """``text``, inert and on one line, cut with an ellipsis to ``room`` terminal cells."""
    from libreplay.core.text import inert

    text = inert(text, keep_newlines=False)
    if _width(text) <= room:
        return text
    while text and _width(text) > room - 1:
        text = text[:-1]
    return text + "…"


def _width(text: str) -> int:
    from libreplay.core.table import cell_width
    from libreplay.core.text import inert

    return cell_width(inert(text, keep_newlines=False))


def _clock(seconds: float | None) -> str:
    from libreplay.core.text import clock

    return clock(seconds) if seconds is not None else NO_FIGURE


def _day(moment: datetime | None) -> str:
    return moment.date().isoformat() if moment else NO_FIGURE  # the ledger's times are read in UTC


# -- totals and next ------------------------------------------------------------------------------


def totals_lines(totals: Totals) -> list[str]:
    from libreplay.core.text import duration

    lines = _fitted(f"Total: {totals.sessions} sessions, {totals.successes} won ({totals.success_rate:.0%}), "
                    f"{duration(totals.seconds_trained)} trained, score {totals.score}", indent="  ")
    if len(totals.players) > 1:
        lines += _fitted(f"Players: {', '.join(totals.players)}", indent="  ")
    return lines


def next_lines(suggestion: Suggestion | None) -> list[str]:
    if suggestion is None:
        return ["Next: nothing to suggest (no scenario installed)"]
    return _fitted(f"Next: {suggestion.title} — {suggestion.reason}", indent="      ")


def _fitted(text: str, *, indent: str) -> list[str]:
    """``text`` inert and wrapped (libreplay.core.text.wrap, which counts characters) so that
    every line fits WIDTH terminal cells: narrower when wide characters (CJK, emoji) need it."""
    from libreplay.core.text import inert, wrap

    text = inert(text, keep_newlines=False)
    for width in range(WIDTH, len(indent) + 1, -1):
        lines = wrap(text, width, indent=indent)
        if all(_width(line) <= WIDTH for line in lines):
            return lines
    return lines


# -- --json -----------------------------------------------------------------------------------


def record(summary: Stats, suggestion: Suggestion | None) -> dict[str, Any]:
    return {
        "scenarios": [_scenario_record(scenario) for scenario in summary.scenarios],
        "totals": {
            "sessions": summary.totals.sessions,
            "successes": summary.totals.successes,
            "success_rate": round(summary.totals.success_rate, 4),
            "seconds_trained": round(summary.totals.seconds_trained, 2),
            "score": summary.totals.score,
            "players": summary.totals.players,
        },
        "next": suggestion_record(suggestion) if suggestion else None,
    }


def _scenario_record(scenario: ScenarioStats) -> dict[str, Any]:
    return {
        "ref": scenario.ref,
        "scenario": scenario.scenario,
        "pack": scenario.pack,
        "attempts": scenario.attempts,
        "successes": scenario.successes,
        "timeouts": scenario.timeouts,
        "abandoned": scenario.abandoned,
        "success_rate": round(scenario.success_rate, 4),
        "best_seconds": scenario.best_seconds,
        "median_seconds": scenario.median_seconds,
        "mean_hints": round(scenario.mean_hints, 2),
        "best_score": scenario.best_score,
        "last_played": scenario.last_played.isoformat() if scenario.last_played else None,
        "last_outcome": scenario.last_outcome,
    }


def suggestion_record(suggestion: Suggestion) -> dict[str, Any]:
    return {
        "ref": suggestion.ref,
        "title": suggestion.title,
        "difficulty": suggestion.difficulty,
        "kind": suggestion.kind,
        "reason": suggestion.reason,
        "due": suggestion.due.isoformat(),
    }


main = app
