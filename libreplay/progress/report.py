"""``replaybook report --html FILE``: one self-contained page about ledger entries.

The page works offline and fetches nothing: its style is inline, its charts are inline SVG
(:mod:`libreplay.progress.charts`), it has no script at all, and its Content-Security-Policy
says so to the browser (``default-src 'none'``), so that even text that slipped through could
not load or run anything. Ledger text comes from elsewhere (a team mate's ledger, merged): every
piece of it is made inert (``core.text.inert``: control and invisible characters) and then
escaped (``html.escape``) on its way into the page.

The page is a function of the entries alone (no clock): the same ledgers give the same bytes.
"""

from __future__ import annotations

import errno
import html
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from libreplay.core.errors import InvalidInput, NotFound
from libreplay.core.store import write_atomic
from libreplay.core.text import duration, inert
from libreplay.progress.charts import NO_PLAYER, OUTCOME_COLOURS, Chart, Series, draw_charts, player_series
from libreplay.progress.stats import ScenarioStats, Stats, summarize
from libreplay.session.ledger import LedgerEntry

DEFAULT_TITLE = "Incident training report"
CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
REPORT_MODE = 0o644  # a page to be read by others (a team's report), as a browser would save it


# -- the leaderboard ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Standing:
    """A player's place on one scenario's leaderboard."""

    player: str | None
    best_score: int  # of the best run: highest score, then fastest; 0 when never fixed
    best_seconds: float | None  # that run's time to the fix; None when never fixed
    attempts: int
    successes: int


def leaderboards(entries: Sequence[LedgerEntry]) -> dict[str, list[Standing]]:
    """Per scenario (by ref, sorted), its players ranked by best score, then time, then name."""
    played: dict[str, dict[str | None, list[LedgerEntry]]] = {}
    for entry in entries:
        played.setdefault(entry.ref, {}).setdefault(entry.player, []).append(entry)
    return {ref: sorted((_standing(player, runs) for player, runs in by_player.items()), key=_rank)
            for ref, by_player in sorted(played.items())}


def _standing(player: str | None, runs: list[LedgerEntry]) -> Standing:
    wins = [entry for entry in runs if entry.won]
    best = max(wins, key=lambda entry: (entry.score, -(entry.elapsed_seconds or 0.0)), default=None)
    return Standing(player, best.score if best else 0, best.elapsed_seconds if best else None,
                    len(runs), len(wins))


def _rank(standing: Standing) -> tuple[int, float, bool, str]:
    seconds = standing.best_seconds if standing.best_seconds is not None else 0.0  # never fixed: score 0
    return (-standing.best_score, seconds, standing.player is None, standing.player or "")


# -- the page -----------------------------------------------------------------------------------


def report_page(entries: Sequence[LedgerEntry], *, title: str = DEFAULT_TITLE,
                sources: Sequence[Path] = (), skipped: int = 0, player: str | None = None) -> str:
    """The report of ``entries`` (in the order played) as one HTML document.

    ``sources`` (the ledgers read) and ``skipped`` (their lines left out) are named in the
    footer; ``player`` says in the header that the report is of one player only.
    """
    parts = [_head(title), "<body>", _header(entries, title, player)]
    if entries:
        stats = summarize(entries)
        series = player_series(entries)
        parts += [
            _tiles(stats),
            _charts(draw_charts(entries, stats, series), series),
            _scenario_table(stats.scenarios),
            _leaderboards(leaderboards(entries)),
            _sessions_table(entries),
        ]
    else:
        parts.append('<main><p class="empty">No sessions yet. Play one with '
                     '<code>replaybook run</code>: each session that reaches the clock is recorded '
                     'in the ledger, and the report is made from it.</p></main>')
    parts += [_footer(sources, skipped), "</body>", "</html>", ""]
    return "\n".join(parts)


def check_destination(path: Path) -> None:
    """Refuse at once a page that could not be written (before the charts are drawn): a missing
    directory is NotFound, a directory given as the file or one that cannot be written
    InvalidInput, each naming the path."""
    try:
        is_directory, parent_is_directory = path.is_dir(), path.parent.is_dir()
    except OSError as error:  # a name too long, a loop of links
        raise _unwritable(path, error) from None
    if is_directory:
        raise InvalidInput(f"--html: {path} is a directory", hint="name the page's file, e.g. report.html")
    if not parent_is_directory:
        raise NotFound(f"--html: {path}: directory {path.parent} does not exist",
                       hint=f"create it first (mkdir -p {path.parent}) or name a file elsewhere")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise _unwritable(path)


