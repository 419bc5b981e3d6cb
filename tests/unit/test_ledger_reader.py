"""The ledger reader: strict about nothing a reader does not need, never writing a ledger."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from libreplay.core import paths
from libreplay.core.errors import InvalidInput, NotFound
from libreplay.session import ledger, state

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def _line(session: str, scenario: str, outcome: str, day: int, **extra: object) -> str:
    started = datetime(2026, 11, day, 9, 0, tzinfo=UTC)
    fields = {
        "session": session, "scenario": scenario, "pack": "official", "outcome": outcome,
        "started_at": started.isoformat(), "ended_at": (started + timedelta(minutes=5)).isoformat(),
        "elapsed_seconds": 300.0, "sla_seconds": 900, "hints_used": 1, "hints_total": 3,
        "score": 700 if outcome == "success" else 0, "relapses": 0, "guards_tripped": [],
        "player": "ana", **extra,
    }  # fmt: skip
    return json.dumps(fields) + "\n"


def test_every_outcome_is_read_with_its_fields(tmp_path: Path) -> None:
    file = tmp_path / "sessions.jsonl"
    file.write_text(_line("s1", "001", "success", 1, guards_tripped=["kept-data"], relapses=2)
                    + _line("s2", "002", "timeout", 2) + _line("s3", "003", "abandoned", 3))
    read = ledger.read_ledgers([file])
    assert [entry.outcome for entry in read.entries] == ["success", "timeout", "abandoned"]
    assert read.skipped == [] and read.repeated == 0
    first = read.entries[0]
    assert (first.ref, first.won, first.player, first.score) == ("official/001", True, "ana", 700)
    assert (first.guards_tripped, first.relapses, first.hints_used) == (["kept-data"], 2, 1)
    assert first.played_at == datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    assert [entry.number for entry in read.entries] == [1, 2, 3]
    assert not read.entries[1].won


def test_no_ledger_yet_is_empty_but_a_named_one_must_exist(tmp_path: Path) -> None:
    assert not paths.ledger_path().exists()
    assert ledger.read_ledgers().entries == []
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert ledger.read_ledgers([empty]) == ledger.Ledgers()
    with pytest.raises(NotFound, match=r"missing\.jsonl: no such ledger"):
        ledger.read_ledgers([tmp_path / "missing.jsonl"])
    with pytest.raises(InvalidInput, match="is a directory"):
        ledger.read_ledgers([tmp_path])


def test_unusable_lines_are_skipped_by_file_and_line_and_the_file_is_never_written(tmp_path: Path) -> None:
    file = tmp_path / "sessions.jsonl"
    good = _line("s1", "001", "success", 1)
    file.write_bytes(
        good.encode()
        + b'{"session": "s2", "scenario": "002", "outc\n'  # torn by a crash
        + b"\xff\xfe not text\n"
        + b'["an", "array"]\n'
        + b'{"session": "s3", "scenario": "003"}\n'  # no outcome
        + b"\n   \n"  # blank lines are no sessions, and no warning
        + _line("s4", "004", "timeout", 4).encode()
        + b'{"scenario": "005", "outcome": "success", "score": "high", "started_at": 7,'
          b' "hints_used": null, "elapsed_seconds": NaN, "guards_tripped": "x", "player": 3}\n'
        + b'{"session": "s6", "scenario": "006", "outcome": "succ'  # truncated last line
    )
    before = (file.read_bytes(), file.stat().st_mtime_ns)
    read = ledger.read_ledgers([file])
    assert [(skip.number, skip.reason.split(":")[0]) for skip in read.skipped] == [
        (2, "not JSON"), (3, "not UTF-8 text"), (4, "not a JSON object"), (5, "no outcome"), (10, "not JSON"),
    ]
    assert str(read.skipped[0]).startswith(f"{file}: line 2: skipped (not JSON")
    assert [entry.scenario for entry in read.entries] == ["001", "004", "005"]
    lenient = read.entries[2]  # wrong types read as absent
    assert (lenient.score, lenient.played_at) == (0, None)
    assert (lenient.hints_used, lenient.elapsed_seconds) == (0, None)
    assert (lenient.guards_tripped, lenient.player, lenient.session) == ([], None, None)
    assert (file.read_bytes(), file.stat().st_mtime_ns) == before
    assert not list(tmp_path.glob(".*"))  # not even a lock file


HOSTILE_LINES = (
    b'{"scenario": "001", "outcome": "success", "score": ' + b"9" * 5000 + b"}\n",  # int() refuses it
    b"[" * 100_000 + b"\n",  # deeper than the decoder recurses
    b'{"scenario": "002", "outcome": "success", "score": 1' + b"0" * 400 + b', "elapsed_seconds": 1e999}\n',
    b'{"scenario": "003", "outcome": "timeout", "started_at": "9999-12-31T23:59:59-01:00"}\n',
    b'{"scenario": "004", "outcome": "timeout", "started_at": "0001-01-01T00:00:00+01:00"}\n',
)


def test_lines_at_the_edges_of_json_and_the_calendar_are_skipped_or_read_as_absent(tmp_path: Path) -> None:
    file = tmp_path / "sessions.jsonl"
    file.write_bytes(b"".join(HOSTILE_LINES))
    read = ledger.read_ledgers([file])
    assert [skip.number for skip in read.skipped] == [1, 2]
    assert all("not JSON" in skip.reason for skip in read.skipped)
    huge, late, early = read.entries
    assert (huge.score, huge.elapsed_seconds) == (0, None)  # beyond any float: absent
    assert late.played_at is None and early.played_at is None  # no UTC time exists for them


def test_times_are_read_in_utc(tmp_path: Path) -> None:
    file = tmp_path / "sessions.jsonl"
    file.write_text('{"scenario": "001", "outcome": "success", "started_at": "2026-11-01T08:00:00+10:00"}\n'
                    '{"scenario": "002", "outcome": "success", "started_at": "2026-11-01T08:00:00"}\n')
    first, second = ledger.read_ledgers([file]).entries
    assert first.played_at == datetime(2026, 10, 31, 22, 0, tzinfo=UTC)
    assert first.played_at is not None and first.played_at.tzinfo is UTC
    assert second.played_at == datetime(2026, 11, 1, 8, 0, tzinfo=UTC)  # no zone: taken as UTC


def test_two_ledgers_merge_in_play_order_and_a_session_counts_once(tmp_path: Path) -> None:
    ana, ben = tmp_path / "ana.jsonl", tmp_path / "ben.jsonl"
    ana.write_text(_line("a1", "001", "success", 1) + _line("a2", "002", "timeout", 5))
    ben.write_text(_line("b1", "001", "abandoned", 3, player="ben") + _line("a1", "001", "success", 1))
    read = ledger.read_ledgers([ana, ben, ana])
    assert [entry.session for entry in read.entries] == ["a1", "b1", "a2"]
    assert [entry.source.name for entry in read.entries] == ["ana.jsonl", "ben.jsonl", "ana.jsonl"]
    assert read.repeated == 3  # a1 in ben's copy, and ana's file given twice
    assert {entry.player for entry in read.entries} == {"ana", "ben"}


def test_the_sample_ledgers_read_cleanly() -> None:
    read = ledger.read_ledgers([EXAMPLES / "ledger-alice.jsonl", EXAMPLES / "ledger-bob.jsonl"])
    assert read.skipped == [] and len(read.entries) == 23
    moments = [entry.played_at for entry in read.entries]
    assert moments == sorted(m for m in moments if m is not None)
    assert {entry.outcome for entry in read.entries} == {"success", "timeout", "abandoned"}


def test_new_lines_name_the_player() -> None:
    start = state.now()
    played = state.SessionState(
        id="p1", scenario="s1", pack="official", scenario_dir="", project="", status=state.TIMEOUT,
        started_at=start, ended_at=start + timedelta(seconds=900), sla_seconds=900, outcome="timeout",
        player="dana",
    )  # fmt: skip
    line = ledger.record(played)
    assert (line["player"], line["status"]) == ("dana", "timeout")
    (entry,) = ledger.read_ledgers().entries
    assert (entry.player, entry.outcome, entry.elapsed_seconds) == ("dana", "timeout", 900.0)


def test_a_session_started_before_the_player_field_is_the_os_user_s(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGNAME", "erin")
    old = state.SessionState.from_dict({"id": "o1", "scenario": "s1", "pack": "official", "scenario_dir": "",
                                        "project": "", "status": state.ERROR, "outcome": "abandoned"})
    line = ledger.record(old)
    assert (line["player"], line["status"]) == ("erin", "error")
    (entry,) = ledger.read_ledgers().entries
    assert entry.errored and not entry.won


def test_the_default_player_is_the_os_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGNAME", "erin")
    assert ledger.default_player() == "erin"
    for variable in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr("pwd.getpwuid", lambda _uid: (_ for _ in ()).throw(KeyError(_uid)))
    assert ledger.default_player() == f"uid{os.getuid()}"


@pytest.mark.parametrize("name", ["", " ana", "ana ", "a\x1b[31mred", "x" * 65, "tab\there"])
def test_a_player_name_must_be_printable_and_short(name: str) -> None:
    with pytest.raises(InvalidInput, match="--player"):
        ledger.check_player(name)


def test_a_player_name_may_be_any_printable_text() -> None:
    for name in ("ana", "Ana María", "bob@team-a", "x" * 64):
        assert ledger.check_player(name) == name


def test_figures_out_of_any_session_s_range_read_as_absent(tmp_path: Path) -> None:
    """Counts, scores and seconds are never negative and far below a billion: beyond, a figure
    would only overflow the sums, means and ratios made of it."""
    file = tmp_path / "sessions.jsonl"
    file.write_text(
        '{"scenario": "001", "outcome": "success", "elapsed_seconds": 1e308, "score": -5,'
        ' "hints_used": 1e9, "sla_seconds": 5e-324, "relapses": NaN, "hints_total": Infinity}\n'
        '{"scenario": "002", "outcome": "success", "elapsed_seconds": 1e999, "sla_seconds": 0.5}\n'
    )
    wild, inf = ledger.read_ledgers([file]).entries
    assert (wild.elapsed_seconds, wild.score, wild.sla_seconds) == (None, 0, None)
    assert wild.hints_used == 1_000_000_000  # the bound itself is a figure
    assert (wild.relapses, wild.hints_total) == (0, 0)
    assert wild.line["relapses"] is None and wild.line["hints_total"] is None  # JSON has no NaN
    assert inf.line["elapsed_seconds"] is None and inf.sla_seconds is None  # an SLA under a second
