"""``replaybook export``: ledger entries chosen by filters, as JSON Lines or CSV text.

Pure text building: entries in, lines out (the command writes them to stdout). JSON Lines
gives each line back as it was written, every field kept, unknown ones too: a ledger exported
and read again is the same ledger. CSV gives the documented fields in a fixed order
(:data:`CSV_FIELDS`), every cell inert (CSV is read in terminals as much as in spreadsheets) and
guarded against spreadsheet formula injection (:func:`guarded`). docs/progress.md describes both.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from libreplay.core.errors import InvalidInput
from libreplay.core.text import inert
from libreplay.session.ledger import LedgerEntry
from libreplay.session.state import OUTCOME_ABANDONED, OUTCOME_SUCCESS, OUTCOME_TIMEOUT

FORMATS = ("jsonl", "csv")
OUTCOMES = (OUTCOME_SUCCESS, OUTCOME_TIMEOUT, OUTCOME_ABANDONED)

# The CSV's columns, in this order (docs/progress.md, "replaybook export").
CSV_FIELDS = (
    "session", "player", "pack", "scenario", "fault", "started_at", "ended_at", "outcome",
    "elapsed_seconds", "sla_seconds", "hints_used", "hints_total", "score", "relapses",
    "guards_tripped", "transcript", "status",
)
LIST_SEPARATOR = ";"  # guards_tripped's names in one cell
# A cell a spreadsheet would take for a formula (OWASP's list: =, +, -, @, also after blanks,
# which some spreadsheets skip) starts with an apostrophe, which spreadsheets show as text.
FORMULA_STARTS = ("=", "+", "-", "@")
FORMULA_GUARD = "'"


@dataclass(frozen=True)
class Filters:
    """Which entries to export; each filter left as None admits every entry."""

    scenario: str | None = None  # an id (in any pack) or pack/id
    pack: str | None = None
    since: datetime | None = None  # played at or after (an entry with no time is left out)
    outcome: str | None = None
    player: str | None = None  # an entry with no player is left out

    def admit(self, entry: LedgerEntry) -> bool:
        return (
            (self.scenario is None or self.scenario in (entry.scenario, entry.ref))
            and (self.pack is None or entry.pack == self.pack)
            and (self.since is None or (entry.played_at is not None and entry.played_at >= self.since))
            and (self.outcome is None or entry.outcome == self.outcome)
            and (self.player is None or entry.player == self.player)
        )


def select(entries: Iterable[LedgerEntry], filters: Filters) -> list[LedgerEntry]:
    """The entries ``filters`` admits, in the order given (read_ledgers: the order played)."""
    return [entry for entry in entries if filters.admit(entry)]


# -- checking the options --------------------------------------------------------------------------


def parse_since(text: str) -> datetime:
    """``--since``: a date (YYYY-MM-DD, from its first second in UTC) or an ISO 8601 time (one
    without a zone is taken as UTC, as the ledger's times are); InvalidInput naming the option."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"--since: {text!r} is not a date or a time",
            hint="give a date, 2026-12-01 (from its start in UTC), or an ISO 8601 time, "
                 "2026-12-01T09:30:00+01:00",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def check_outcome(text: str) -> str:
    if text not in OUTCOMES:
        raise InvalidInput(f"--outcome: {text!r} is not an outcome", hint=f"one of {', '.join(OUTCOMES)}")
    return text


def check_format(text: str) -> str:
    if text not in FORMATS:
        raise InvalidInput(f"--format: {text!r} is not a format", hint=f"one of {', '.join(FORMATS)}")
    return text


# -- the formats ---------------------------------------------------------------------------------------


def lines(entries: Sequence[LedgerEntry], format_: str) -> Iterator[str]:
    """The export of ``entries`` in ``format_`` (one of FORMATS), line by line, each ending in
    a newline."""
    return csv_lines(entries) if check_format(format_) == "csv" else jsonl_lines(entries)


def jsonl_lines(entries: Iterable[LedgerEntry]) -> Iterator[str]:
    """Each entry's line as the ledger wrote it: its fields in their order, unknown ones kept.
    JSON's ASCII escapes (``\\u001b``) leave no control character in the text itself."""
    for entry in entries:
        yield json.dumps(entry.line, ensure_ascii=True) + "\n"


def csv_lines(entries: Iterable[LedgerEntry]) -> Iterator[str]:
    """A header of CSV_FIELDS, then a row per entry: quoted where needed (RFC 4180), each ending
    in a newline, as Unix tools read lines (every spreadsheet reads them too)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def row(cells: Sequence[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(cells)
        return buffer.getvalue()

    yield row(CSV_FIELDS)
    for entry in entries:
        yield row([guarded(inert(_cell(entry.line.get(name)), keep_newlines=False)) for name in CSV_FIELDS])


def guarded(cell: str) -> str:
    """``cell``, with an apostrophe in front when a spreadsheet would read it as a formula."""
    return FORMULA_GUARD + cell if cell.lstrip().startswith(FORMULA_STARTS) else cell


def _cell(value: Any) -> str:
    """A field's value as CSV text: text as it is, numbers as JSON writes them, a list's items
    joined by LIST_SEPARATOR, an object as JSON; nothing (absent, null, not finite) as empty."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)  # what json.dumps writes for a number, without its encoder's cost
    if isinstance(value, list):
        return LIST_SEPARATOR.join(_scalar_cell(item) for item in value)
    return _json_cell(value)


def _scalar_cell(item: Any) -> str:
    """A list's item: a scalar as _cell writes it; a nested list or object as JSON (no deeper
    recursion of ours: a hostile line may nest as deep as the JSON decoder allowed)."""
    return _json_cell(item) if isinstance(item, list | dict) else _cell(item)


def _json_cell(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (RecursionError, ValueError):  # nested deeper than the encoder goes
        return ""
