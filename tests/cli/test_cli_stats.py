"""replay-stats in process: the table, totals and Next line, --json, --player, awkward ledgers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from scenario_kit import use_official_pack, write_scenario
from typer.testing import CliRunner, Result

from libreplay.core import paths
from libreplay.core.table import cell_width
from libreplay.progress.campaign import suggest_next
from libreplay.progress.stats import summarize
from libreplay.session.ledger import Ledgers, read_ledgers
from replaybook.commands import stats
from replaybook.commands.stats import suggestion_record

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
ALICE = EXAMPLES / "ledger-alice.jsonl"
BOB = EXAMPLES / "ledger-bob.jsonl"


def run(*args: str | Path) -> Result:
    result = CliRunner().invoke(stats.app, [str(arg) for arg in args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def stats_of(*args: str | Path) -> Result:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


def as_json(*args: str | Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(stats_of(*args, "--json").stdout)
    return data


def expected_next(ledgers: Ledgers) -> str:
    suggestion = suggest_next(ledgers)
    assert suggestion is not None
    return f"Next: {suggestion.title} — {suggestion.reason}"


def joined_next(stdout: str) -> str:
    """The Next line, its wrapped continuation lines joined again."""
    lines = stdout.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("Next: "))
    return " ".join(line.strip() for line in lines[start:])


def ledger_line(**fields: Any) -> str:
    line = {"session": "0000aaaa", "scenario": "001-nginx-502", "pack": "official", "outcome": "success",
            "started_at": "2026-11-02T10:00:00+00:00", "elapsed_seconds": 300.0, "sla_seconds": 900,
            "hints_used": 1, "score": 700, "player": "carol", **fields}
    return json.dumps(line)


# -- the table ------------------------------------------------------------------------------


def test_the_table_totals_and_next_fit_80_columns() -> None:
    out = stats_of("--ledger", ALICE, "--ledger", BOB).stdout
    lines = out.splitlines()
    assert lines[0].split() == ["SCENARIO", "PLAYED", "WON", "BEST", "MEDIAN", "HINTS", "SCORE", "LAST"]
    assert set(lines[1]) == {"-"}
    assert all(cell_width(line) <= 80 for line in lines), [line for line in lines if cell_width(line) > 80]
    nginx = next(line for line in lines if line.startswith("001-nginx-502 "))
    assert nginx.split() == ["001-nginx-502", "4", "4", "02:42", "04:57", "1.5", "892", "2026-10-19"]
    never_won = next(line for line in lines if line.startswith("008-migration-lock "))
    assert never_won.split()[3:7] == ["-", "-", "2.0", "-"]
    assert "Total: 23 sessions, 17 won (74%), 3h 00m trained, score 11742" in lines
    assert "Players: alice, bob" in lines


def test_a_long_name_is_cut_to_keep_the_table_within_80_columns(tmp_path: Path) -> None:
    ledger = tmp_path / "long.jsonl"
    long_pack = "a-pack-with-a-rather-long-name-from-github"
    wide = "二〇二六-全角の名前-とても長いシナリオ名です"  # two cells a character
    ledger.write_text(ledger_line(pack=long_pack, scenario="042-a-scenario-id-that-goes-on-and-on") + "\n"
                      + ledger_line(session="0000bbbb", scenario=wide) + "\n")
    lines = stats_of("--ledger", ledger).stdout.splitlines()
    assert all(cell_width(line) <= 80 for line in lines)
    rows = [line for line in lines[2:] if "…" in line]
    assert len(rows) == 2
    assert rows[0].startswith("a-pack-…/042-a-scenario-i…  1 ")
    assert rows[1].startswith("二〇二六-全角の名前-とて… ")


def test_the_next_line_is_what_suggest_next_gives_for_the_same_ledger() -> None:
    for ledgers in ([ALICE], [BOB], [ALICE, BOB]):
        args = [part for ledger in ledgers for part in ("--ledger", ledger)]
        out = stats_of(*args).stdout
        assert joined_next(out) == expected_next(read_ledgers(ledgers))
        suggestion = suggest_next(read_ledgers(ledgers))
        assert suggestion is not None
        assert as_json(*args)["next"] == suggestion_record(suggestion)


def test_player_keeps_one_players_sessions_and_the_next_line_follows(tmp_path: Path) -> None:
    merged = tmp_path / "team.jsonl"
    merged.write_bytes(ALICE.read_bytes() + BOB.read_bytes())
    both = run("--ledger", merged)
    assert "2 players" in both.stderr
    bob = stats_of("--ledger", merged, "--player", "bob")
    assert "Total: 8 sessions, 6 won (75%)" in bob.stdout
    assert "players" not in bob.stderr
    bob_only = Ledgers([entry for entry in read_ledgers([merged]).entries if entry.player == "bob"])
    assert joined_next(bob.stdout) == expected_next(bob_only) == expected_next(read_ledgers([BOB]))
    nobody = stats_of("--ledger", merged, "--player", "dave")
    assert nobody.stderr.strip() == "No sessions of dave yet."
    assert nobody.stdout.startswith("Next: ")


# -- --json ---------------------------------------------------------------------------------


def test_json_has_each_scenario_the_totals_and_next() -> None:
    data = as_json("--ledger", ALICE)
    summary = summarize(read_ledgers([ALICE]).entries)
    assert [s["ref"] for s in data["scenarios"]] == [s.ref for s in summary.scenarios]
    nginx = data["scenarios"][0]
    assert nginx == {
        "ref": "official/001-nginx-502", "scenario": "001-nginx-502", "pack": "official", "attempts": 2,
        "successes": 2, "timeouts": 0, "abandoned": 0, "success_rate": 1.0, "best_seconds": 162.0,
        "median_seconds": 265.5, "mean_hints": 1.0, "best_score": 892,
        "last_played": "2026-10-10T21:45:00+00:00", "last_outcome": "success",
    }
    assert data["totals"] == {"sessions": 15, "successes": 11, "success_rate": round(11 / 15, 4),
                              "seconds_trained": summary.totals.seconds_trained, "score": 7707,
                              "players": ["alice"]}
    assert data["next"]["kind"] == "retry" and data["next"]["ref"] == "official/008-migration-lock"


# -- empty, corrupted, merged, missing ---------------------------------------------------------


def test_an_empty_ledger_says_so_and_still_suggests_the_easiest_scenario(tmp_path: Path) -> None:
    result = stats_of()  # this machine's ledger, which does not exist yet
    assert result.stderr.strip() == "No sessions yet."
    assert result.stdout.splitlines() == [expected_next(Ledgers())]
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    data = as_json("--ledger", empty)
    assert data["scenarios"] == [] and data["totals"]["sessions"] == 0
    assert data["next"]["kind"] == "new" and data["next"]["difficulty"] == 1


def test_this_machines_ledger_is_read_by_default() -> None:
    paths.ledger_path().parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(BOB, paths.ledger_path())
    assert stats_of().stdout == stats_of("--ledger", BOB).stdout


def test_a_corrupted_line_is_named_by_file_and_line_and_the_rest_is_counted(tmp_path: Path) -> None:
    torn = tmp_path / "torn.jsonl"
    lines = ALICE.read_text().splitlines()
    lines.insert(3, '{"session": "deadbeef", "scenario": "001-ng')
    torn.write_text("\n".join(lines) + "\n")
    result = stats_of("--ledger", torn)
    assert f"warning: {torn}: line 4: skipped (not JSON" in result.stderr
    assert result.stdout == stats_of("--ledger", ALICE).stdout


def test_two_ledgers_merge_and_a_ledger_given_twice_counts_once(tmp_path: Path) -> None:
    merged = as_json("--ledger", ALICE, "--ledger", BOB)
    assert merged["totals"]["sessions"] == 23
    assert merged["totals"]["players"] == ["alice", "bob"]
    assert as_json("--ledger", ALICE, "--ledger", BOB, "--ledger", ALICE) == merged
    again = stats_of("--ledger", ALICE, "--ledger", ALICE)
    assert "note: 15 session line(s) met more than once were counted once" in again.stderr


def test_a_missing_ledger_or_a_bad_player_is_refused_with_its_exit_status(tmp_path: Path) -> None:
    missing = run("--ledger", tmp_path / "nope.jsonl")
    assert missing.exit_code == 4 and "nope.jsonl: no such ledger" in missing.stderr
    assert missing.stdout == ""
    bad = run("--ledger", ALICE, "--player", " spaced ")
    assert bad.exit_code == 3 and "--player" in bad.stderr


# -- hostile text ------------------------------------------------------------------------------


@pytest.mark.parametrize("as_json_", [False, True])
def test_escape_sequences_in_a_ledger_or_a_pack_come_out_inert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, as_json_: bool,
) -> None:
    official = use_official_pack(monkeypatch, tmp_path / "official", [])
    write_scenario(official / "001-evil", meta={"id": "001-evil", "difficulty": 1,
                                                "title": "Evil \x1b]0;owned\x07title\x1b[2J"})
    ledger = tmp_path / "hostile.jsonl"
    ledger.write_text("\n".join([
        ledger_line(scenario="x\x1b[31mred\x1b[0m\x07", player="eve\x1b]8;;http://x\x1b\\"),
        ledger_line(session="0000cccc", scenario="\u202eevil\u0000", pack="p\x1b[1Ak", player="\x9b2J"),
    ]) + "\n")
    result = stats_of("--ledger", ledger, *(["--json"] if as_json_ else []))
    for text in (result.stdout, result.stderr):
        assert not any(char in text for char in "\x1b\x07\x9b\x00\u202e"), repr(text)
    if as_json_:
        data = json.loads(result.stdout)
        assert data["next"]["title"] == "Evil title"
        assert "eve" in data["totals"]["players"]
    else:
        assert "Next: Evil title — not played yet (difficulty 1)" in result.stdout
        assert all(cell_width(line) <= 80 for line in result.stdout.splitlines())


def test_wide_titles_and_names_are_wrapped_to_80_cells_not_80_characters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    official = use_official_pack(monkeypatch, tmp_path / "official", [])
    title = "データベースの接続がすべて使い果たされて応答しない障害 " * 2
    write_scenario(official / "001-wide", meta={"id": "001-wide", "difficulty": 1, "title": title.strip()})
    ledger = tmp_path / "team.jsonl"
    lines = [ledger_line(session=f"0000{n:04x}", scenario="009-gone", player=f"プレイヤー{n}")
             for n in range(12)]
    ledger.write_text("\n".join(lines) + "\n")
    out = stats_of("--ledger", ledger).stdout
    assert all(cell_width(line) <= 80 for line in out.splitlines()), out
    expected = f"Next: {title} — not played yet (difficulty 1)"
    assert "".join(joined_next(out).split()) == "".join(expected.split())
    players = out[out.index("Players: "):out.index("Next: ")]
    assert "".join(players.split()).count("プレイヤー") == 12


def test_replaybook_stats_runs_through_the_dispatcher() -> None:
    replaybook = Path(sys.executable).parent / "replaybook"
    done = subprocess.run([str(replaybook), "stats", "--ledger", str(BOB)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == stats_of("--ledger", BOB).stdout