def write_report(path: Path, page: str) -> None:
    """Write ``page`` to ``path`` whole or not at all (a hidden temporary file renamed into place).

    The errors of :func:`check_destination`, and a full disk as store's EnvironmentProblem;
    nothing is left behind on failure, and a page already there stays as it was.
    """
    check_destination(path)
    try:
        write_atomic(path, page.encode("utf-8"), create_parents=False, mode=REPORT_MODE)
    except OSError as error:  # a full disk is not one: store raised EnvironmentProblem for it
        raise _unwritable(path, error) from None


def _unwritable(path: Path, error: OSError | None = None) -> InvalidInput:
    reason = (error.strerror or str(error)) if error else os.strerror(errno.EACCES)
    return InvalidInput(f"--html: {path}: cannot be written ({reason})",
                        hint="name a file in a directory you can write")


def _text(value: object) -> str:
    """Ledger text made inert, then escaped for the page (quotes too: it may be an attribute)."""
    return html.escape(inert(str(value), keep_newlines=False), quote=True)


def _ref(ref: str) -> str:
    """A scenario's name on one line, a very long one cut short on screen (in full on hover)."""
    return f'<span class="clip" title="{_text(ref)}">{_text(ref)}</span>'


def _player(name: str | None) -> str:
    return _text(name) if name else f'<span class="muted">{html.escape(NO_PLAYER)}</span>'


def _head(title: str) -> str:
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="replaybook report">',
        f"<title>{_text(title)}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
    ])


def _header(entries: Sequence[LedgerEntry], title: str, player: str | None) -> str:
    moments = [entry.played_at for entry in entries if entry.played_at is not None]
    facts = [f"{len(entries)} session{'' if len(entries) == 1 else 's'}"]
    if moments:
        facts.append(f"{_day(min(moments))} to {_day(max(moments))} (UTC)")
    if player:
        facts.append(f"player {_text(player)} only")
    return (f'<header><div class="brand">replaybook</div><h1>{_text(title)}</h1>'
            f'<p class="facts">{" · ".join(facts)}</p></header>')


def _tiles(stats: Stats) -> str:
    totals = stats.totals
    tiles = [
        ("Sessions", str(totals.sessions), f"{len(stats.scenarios)} scenario(s)"),
        ("Success rate", _percent(totals.success_rate), f"{totals.successes} fixed"),
        ("Time on the clock", _duration(totals.seconds_trained), "summed over every session"),
        ("Score", f"{totals.score:,}", "summed over every session"),
        ("Players", str(len(totals.players)), ", ".join(_text(name) for name in totals.players[:6])
         + (" …" if len(totals.players) > 6 else "")),
    ]
    cells = "".join(f'<div class="tile"><div class="label">{label}</div><div class="value">{value}</div>'
                    f'<div class="sub">{sub}</div></div>' for label, value, sub in tiles)
    return f'<section class="tiles" aria-label="totals">{cells}</section>'


def _charts(charts: list[Chart], series: dict[str | None, Series]) -> str:
    legend = "".join(f'<li data-series="{s.key}"><span class="swatch" style="background:{s.colour}">'
                     f"</span>{_player(player)}</li>" for player, s in series.items())
    outcome_legend = "".join(f'<li><span class="swatch" style="background:{colour}"></span>{outcome}</li>'
                             for outcome, colour in OUTCOME_COLOURS.items())
    cards = []
    for chart in charts:
        keys = outcome_legend if chart.name == "outcomes" else legend
        body = chart.svg or ""
        note = f'<p class="note">{html.escape(chart.note)}</p>' if chart.note else ""
        wide = " wide" if chart.wide else ""
        cards.append(f'<figure class="card{wide}" id="{chart.name}"><figcaption><h2>{chart.title}</h2>'
                     f'<ul class="legend">{keys}</ul></figcaption>{body}{note}</figure>')
    return f'<section class="charts" aria-label="charts">{"".join(cards)}</section>'


