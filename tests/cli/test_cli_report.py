"""replay-report in-process: the page written and its path on stdout, --player, --title, merged
ledgers, and every bad input refused with its exit status, naming it, leaving nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from replaybook.commands.main import build

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
ALICE, BOB = EXAMPLES / "ledger-alice.jsonl", EXAMPLES / "ledger-bob.jsonl"


def report(*args: str) -> Result:
    return CliRunner().invoke(build(), ["report", *args])


def session_rows(page: str) -> list[str]:
    body = page.split('<table id="session-table">', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return body.split("<tr>")[1:]


def test_a_team_report_is_written_and_its_path_printed(tmp_path: Path) -> None:
    page = tmp_path / "team.html"
    result = report("--html", str(page), "--ledger", str(ALICE), "--ledger", str(BOB), "--title", "Blue team")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{page}\n"  # data on stdout, talk on stderr
    assert "Reporting 23 session(s)" in result.stderr
    text = page.read_text()
    assert "<title>Blue team</title>" in text
    assert len(session_rows(text)) == len(ALICE.read_text().splitlines()) + len(BOB.read_text().splitlines())
    assert "ledger-alice.jsonl, ledger-bob.jsonl" in text


def test_player_keeps_only_that_player_s_sessions(tmp_path: Path) -> None:
    page = tmp_path / "bob.html"
    result = report("--html", str(page), "--ledger", str(ALICE), "--ledger", str(BOB), "--player", "bob")
    assert result.exit_code == 0, result.output
    rows = session_rows(page.read_text())
    assert len(rows) == len(BOB.read_text().splitlines())
    assert all("<td>bob</td>" in row for row in rows)
    assert "player bob only" in page.read_text()


def test_an_unknown_player_is_refused_and_the_old_page_kept(tmp_path: Path) -> None:
    page = tmp_path / "r.html"
    page.write_text("the old page")
    result = report("--html", str(page), "--ledger", str(ALICE), "--player", "carol")
    assert result.exit_code == 4
    assert "--player: no session of 'carol'" in result.stderr and "players in it: alice" in result.stderr
    assert page.read_text() == "the old page"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_a_page_in_a_missing_directory_is_refused_before_any_work(tmp_path: Path) -> None:
    page = tmp_path / "no" / "such" / "r.html"
    result = report("--html", str(page), "--ledger", str(ALICE))
    assert result.exit_code == 4
    assert f"Error: --html: {page}: directory {page.parent} does not exist" in result.stderr
    assert "Reporting" not in result.stderr  # refused before the charts are drawn
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_directory_as_the_page_is_refused(tmp_path: Path) -> None:
    result = report("--html", str(tmp_path), "--ledger", str(ALICE))
    assert result.exit_code == 3
    assert f"--html: {tmp_path} is a directory" in result.stderr


def test_a_missing_ledger_is_named(tmp_path: Path) -> None:
    result = report("--html", str(tmp_path / "r.html"), "--ledger", str(tmp_path / "gone.jsonl"))
    assert result.exit_code == 4
    assert f"{tmp_path / 'gone.jsonl'}: no such ledger" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_html_is_required() -> None:
    result = report("--ledger", str(ALICE))
    assert result.exit_code == 2
    assert "--html" in result.stderr


def test_no_ledger_yet_gives_a_page_saying_so(tmp_path: Path) -> None:
    page = tmp_path / "r.html"
    result = report("--html", str(page))  # this machine's ledger: none in the test's home
    assert result.exit_code == 0, result.output
    assert "No sessions yet" in page.read_text()


def test_unusable_lines_are_warned_and_counted(tmp_path: Path) -> None:
    ledger = tmp_path / "torn.jsonl"
    ledger.write_text(ALICE.read_text().splitlines()[0] + "\n" + '{"scenario": "x", "outc')
    page = tmp_path / "r.html"
    result = report("--html", str(page), "--ledger", str(ledger))
    assert result.exit_code == 0, result.output
    assert f"warning: {ledger}: line 2: skipped" in result.stderr
    assert "1 ledger line(s) could not be read and are left out." in page.read_text()
    assert json.loads(ALICE.read_text().splitlines()[0])["session"] in page.read_text()
