"""libreplay/progress/export.py: the filters, the two formats, and the options' checks. Pure:
ledger entries built here, text out."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from libreplay.core.errors import InvalidInput
from libreplay.progress.export import (
    CSV_FIELDS,
    Filters,
    check_format,
    check_outcome,
    csv_lines,
    guarded,
    jsonl_lines,
    lines,
    parse_since,
    select,
)
from libreplay.session.ledger import LedgerEntry

LEDGER = Path("/ledgers/sessions.jsonl")


def entry(number: int = 1, **fields: Any) -> LedgerEntry:
    line = {"session": f"s{number}", "scenario": "001-nginx-502", "pack": "official", "fault": None,
            "started_at": "2026-12-01T10:00:00+00:00", "ended_at": "2026-12-01T10:05:00+00:00",
            "outcome": "success", "elapsed_seconds": 250.5, "sla_seconds": 900, "hints_used": 1,
            "hints_total": 3, "score": 843, "relapses": 0, "guards_tripped": [],
            "transcript": "/t/s1.cast", "player": "alice"}
    line.update(fields)
    return LedgerEntry({k: v for k, v in line.items() if v is not ...}, LEDGER, number)


def csv_rows(entries: list[LedgerEntry]) -> list[list[str]]:
    return list(csv.reader(io.StringIO("".join(csv_lines(entries)), newline="")))


# -- filters -----------------------------------------------------------------------------------------

PLAYED = [
    entry(1),
    entry(2, scenario="002-postgres-wont-start", fault="wrong-owner", outcome="timeout",
          started_at="2026-12-03T08:00:00+00:00", player="bob"),
    entry(3, pack="drills", scenario="001-nginx-502", outcome="abandoned",
          started_at="2026-12-05T23:30:00+00:00"),
    entry(4, started_at=..., ended_at=..., player=...),  # no time, no player: an old line
]


def sessions(filters: Filters) -> list[str]:
    return [str(e.session) for e in select(PLAYED, filters)]


def test_no_filter_keeps_every_entry_in_order() -> None:
    assert sessions(Filters()) == ["s1", "s2", "s3", "s4"]


def test_scenario_by_id_matches_every_pack_and_by_ref_one() -> None:
    assert sessions(Filters(scenario="001-nginx-502")) == ["s1", "s3", "s4"]
    assert sessions(Filters(scenario="drills/001-nginx-502")) == ["s3"]
    assert sessions(Filters(scenario="official/001-nginx-502")) == ["s1", "s4"]
    assert sessions(Filters(scenario="nginx")) == []  # no partial match


def test_pack_outcome_and_player() -> None:
    assert sessions(Filters(pack="drills")) == ["s3"]
    assert sessions(Filters(outcome="timeout")) == ["s2"]
    assert sessions(Filters(player="bob")) == ["s2"]
    assert sessions(Filters(player="alice")) == ["s1", "s3"]  # s4 names no player


def test_since_is_inclusive_and_leaves_out_what_has_no_time() -> None:
    assert sessions(Filters(since=parse_since("2026-12-03"))) == ["s2", "s3"]
    assert sessions(Filters(since=parse_since("2026-12-03T08:00:00+00:00"))) == ["s2", "s3"]
    assert sessions(Filters(since=parse_since("2026-12-03T08:00:01Z"))) == ["s3"]


def test_filters_combine() -> None:
    assert sessions(Filters(scenario="001-nginx-502", outcome="success")) == ["s1", "s4"]
    assert sessions(Filters(scenario="001-nginx-502", outcome="success", player="alice")) == ["s1"]


# -- checking options -----------------------------------------------------------------------------------


def test_since_a_date_is_its_start_in_utc() -> None:
    assert parse_since("2026-12-03") == datetime(2026, 12, 3, tzinfo=UTC)
    assert parse_since("2026-12-03T09:30") == datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
    local = parse_since("2026-12-03T09:30:00+01:00")
    assert local == datetime(2026, 12, 3, 8, 30, tzinfo=UTC)
    assert local.utcoffset() == timedelta(hours=1)
    assert parse_since("2026-12-03T09:30:00-05:00").tzinfo == timezone(timedelta(hours=-5))


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "03/12/2026", "", "2026-12-03T25:00"])
def test_a_bad_since_names_the_option(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"^--since: ") as raised:
        parse_since(text)
    assert raised.value.exit_code == 3


def test_outcome_and_format_are_checked_naming_the_option() -> None:
    assert check_outcome("abandoned") == "abandoned"
    with pytest.raises(InvalidInput, match=r"^--outcome: 'won'"):
        check_outcome("won")
    assert check_format("csv") == "csv"
    with pytest.raises(InvalidInput, match=r"^--format: 'xml'"):
        check_format("xml")
    with pytest.raises(InvalidInput, match=r"^--format: "):
        list(lines([], "JSONL"))


# -- JSON Lines ----------------------------------------------------------------------------------------


def test_jsonl_gives_each_line_back_as_written_unknown_fields_too() -> None:
    written = ('{"session": "s9", "scenario": "x", "outcome": "timeout", "zeta": {"nested": [1, 2.5]}, '
               '"alpha": null, "team": "blue"}')
    exported = list(jsonl_lines([LedgerEntry(json.loads(written), LEDGER, 1)]))
    assert exported == [written + "\n"]  # same fields, same order, same text


def test_jsonl_leaves_no_control_character_in_the_text() -> None:
    [line] = jsonl_lines([entry(fault="\x1b]52;c;cm0gLXJm\x07", player="al\u202eice")])
    assert json.loads(line)["fault"] == "\x1b]52;c;cm0gLXJm\x07"  # the data is kept …
    assert line.isascii() and line[:-1].isprintable()  # … as escapes only


def test_jsonl_of_nothing_is_nothing() -> None:
    assert list(lines([], "jsonl")) == []


# -- CSV -------------------------------------------------------------------------------------------------


def test_csv_has_the_documented_header_then_a_row_per_entry() -> None:
    rows = csv_rows([entry(1, guards_tripped=["migration-kept", "data-intact"], fault="wrong-owner")])
    assert rows[0] == list(CSV_FIELDS)
    assert dict(zip(rows[0], rows[1], strict=True)) == {
        "session": "s1", "player": "alice", "pack": "official", "scenario": "001-nginx-502",
        "fault": "wrong-owner", "started_at": "2026-12-01T10:00:00+00:00",
        "ended_at": "2026-12-01T10:05:00+00:00", "outcome": "success", "elapsed_seconds": "250.5",
        "sla_seconds": "900", "hints_used": "1", "hints_total": "3", "score": "843", "relapses": "0",
        "guards_tripped": "migration-kept;data-intact", "transcript": "/t/s1.cast",
        "status": "",  # a line written before the field existed
    }


def test_csv_of_nothing_is_its_header() -> None:
    assert list(lines([], "csv")) == [",".join(CSV_FIELDS) + "\n"]


def test_csv_leaves_missing_and_odd_values_empty_or_plain() -> None:
    row = dict(zip(CSV_FIELDS, csv_rows([entry(fault=..., player=None, score=True,
                                               elapsed_seconds=float("nan"), relapses={"a": 1})])[1],
                   strict=True))
    assert row["fault"] == "" and row["player"] == "" and row["elapsed_seconds"] == ""
    assert row["score"] == "true"
    assert row["relapses"] == '{"a": 1}'


def test_csv_text_is_inert_one_line_per_row() -> None:
    hostile = entry(fault="a\x1b[31mred\x1b[0m\nsecond line", player="bob\x07\x9b2J")
    text = "".join(csv_lines([hostile]))
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
    assert text.count("\n") == 2  # the header's line and the row's: the newline in a cell is a space
    row = csv_rows([hostile])[1]
    assert row[CSV_FIELDS.index("fault")] == "ared second line"


@pytest.mark.parametrize("cell", ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "  =1+1"])
def test_a_cell_a_spreadsheet_would_compute_is_guarded(cell: str) -> None:
    assert guarded(cell) == "'" + cell
    row = csv_rows([entry(player=cell)])[1]
    assert row[CSV_FIELDS.index("player")] == "'" + cell


def test_ordinary_cells_are_not_guarded() -> None:
    for cell in ["alice", "2026-12-01T10:00:00+00:00", "250.5", "", "a=b", "x-y"]:
        assert guarded(cell) == cell


def test_a_negative_number_is_guarded_too() -> None:
    row = csv_rows([entry(score=-5)])[1]
    assert row[CSV_FIELDS.index("score")] == "'-5"
