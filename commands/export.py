"""replay-export (replaybook export): the ledger on stdout, as JSON Lines or CSV, filtered.

Only stdout, so it pipes (`| jq`, `| head -1`, `> sessions.csv`); warnings (a line of the
ledger that cannot be used) go to stderr. docs/progress.md, "replaybook export".
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Annotated

import typer

from replaybook.commands.common import LedgerOption, end_of_data, handles_errors, make_app, read_ledgers

app = make_app("Write the ledger's sessions on stdout, as JSON Lines or CSV.")

LINES_PER_WRITE = 1000  # a big ledger in a few writes, not one per session


@app.command()
@handles_errors
def export(  # noqa: PLR0917 - one parameter per option
    format_: Annotated[str, typer.Option("--format", metavar="jsonl|csv",
                                         help="JSON Lines (every field as written) or CSV.")] = "jsonl",
    scenario: Annotated[str | None, typer.Option(metavar="ID|PACK/ID",
                                                 help="Only this scenario's sessions.")] = None,
    pack: Annotated[str | None, typer.Option(metavar="NAME", help="Only this pack's sessions.")] = None,
    since: Annotated[str | None, typer.Option(
        metavar="DATE", help="Only sessions played from then on: YYYY-MM-DD (from its start, UTC) "
                             "or an ISO 8601 time.")] = None,
    outcome: Annotated[str | None, typer.Option(metavar="success|timeout|abandoned",
                                                help="Only sessions with this outcome.")] = None,
    player: Annotated[str | None, typer.Option(metavar="NAME", help="Only this player's sessions.")] = None,
    ledger: LedgerOption = None,
) -> None:
    """Write the ledger's sessions on stdout in the order played: JSON Lines, or CSV with a header.

    Filters combine (every one must admit a session). Nothing is ever written to a ledger."""
    from libreplay.progress import export as exporting

    exporting.check_format(format_)  # every option checked before anything is read
    filters = exporting.Filters(
        scenario=scenario,
        pack=pack,
        since=exporting.parse_since(since) if since is not None else None,
        outcome=exporting.check_outcome(outcome) if outcome is not None else None,
        player=player,
    )
    entries = exporting.select(read_ledgers(ledger).entries, filters)
    _write(exporting.lines(entries, format_))
    end_of_data()


def _write(lines: Iterable[str]) -> None:
    """The lines on stdout as they are: each is inert already (CSV) or has no control character
    in it (JSON's escapes). A reader gone (`| head -1`) ends the command quietly (handles_errors)."""
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == LINES_PER_WRITE:
            sys.stdout.write("".join(chunk))
            chunk.clear()
    sys.stdout.write("".join(chunk))
    sys.stdout.flush()


main = app