def _scenario_table(scenarios: list[ScenarioStats]) -> str:
    head = _column_heads(["Scenario", "Sessions", "Fixed", "Timeouts", "Abandoned", "Success", "Best time",
                          "Median time", "Hints / session", "Best score", "Last played", "Last outcome"],
                         numeric=range(1, 11))
    rows = [
        f'<tr data-scenario="{_text(s.ref)}"><td class="ref">{_ref(s.ref)}</td>'
        + "".join(f'<td class="num">{cell}</td>' for cell in (
            s.attempts, s.successes, s.timeouts, s.abandoned, _percent(s.success_rate),
            _duration(s.best_seconds), _duration(s.median_seconds), f"{s.mean_hints:.1f}",
            s.best_score or "—", _moment(s.last_played)))
        + f"<td>{_outcome(s.last_outcome)}</td></tr>"
        for s in scenarios
    ]
    return _section("scenarios", "By scenario", f'<table id="scenario-table"><thead>{head}</thead>'
                                                f'<tbody>{"".join(rows)}</tbody></table>')


def _leaderboards(boards: dict[str, list[Standing]]) -> str:
    cards = []
    for ref, standings in boards.items():
        head = _column_heads(["#", "Player", "Best score", "Time", "Fixed"], numeric=range(2, 5))
        rows = "".join(
            f'<tr><td class="num rank">{place}</td><td>{_player(s.player)}</td>'
            f'<td class="num">{s.best_score or "—"}</td><td class="num">{_duration(s.best_seconds)}</td>'
            f'<td class="num">{s.successes}/{s.attempts}</td></tr>'
            for place, s in enumerate(standings, start=1))
        cards.append(f'<div class="card board" data-scenario="{_text(ref)}"><h3>{_text(ref)}</h3>'
                     f"<table><thead>{head}</thead><tbody>{rows}</tbody></table></div>")
    return _section("leaderboards", "Leaderboard per scenario", f'<div class="boards">{"".join(cards)}</div>',
                    "Players ranked by their best score on the scenario, then by that run's time.")


def _sessions_table(entries: Sequence[LedgerEntry]) -> str:
    head = _column_heads(["Played (UTC)", "Player", "Scenario", "Fault", "Outcome", "Time", "Hints", "Score",
                          "Replay its transcript"], numeric=range(5, 8))
    rows = [_session_row(entry) for entry in reversed(entries)]  # the newest first
    return _section("sessions", "Every session", f'<table id="session-table"><thead>{head}</thead>'
                                                 f'<tbody>{"".join(rows)}</tbody></table>',
                    "Newest first. A transcript plays back on the machine that recorded it.")


def _session_row(entry: LedgerEntry) -> str:
    hints = f"{entry.hints_used}/{entry.hints_total}" if entry.hints_total else str(entry.hints_used)
    if entry.session:
        where = f' title="{_text(entry.transcript)}"' if entry.transcript else ""
        replay = f"<code{where}>replaybook replay {_text(entry.session)}</code>"
    else:
        replay = '<span class="muted">—</span>'
    return (f"<tr><td>{_moment(entry.played_at)}</td><td>{_player(entry.player)}</td>"
            f'<td class="ref">{_ref(entry.ref)}</td><td>{_text(entry.fault) if entry.fault else "—"}</td>'
            f"<td>{_outcome(entry.outcome)}</td><td class=\"num\">{_duration(entry.elapsed_seconds)}</td>"
            f'<td class="num">{hints}</td><td class="num">{entry.score}</td><td>{replay}</td></tr>')


def _footer(sources: Sequence[Path], skipped: int) -> str:
    read = ", ".join(_text(source.name) for source in sources) or "this machine's ledger"
    left_out = f" {skipped} ledger line(s) could not be read and are left out." if skipped else ""
    return (f"<footer>Made by <code>replaybook report</code> from {read}.{left_out} "
            "Self-contained: this page loads nothing from anywhere.</footer>")


def _section(name: str, title: str, body: str, lead: str = "") -> str:
    intro = f'<p class="lead">{lead}</p>' if lead else ""
    return f'<section id="{name}-section"><h2>{title}</h2>{intro}{body}</section>'


