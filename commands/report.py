"""replay-report (replaybook report): the ledger as one self-contained HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from replaybook.commands.common import LedgerOption, emit, handles_errors, make_app, read_ledgers, say

app = make_app("Write a self-contained HTML report of the ledger: charts, tables, every session.")


@app.command()
@handles_errors
def report(
    html: Annotated[Path, typer.Option("--html", metavar="FILE",
                                       help="Write the page to FILE (replaced whole).")],
    ledger: LedgerOption = None,
    player: Annotated[str | None, typer.Option("--player", metavar="NAME",
                                                help="Report only NAME's sessions.")] = None,
    title: Annotated[str | None, typer.Option("--title", metavar="TEXT",
                                               help="The page's title.")] = None,
) -> None:
    """Write a self-contained HTML report of the ledger: charts, tables, every session.
    The page works offline and loads nothing; --ledger (again for each) merges several trainees'
    ledgers into a team report with a leaderboard per scenario. Prints the path written."""
    from libreplay.core.errors import NotFound
    from libreplay.progress.report import DEFAULT_TITLE, check_destination, report_page, write_report

    check_destination(html)  # before the charts are drawn
    ledgers = read_ledgers(ledger)
    entries = ledgers.entries
    if player is not None:
        entries = [entry for entry in entries if entry.player == player]
        if not entries and ledgers.entries:
            known = sorted({entry.player for entry in ledgers.entries if entry.player})
            raise NotFound(f"--player: no session of {player!r} in the ledger",
                           hint=f"players in it: {', '.join(known)}" if known else "no line names a player")
    say(f"Reporting {len(entries)} session(s)…")
    page = report_page(entries, title=title or DEFAULT_TITLE, sources=ledger or (),
                       skipped=len(ledgers.skipped), player=player)
    write_report(html, page)
    say(f"Wrote the report ({len(page.encode()) // 1024 + 1} KiB); open it in any browser.")
    emit(str(html))


main = app
