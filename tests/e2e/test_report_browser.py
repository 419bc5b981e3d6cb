"""`replaybook report --html` opened in a real browser: Debian's chromium, headless, driven by
Selenium through Debian's chromium-driver (both installed by `replaybook doctor --fix --tests`,
which `make test` runs). The report of the two sample ledgers, merged with a ledger of hostile
text, must draw every chart with one data point per session, list every scenario, run none of
the hostile text, and fetch nothing: the browser's performance log may show no request but the
page's own file."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browserkit import headless_chromium
from trainee import BIN

from libreplay.core.text import inert
from libreplay.session.ledger import LedgerEntry, read_ledgers

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(300)]

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
SAMPLES = [EXAMPLES / "ledger-alice.jsonl", EXAMPLES / "ledger-bob.jsonl"]
HOSTILE_PLAYER = "<script>document.title='pwned'</script>"
HOSTILE_SCENARIO = "</svg><img src=x onerror=\"document.title='pwned'\">"
HOSTILE_FAULT = "\"'><iframe src=\"https://example.invalid/\"></iframe>"


def hostile_ledger(path: Path) -> Path:
    lines = [
        {"session": "feed0001", "scenario": HOSTILE_SCENARIO, "pack": "official", "fault": HOSTILE_FAULT,
         "player": HOSTILE_PLAYER, "started_at": "2026-10-12T09:00:00+00:00", "outcome": "success",
         "elapsed_seconds": 200.0, "sla_seconds": 900, "hints_used": 1, "hints_total": 3, "score": 820},
        {"session": "feed0002", "scenario": "$x^2$", "pack": "official", "player": "$x^2$ \x1b[31m",
         "started_at": "2026-10-20T09:00:00+00:00", "outcome": "timeout", "elapsed_seconds": 900.0,
         "sla_seconds": 900, "hints_used": 3, "hints_total": 3, "score": 0},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    with headless_chromium("performance") as browser:
        yield browser


@pytest.fixture(scope="module")
def ledgers(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return [*SAMPLES, hostile_ledger(tmp_path_factory.mktemp("ledgers") / "ledger-hostile.jsonl")]


@pytest.fixture(scope="module")
def entries(ledgers: list[Path]) -> list[LedgerEntry]:
    return read_ledgers(ledgers).entries


@pytest.fixture(scope="module")
def opened(driver: Any, ledgers: list[Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The report made by the installed command, opened; what the browser logged while loading it."""
    page = tmp_path_factory.mktemp("report") / "team.html"
    arguments = [str(BIN / "replaybook"), "report", "--html", str(page), "--title", "Team <b>drill</b>"]
    for ledger in ledgers:
        arguments += ["--ledger", str(ledger)]
    made = subprocess.run(arguments, capture_output=True, text=True, timeout=120, check=False)
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == str(page)
    driver.get_log("performance")  # what came before this page is not its doing
    driver.get(page.as_uri())
    assert driver.execute_script("return document.readyState") == "complete"
    return {"url": page.as_uri(), "log": driver.get_log("performance")}


def count(driver: Any, selector: str) -> int:
    return int(driver.execute_script("return document.querySelectorAll(arguments[0]).length", selector))


def drawn_points(driver: Any, series_id: str) -> int:
    """The markers of a series that the browser laid out with a size, inside their chart."""
    return int(driver.execute_script("""
        const group = document.getElementById(arguments[0]);
        if (!group) return -1;
        const chart = group.closest('svg').getBoundingClientRect();
        return [...group.querySelectorAll('use')].filter(use => {
            const box = use.getBoundingClientRect();
            return box.width > 0 && box.height > 0 && box.left >= chart.left && box.right <= chart.right
                && box.top >= chart.top && box.bottom <= chart.bottom;
        }).length;""", series_id))


def test_every_chart_draws_a_point_per_session(driver: Any, opened: dict[str, Any],
                                               entries: list[LedgerEntry]) -> None:
    assert count(driver, "svg.chart") == 4
    keys = driver.execute_script(
        "return [...document.querySelectorAll('#score li[data-series]')]"
        ".map(li => [li.dataset.series, li.textContent])")
    players = {name: key for key, name in keys}
    assert {"alice", "bob"} <= set(players)
    for player, key in players.items():
        # names are shown inert (an escape sequence in a hostile name is gone)
        played = [entry for entry in entries if inert(entry.player or "", keep_newlines=False) == player]
        assert played, player
        assert drawn_points(driver, f"score-{key}") == len(played), player
        assert drawn_points(driver, f"hints-{key}") == len(played), player
        wins = sum(entry.won for entry in played)
        assert drawn_points(driver, f"fix-time-{key}") == (wins or -1), player  # -1: no such series
    scenarios = {entry.ref for entry in entries}
    for outcome in ("success", "timeout", "abandoned"):
        assert count(driver, f"#chart-outcomes [id^='outcomes-{outcome}-']") == len(scenarios)
    widths = driver.execute_script("""
        return [...document.querySelectorAll("#chart-outcomes [id^='outcomes-success-']")]
            .map(bar => bar.getBoundingClientRect().width)""")
    assert sum(width > 0 for width in widths) == len({entry.ref for entry in entries if entry.won})


def test_the_scenario_table_lists_every_scenario(driver: Any, opened: dict[str, Any],
                                                 entries: list[LedgerEntry]) -> None:
    listed = driver.execute_script(
        "return [...document.querySelectorAll('#scenario-table tbody tr td:first-child')]"
        ".map(td => td.textContent)")
    assert sorted(listed) == sorted({entry.ref for entry in entries})
    assert HOSTILE_SCENARIO in " ".join(listed)  # shown as text
    assert count(driver, "#session-table tbody tr") == len(entries)


def test_hostile_text_neither_ran_nor_added_elements(driver: Any, opened: dict[str, Any]) -> None:
    assert driver.title == "Team <b>drill</b>"
    assert count(driver, "script, img, iframe, object, embed, link, b") == 0
    on_handlers = driver.execute_script(
        "return [...document.querySelectorAll('*')].flatMap(e => [...e.attributes].map(a => a.name))"
        ".filter(name => name.startsWith('on'))")
    assert on_handlers == []
    body = driver.execute_script("return document.body.textContent")
    assert HOSTILE_PLAYER in body and HOSTILE_FAULT in body and "$x^2$" in body


def test_nothing_was_fetched_but_the_page_itself(opened: dict[str, Any]) -> None:
    requested = []
    for record in opened["log"]:
        message = json.loads(record["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requested.append(message["params"]["request"]["url"])
        elif message["method"].startswith("Network.webSocket"):
            requested.append(message["params"].get("url", "websocket"))
    assert opened["url"] in requested  # the log is on: it saw the page load
    assert [url for url in requested if url != opened["url"] and not url.startswith("data:")] == []
