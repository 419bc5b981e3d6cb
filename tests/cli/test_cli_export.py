"""replaybook export end to end on ledger files: the formats, every filter, bad options, damaged
and merged ledgers, and a reader that goes away (`| head -1`)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from libreplay.core import paths
from libreplay.progress.export import CSV_FIELDS
from replaybook.commands import main as dispatcher

runner = CliRunner()
BIN = Path(sys.executable).parent
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def line(session: str, **fields: Any) -> dict[str, Any]:
    written = {"session": session, "scenario": "001-nginx-502", "pack": "official", "fault": None,
               "started_at": "2026-12-01T10:00:00+00:00", "ended_at": "2026-12-01T10:05:00+00:00",
               "outcome": "success", "elapsed_seconds": 250.5, "sla_seconds": 900, "hints_used": 1,
               "hints_total": 3, "score": 843, "relapses": 0, "guards_tripped": [],
               "transcript": f"/t/{session}.cast", "player": "alice"}
    written.update(fields)
    return written


def write_ledger(path: Path, lines: list[dict[str, Any] | str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((text if isinstance(text, str) else json.dumps(text)) + "\n" for text in lines))
    return path


def export(*args: str) -> Any:
    return runner.invoke(dispatcher.build(), ["export", *args])


def sessions_of(stdout: str) -> list[str]:
    return [json.loads(text)["session"] for text in stdout.splitlines()]


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    """This machine's ledger (under the test's REPLAYBOOK_HOME), four sessions."""
    return write_ledger(paths.ledger_path(), [
        line("s1"),
        line("s2", scenario="002-postgres-wont-start", fault="wrong-owner", outcome="timeout",
             started_at="2026-12-03T08:00:00+00:00", score=0, player="bob"),
        line("s3", pack="drills", outcome="abandoned", started_at="2026-12-05T23:30:00+00:00", score=0),
        line("s4", started_at="2026-12-06T09:00:00+00:00", guards_tripped=["migration-kept", "data-intact"]),
    ])


def test_jsonl_is_the_ledger_as_written_unknown_fields_kept(tmp_path: Path) -> None:
    written = [line("s1", team="blue", extra={"k": [1, 2]}), line("s2", outcome="timeout", zz=None)]
    source = write_ledger(tmp_path / "team.jsonl", written)
    result = export("--ledger", str(source))
    assert result.exit_code == 0, result.output
    assert result.stdout == source.read_text()  # byte for byte: a round trip
    again = write_ledger(tmp_path / "again.jsonl", [json.loads(text) for text in result.stdout.splitlines()])
    assert export("--ledger", str(again)).stdout == result.stdout


def test_csv_has_its_header_and_rows(ledger: Path) -> None:
    result = export("--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout, newline="")))
    assert list(rows[0]) == list(CSV_FIELDS)
    assert [row["session"] for row in rows] == ["s1", "s2", "s3", "s4"]
    assert (rows[1]["fault"], rows[1]["player"], rows[1]["outcome"]) == ("wrong-owner", "bob", "timeout")
    assert rows[3]["guards_tripped"] == "migration-kept;data-intact"
    assert rows[0]["elapsed_seconds"] == "250.5" and rows[0]["fault"] == ""


def test_csv_is_inert_and_guarded_against_formulas(tmp_path: Path) -> None:
    source = write_ledger(tmp_path / "hostile.jsonl", [
        line("s1", player="=HYPERLINK(\"http://evil\",\"x\")", fault="@SUM(1)",
             transcript="\x1b]52;c;cm0gLXJmIH4=\x07/t.cast", scenario="+cmd|' /C calc'!A0"),
    ])
    result = export("--format", "csv", "--ledger", str(source))
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    row = next(csv.DictReader(io.StringIO(result.stdout, newline="")))
    assert row["player"] == "'=HYPERLINK(\"http://evil\",\"x\")"
    assert row["fault"] == "'@SUM(1)"
    assert row["scenario"] == "'+cmd|' /C calc'!A0"
    assert row["transcript"] == "/t.cast"


@pytest.mark.parametrize(("args", "expected"), [
    (["--scenario", "001-nginx-502"], ["s1", "s3", "s4"]),
    (["--scenario", "drills/001-nginx-502"], ["s3"]),
    (["--pack", "drills"], ["s3"]),
    (["--since", "2026-12-03"], ["s2", "s3", "s4"]),
    (["--since", "2026-12-05T23:30:00+00:00"], ["s3", "s4"]),
    (["--since", "2026-12-06T10:00:00+02:00"], ["s4"]),  # 08:00 UTC
    (["--outcome", "abandoned"], ["s3"]),
    (["--player", "bob"], ["s2"]),
    (["--scenario", "001-nginx-502", "--outcome", "success", "--since", "2026-12-02"], ["s4"]),
    (["--pack", "nowhere"], []),
], ids=lambda value: " ".join(value) if value and value[0].startswith("--") else None)
def test_every_filter(ledger: Path, args: list[str], expected: list[str]) -> None:
    result = export(*args)
    assert result.exit_code == 0, result.output
    assert sessions_of(result.stdout) == expected
    csv_result = export("--format", "csv", *args)
    assert [row["session"] for row in csv.DictReader(io.StringIO(csv_result.stdout))] == expected


@pytest.mark.parametrize(("args", "named"), [
    (["--since", "last week"], "--since: 'last week'"),
    (["--since", "2026-02-30"], "--since: '2026-02-30'"),
    (["--outcome", "won"], "--outcome: 'won'"),
    (["--format", "xml"], "--format: 'xml'"),
])
def test_a_bad_option_exits_3_naming_it(ledger: Path, args: list[str], named: str) -> None:
    result = export(*args)
    assert result.exit_code == 3
    assert result.stdout == ""
    assert f"Error: {named}" in result.stderr
    assert "Traceback" not in result.output


def test_an_empty_ledger_writes_nothing_or_the_header() -> None:
    result = export()  # no ledger at all on this machine yet
    assert (result.exit_code, result.stdout) == (0, "")
    write_ledger(paths.ledger_path(), [])
    assert (export().exit_code, export().stdout) == (0, "")
    result = export("--format", "csv")
    assert result.exit_code == 0
    assert result.stdout == ",".join(CSV_FIELDS) + "\n"


def test_a_damaged_line_is_warned_with_file_and_line_and_the_rest_exported(tmp_path: Path) -> None:
    source = write_ledger(tmp_path / "torn.jsonl",
                          [line("s1"), '{"session": "s2", "scen', line("s3"), "[1, 2]"])
    result = export("--ledger", str(source))
    assert result.exit_code == 0
    assert sessions_of(result.stdout) == ["s1", "s3"]
    assert f"warning: {source}: line 2: skipped (not JSON" in result.stderr
    assert f"warning: {source}: line 4: skipped (not a JSON object)" in result.stderr


def test_two_ledgers_are_merged_in_the_order_played(tmp_path: Path) -> None:
    alice = EXAMPLES / "ledger-alice.jsonl"
    bob = EXAMPLES / "ledger-bob.jsonl"
    result = export("--ledger", str(alice), "--ledger", str(bob))
    assert result.exit_code == 0, result.output
    exported = [json.loads(text) for text in result.stdout.splitlines()]
    lines_of = [json.loads(text) for source in (alice, bob) for text in source.read_text().splitlines()
                if text.strip()]
    assert len(exported) == len(lines_of)
    assert {item["player"] for item in exported} == {"alice", "bob"}
    started = [item["started_at"] for item in exported]
    assert started == sorted(started)
    # The same ledger given twice counts once.
    twice = export("--ledger", str(alice), "--ledger", str(alice))
    assert twice.stdout == export("--ledger", str(alice)).stdout


def test_a_missing_ledger_is_named(tmp_path: Path) -> None:
    result = export("--ledger", str(tmp_path / "nope.jsonl"))
    assert result.exit_code == 4
    assert "nope.jsonl: no such ledger" in result.stderr


@pytest.mark.parametrize("format_", ["jsonl", "csv"])
def test_a_reader_that_goes_away_ends_the_export_quietly(tmp_path: Path, format_: str) -> None:
    """`replay-export | head -1` on a ledger much bigger than a pipe's buffer."""
    source = write_ledger(tmp_path / "big.jsonl", [line(f"s{n:05}") for n in range(5000)])
    exporting = subprocess.Popen([str(BIN / "replay-export"), "--format", format_, "--ledger", str(source)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert exporting.stdout is not None and exporting.stderr is not None
    first = exporting.stdout.readline()
    exporting.stdout.close()  # what head does after its line
    status = exporting.wait(timeout=60)
    stderr = exporting.stderr.read().decode()
    assert first.startswith(b"session," if format_ == "csv" else b'{"session": "s00000"')
    assert status == 0
    assert stderr == ""


def test_the_shell_pipe_to_head(tmp_path: Path) -> None:
    source = write_ledger(tmp_path / "big.jsonl", [line(f"s{n:05}") for n in range(5000)])
    shell = subprocess.run(
        ["bash", "-c",
         f'"{BIN}/replay-export" --ledger "{source}" | head -1; echo "status=${{PIPESTATUS[0]}}"'],
        capture_output=True, text=True, timeout=60, check=True,
    )
    assert shell.stdout.splitlines()[0].startswith('{"session": "s00000"')
    assert shell.stdout.splitlines()[-1] == "status=0"
    assert shell.stderr == ""