def _column_heads(labels: Iterable[str], *, numeric: range) -> str:
    """The header row; the heads of numeric columns align right, over their figures."""
    cells = "".join(f'<th class="num">{label}</th>' if index in numeric else f"<th>{label}</th>"
                    for index, label in enumerate(labels))
    return f"<tr>{cells}</tr>"


def _outcome(outcome: str) -> str:
    known = outcome if outcome in OUTCOME_COLOURS else "other"
    return f'<span class="badge {known}">{_text(outcome)}</span>'


def _percent(share: float) -> str:
    return f"{share:.0%}"


def _duration(seconds: float | None) -> str:
    return "—" if seconds is None else duration(seconds)


def _moment(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "—"


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


STYLE = """
:root{--bg:#f4f6f8;--card:#fff;--ink:#1f2933;--muted:#616e7c;--line:#e4e7eb;--accent:#4e79a7;
--ok:#3f9e6b;--late:#e3a13b;--gone:#9aa5b1}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
font:14px/1.45 system-ui,-apple-system,"Segoe UI","DejaVu Sans",Roboto,sans-serif}
header{background:#1f2933;color:#f5f7fa;padding:22px 32px 18px}
header .brand{font-size:12px;letter-spacing:.12em;text-transform:uppercase;color:#9aa5b1}
header h1{margin:4px 0 4px;font-size:24px;font-weight:600}
header .facts{margin:0;color:#cbd2d9}
main,section{margin:0 32px}
section{margin-top:24px}
h2{font-size:16px;font-weight:600;margin:0 0 10px}
h3{font-size:13px;font-weight:600;margin:0 0 8px;overflow-wrap:anywhere}
.lead{color:var(--muted);margin:-4px 0 10px}
.empty{margin:40px 0;font-size:16px;color:var(--muted)}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:14px}
.tile,.card{background:var(--card);border:1px solid var(--line);border-radius:8px;
box-shadow:0 1px 2px rgba(31,41,51,.05)}
.tile{padding:14px 16px}
.tile .label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.06em}
.tile .value{font-size:26px;font-weight:600;margin:2px 0;font-variant-numeric:tabular-nums}
.tile .sub{color:var(--muted);font-size:12px;overflow-wrap:anywhere}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:14px}
figure.card{margin:0;padding:14px 16px 8px}
figure.wide{grid-column:1/-1}
figcaption{display:flex;flex-wrap:wrap;align-items:baseline;justify-content:space-between;gap:8px}
figcaption h2{margin:0}
svg.chart{display:block;width:100%;height:auto;margin-top:6px}
svg.chart *{stroke-linejoin:round;stroke-linecap:butt}
.legend{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;
color:var(--muted)}
.legend li{display:flex;align-items:center;gap:6px;overflow-wrap:anywhere}
.swatch{display:inline-block;width:10px;height:10px;border-radius:50%}
.note{color:var(--muted);font-size:12px;margin:6px 0}
table{width:100%;border-collapse:collapse;background:var(--card);font-variant-numeric:tabular-nums}
section>table{border:1px solid var(--line);border-radius:8px;overflow:hidden}
th{font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);font-weight:600;
text-align:left;background:#f9fafb}
th,td{padding:7px 10px;border-bottom:1px solid var(--line);vertical-align:top}
tbody tr:last-child td{border-bottom:0}
tbody tr:hover{background:#f5f8fc}
td.num{text-align:right;white-space:nowrap}
th.num{text-align:right}
td.ref{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12.5px}
.clip{display:inline-block;max-width:26em;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;
vertical-align:top}
code{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px;background:#f0f4f8;
padding:2px 6px;border-radius:4px;white-space:nowrap}
.muted{color:var(--muted)}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff;
background:#7b8794}
.badge.success{background:var(--ok)}.badge.timeout{background:var(--late)}.badge.abandoned{background:var(--gone)}
.boards{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:14px}
.board{padding:12px 14px}
.board table{border:0}
.board td.rank{width:2em;text-align:left;color:var(--muted)}
.board tbody tr:first-child td{font-weight:600}
footer{margin:28px 32px 32px;color:var(--muted);font-size:12px}
""".strip()
