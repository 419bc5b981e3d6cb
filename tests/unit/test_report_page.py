"""The report page (libreplay.progress.report) read back with the standard library's HTML parser:
its structure, its charts' series, the escaping of hostile ledger text, the empty ledger, a team
report merged from two ledgers, and the same bytes for the same ledger."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from libreplay.core.errors import InvalidInput, NotFound
from libreplay.progress.report import CONTENT_SECURITY_POLICY, leaderboards, report_page, write_report
from libreplay.session.ledger import LedgerEntry, read_ledgers

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
SAMPLES = [EXAMPLES / "ledger-alice.jsonl", EXAMPLES / "ledger-bob.jsonl"]


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    parent: Element | None
    children: list[Element] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    def all_text(self) -> str:
        return "".join(self.text) + "".join(child.all_text() for child in self.children)

    def walk(self) -> list[Element]:
        found = [self]
        for child in self.children:
            found += child.walk()
        return found

    def find(self, tag: str, **attrs: str) -> list[Element]:
        return [e for e in self.walk() if e.tag == tag and all(e.attrs.get(k) == v for k, v in attrs.items())]

    def by_id(self, element_id: str) -> Element:
        (found,) = [e for e in self.walk() if e.attrs.get("id") == element_id]
        return found


VOID = {"meta", "br", "img", "input", "link", "hr"}


class Tree(HTMLParser):
    """A small DOM: enough to count elements and read text as a browser's parser would."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {}, None)
        self.current = self.root
        self.declarations: list[str] = []
        self.feed(page)
        self.close()

    def handle_decl(self, decl: str) -> None:
        self.declarations.append(decl)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(element)
        if tag not in VOID:
            self.current = element

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.current.children.append(Element(tag, {k: v or "" for k, v in attrs}, self.current))

    def handle_endtag(self, tag: str) -> None:
        element: Element | None = self.current
        while element is not None and element.tag != tag:
            element = element.parent
        assert element is not None and element.parent is not None, f"</{tag}> closes nothing"
        self.current = element.parent

    def handle_data(self, data: str) -> None:
        self.current.text.append(data)


def write_ledger(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def line(session: str, scenario: str, *, player: str | None, day: int, outcome: str = "success",
         score: int = 700, elapsed: float = 300.0, hints: int = 1,
         fault: str | None = None) -> dict[str, Any]:
    return {"session": session, "scenario": scenario, "pack": "official", "fault": fault, "player": player,
            "started_at": f"2026-11-{day:02d}T10:00:00+00:00",
            "ended_at": f"2026-11-{day:02d}T10:10:00+00:00",
            "outcome": outcome, "elapsed_seconds": elapsed, "sla_seconds": 900, "hints_used": hints,
            "hints_total": 3, "score": score if outcome == "success" else 0, "relapses": 0,
            "guards_tripped": [], "transcript": f"/home/x/{session}.cast"}


@pytest.fixture(scope="module")
def samples() -> list[LedgerEntry]:
    return read_ledgers(SAMPLES).entries


@pytest.fixture(scope="module")
def team_page(samples: list[LedgerEntry]) -> str:
    return report_page(samples, title="Team", sources=SAMPLES)


def markers(tree: Tree, series_id: str) -> int:
    """The data points of a series: matplotlib draws each marker as a <use> in the line's group."""
    return len(tree.root.by_id(series_id).find("use"))


def test_the_page_is_one_document_that_loads_nothing(team_page: str) -> None:
    tree = Tree(team_page)
    assert tree.declarations == ["DOCTYPE html"]
    (policy,) = tree.root.find("meta", **{"http-equiv": "Content-Security-Policy"})
    assert policy.attrs["content"] == CONTENT_SECURITY_POLICY
    rules = dict(rule.strip().split(" ", 1) for rule in CONTENT_SECURITY_POLICY.split(";"))
    assert rules == {"default-src": "'none'", "style-src": "'unsafe-inline'", "base-uri": "'none'",
                     "form-action": "'none'"}  # nothing fetched, no script: only the inline style
    tags = Counter(element.tag for element in tree.root.walk())
    assert tags["script"] == tags["link"] == tags["img"] == tags["iframe"] == tags["object"] == 0
    assert tags["svg"] == 4  # the four charts, inline
    # No address to fetch: the only URLs are the SVG namespaces, which name and load nothing.
    sources = {value for e in tree.root.walk() for name, value in e.attrs.items()
               if name in {"src", "href", "xlink:href", "action", "srcset", "poster", "data"}}
    assert all(value.startswith("#") for value in sources), sources
    assert "url(http" not in team_page and "@import" not in team_page


def test_ids_are_unique_across_the_inline_charts(team_page: str) -> None:
    ids = Counter(e.attrs["id"] for e in Tree(team_page).root.walk() if "id" in e.attrs)
    assert [name for name, count in ids.items() if count > 1] == []
    # every reference (a marker's shape, a clip path) points at an element of the page
    refs = {e.attrs.get("xlink:href", "")[1:] for e in Tree(team_page).root.walk()} - {""}
    clips = {value[5:-1] for e in Tree(team_page).root.walk() for value in [e.attrs.get("clip-path", "")]
             if value.startswith("url(#")}
    assert refs | clips <= set(ids)


def test_each_series_has_a_marker_per_session(team_page: str, samples: list[LedgerEntry]) -> None:
    tree = Tree(team_page)
    for player in ("alice", "bob"):
        played = [entry for entry in samples if entry.player == player]
        assert markers(tree, f"score-{player}") == len(played)
        assert markers(tree, f"hints-{player}") == len(played)
        assert markers(tree, f"fix-time-{player}") == sum(entry.won for entry in played)
        legend = [li for li in tree.root.find("li") if li.attrs.get("data-series") == player]
        assert legend and all(li.all_text() == player for li in legend)
    scenarios = {entry.ref for entry in samples}
    for outcome in ("success", "timeout", "abandoned"):
        bars = [e for e in tree.root.walk() if e.attrs.get("id", "").startswith(f"outcomes-{outcome}-")]
        assert len(bars) == len(scenarios)  # one per scenario row, zero wide when none


def test_the_scenario_table_lists_every_scenario(team_page: str, samples: list[LedgerEntry]) -> None:
    table = Tree(team_page).root.by_id("scenario-table")
    rows = table.find("tbody")[0].find("tr")
    assert [row.attrs["data-scenario"] for row in rows] == sorted({entry.ref for entry in samples})
    nginx = next(row for row in rows if row.attrs["data-scenario"] == "official/001-nginx-502")
    cells = [cell.all_text() for cell in nginx.find("td")]
    assert cells[1] == str(sum(entry.ref == "official/001-nginx-502" for entry in samples))


def test_every_session_is_listed_with_its_replay_command(team_page: str, samples: list[LedgerEntry]) -> None:
    table = Tree(team_page).root.by_id("session-table")
    rows = table.find("tbody")[0].find("tr")
    assert len(rows) == len(samples)
    commands = [row.find("code")[0].all_text() for row in rows]
    assert commands == [f"replaybook replay {entry.session}" for entry in reversed(samples)]
    newest = samples[-1]
    first = [cell.all_text() for cell in rows[0].find("td")]
    assert first[1] == newest.player and first[2] == newest.ref and first[4] == newest.outcome
    assert first[7] == str(newest.score)


def test_a_merged_ledger_gets_a_leaderboard_naming_both_players(team_page: str) -> None:
    tree = Tree(team_page)
    boards = [e for e in tree.root.find("div") if "board" in e.attrs.get("class", "").split()]
    nginx = next(board for board in boards if board.attrs["data-scenario"] == "official/001-nginx-502")
    players = [row.find("td")[1].all_text() for row in nginx.find("tbody")[0].find("tr")]
    assert players == ["alice", "bob"]  # alice's best score on it is the higher
    assert "2 sessions" not in tree.root.by_id("leaderboards-section").all_text()


def test_leaderboard_ranks_by_best_score_then_time(tmp_path: Path) -> None:
    ledger = write_ledger(tmp_path / "l.jsonl", [
        line("a1", "s", player="ann", day=1, score=700, elapsed=300),
        line("b1", "s", player="ben", day=2, score=700, elapsed=200),  # same score, faster
        line("c1", "s", player="cat", day=3, score=900, elapsed=100),
        line("c2", "s", player="cat", day=4, outcome="timeout", elapsed=900),
        line("d1", "s", player="dan", day=5, outcome="abandoned", elapsed=50),
        line("a2", "s", player="ann", day=6, score=650, elapsed=100),  # not ann's best
    ])
    (board,) = leaderboards(read_ledgers([ledger]).entries).values()
    assert [(s.player, s.best_score, s.best_seconds, s.successes, s.attempts) for s in board] == [
        ("cat", 900, 100, 1, 2), ("ben", 700, 200, 1, 1), ("ann", 700, 300, 2, 2), ("dan", 0, None, 0, 1)]


HOSTILE_PLAYER = "<script>document.title='pwned'</script>"
HOSTILE_SCENARIO = "</svg><img src=x onerror=\"document.title='pwned'\">"
HOSTILE_FAULT = "\"' onmouseover=\"alert(1)\" data-x='"
DOLLAR_NAME = "$x^2$ & co"


def hostile_entries(tmp_path: Path) -> list[LedgerEntry]:
    ledger = write_ledger(tmp_path / "hostile.jsonl", [
        line("aaaa0001", HOSTILE_SCENARIO, player=HOSTILE_PLAYER, day=1, fault=HOSTILE_FAULT),
        line("aaaa0002", "esc\x1b]52;c;cm0gLXJmIH4=\x07ape\u202e", player=DOLLAR_NAME, day=2,
             outcome="timeout"),
        line("<b>bold</b>", DOLLAR_NAME, player="ctl\x00\x07\x1b[31mred", day=3, fault="</td></tr></table>"),
    ])
    return read_ledgers([ledger]).entries


def test_hostile_ledger_text_stays_text(tmp_path: Path) -> None:
    page = report_page(hostile_entries(tmp_path), title="<i>title</i>")
    tree = Tree(page)
    tags = Counter(element.tag for element in tree.root.walk())
    assert tags["script"] == tags["img"] == tags["i"] == tags["b"] == 0
    assert tags["svg"] == 4 and tags["table"] == 2 + 3  # scenarios, sessions, a board per scenario
    assert not [name for e in tree.root.walk() for name in e.attrs if name.startswith("on")]
    assert not [name for e in tree.root.walk() for name in e.attrs if name == "data-x"]
    text = tree.root.all_text()
    for shown in (HOSTILE_PLAYER, HOSTILE_SCENARIO, HOSTILE_FAULT, DOLLAR_NAME, "<i>title</i>",
                  "<b>bold</b>"):
        assert shown in text
    # control, escape and bidi characters are gone (inert), never written into the page
    assert not any(ch in page for ch in "\x00\x07\x1b\u202e")
    assert "ctl??" in text and "cm0gLXJmIH4=" not in text
    # the `$` name is literal text in the chart too (no mathtext): the outcome chart's row label
    labels = [t.all_text() for t in tree.root.by_id("chart-outcomes").find("text")]
    assert "official/$x^2$ & co" in labels


def test_an_empty_ledger_gives_a_page_saying_so() -> None:
    page = report_page([], sources=[Path("nothing.jsonl")])
    tree = Tree(page)
    assert tree.declarations == ["DOCTYPE html"]
    assert "No sessions yet" in tree.root.all_text()
    assert tree.root.find("svg") == [] and tree.root.find("table") == []
    assert tree.root.find("meta", **{"http-equiv": "Content-Security-Policy"})


def test_sessions_without_a_time_are_tabled_and_noted(tmp_path: Path) -> None:
    untimed = line("cccc0001", "s", player="ann", day=1)
    untimed.pop("started_at")
    untimed.pop("ended_at")
    ledger = write_ledger(tmp_path / "l.jsonl", [line("cccc0002", "s", player="ann", day=2), untimed])
    tree = Tree(report_page(read_ledgers([ledger]).entries))
    assert markers(tree, "score-ann") == 1
    assert "1 session(s) without a usable time are not on this chart." in tree.root.by_id("score").all_text()
    assert len(tree.root.by_id("session-table").find("tbody")[0].find("tr")) == 2


def test_same_ledger_same_bytes_in_any_process(team_page: str, samples: list[LedgerEntry]) -> None:
    assert report_page(samples, title="Team", sources=SAMPLES) == team_page
    program = ("import sys; from pathlib import Path; from libreplay.progress.report import report_page;"
               "from libreplay.session.ledger import read_ledgers; s=[Path(a) for a in sys.argv[1:]];"
               "sys.stdout.write(report_page(read_ledgers(s).entries, title='Team', sources=s))")
    pages = {subprocess.run([sys.executable, "-c", program, *map(str, SAMPLES)], capture_output=True,
                            text=True, check=True, env={**os.environ, "PYTHONHASHSEED": seed},
                            timeout=120).stdout
             for seed in ("1", "2")}
    assert pages == {team_page}


def test_the_page_is_written_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("the old page")
    write_report(target, "<!DOCTYPE html>new")
    assert target.read_text() == "<!DOCTYPE html>new"
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]  # no temporary file left

    with pytest.raises(NotFound, match=r"directory .*missing does not exist"):
        write_report(tmp_path / "missing" / "report.html", "x")
    assert not (tmp_path / "missing").exists()
    with pytest.raises(InvalidInput, match="is a directory"):
        write_report(tmp_path, "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_a_directory_no_file_can_be_made_in_is_named() -> None:
    """An unwritable directory, for root too (CI runs as root): sysfs makes no regular file,
    whoever asks, so the write fails, and the error names the file."""
    with pytest.raises(InvalidInput, match=r"/sys/replaybook-report\.html: cannot be written"):
        write_report(Path("/sys/replaybook-report.html"), "x")


def test_a_dense_ledger_still_draws_every_session(tmp_path: Path) -> None:
    """Past DENSE_POINTS sessions the charts drop their joining lines and stems, not their points."""
    from libreplay.progress.charts import DENSE_POINTS

    sessions = DENSE_POINTS + 30
    ledger = write_ledger(tmp_path / "big.jsonl", [
        line(f"{n:08x}", f"s{n % 4}", player=("ann", "ben")[n % 2], day=1 + n % 28, hints=n % 4,
             outcome=("success", "timeout")[n % 3 == 0]) for n in range(sessions)])
    entries = read_ledgers([ledger]).entries
    tree = Tree(report_page(entries))
    for player in ("ann", "ben"):
        played = [entry for entry in entries if entry.player == player]
        assert markers(tree, f"score-{player}") == markers(tree, f"hints-{player}") == len(played)
        assert markers(tree, f"fix-time-{player}") == sum(entry.won for entry in played)
    assert tree.root.by_id("chart-hints").find("path")  # the axes and markers, ...
    assert not [e for e in tree.root.by_id("chart-hints").walk() if e.attrs.get("id", "").startswith(
        "hints-LineCollection")]  # ... no stems


def test_odd_values_and_look_alike_names_still_make_a_page(tmp_path: Path) -> None:
    """Years a date axis cannot show, numbers far out of range, names that slug alike."""
    odd = [line("dddd0001", "s", player="Bob", day=1, score=10**30, hints=10**9),
           line("dddd0002", "s", player="bob", day=2, outcome="timeout"),
           line("dddd0003", "t", player="b.o.b", day=3, elapsed=1e12),
           line("dddd0004", "t", player="$$", day=4)]
    odd[1]["started_at"] = "9999-12-31T23:59:59+14:00"
    odd[3]["started_at"] = "0001-01-01T00:00:00+14:00"  # before year 1 in UTC: the end's time is used
    entries = read_ledgers([write_ledger(tmp_path / "odd.jsonl", odd)]).entries
    tree = Tree(report_page(entries))
    keys = [li.attrs["data-series"] for li in tree.root.by_id("score").find("li")]
    assert sorted(keys) == ["b-o-b", "bob", "bob-2", "player"]  # one each, none shared
    assert markers(tree, "score-bob") == 1 and markers(tree, "score-b-o-b") == 1
    assert "1 session(s) without a usable time are not on this chart." in tree.root.by_id("score").all_text()
    assert markers(tree, "score-player") == 1  # "$$", placed at its end
    assert len(tree.root.by_id("session-table").find("tbody")[0].find("tr")) == 4


def test_names_in_any_script_are_drawn_as_text_without_warnings(tmp_path: Path,
                                                                recwarn: pytest.WarningsRecorder) -> None:
    ledger = write_ledger(tmp_path / "l.jsonl", [line("eeee0001", "障害-🔥", player="太郎", day=1)])
    tree = Tree(report_page(read_ledgers([ledger]).entries))
    assert "official/障害-🔥" in [t.all_text() for t in tree.root.by_id("chart-outcomes").find("text")]
    assert [str(w.message) for w in recwarn] == []
