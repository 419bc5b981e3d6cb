"""The report's charts: matplotlib figures written as SVG text, to be inlined in one HTML page.

Every chart is drawn under its own rcParams (``_CHART_STYLE`` plus a salt of its own):

- ``svg.fonttype: none``: text stays ``<text>`` (selectable, small), not glyph outlines;
- ``text.parse_math: False``: a ``$`` in a player's or a scenario's name is a dollar sign, never
  mathtext (``$x^2$`` must not turn into a superscript, nor a stray ``$`` into a parse error);
- ``svg.hashsalt``: the ids matplotlib derives for clip paths and markers come from a hash of
  the salt; inline SVGs share the page's one id namespace, so each chart gets its own salt, and
  the numbered group ids (``axes_1``, ``line2d_3`` …) that every figure restarts are prefixed with
  the chart's name (:func:`_own_ids`) so that no id appears twice on the page;
- no metadata (no ``Date``): the same ledger gives the same bytes, and the page names no URL.

Each data series carries an id (``gid``) that names it, ``score-alice`` for instance; matplotlib
writes the line's group under that id and each marker as a ``<use>`` inside it, so a reader (and
the browser test) can count one marker per session. Text reaching a chart (a scenario's name on
the outcome chart) is made inert first; matplotlib escapes it for XML itself.

matplotlib is imported inside :func:`draw_charts` only: nothing else in replaybook needs it.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from libreplay.core.text import inert
from libreplay.progress.stats import Stats
from libreplay.session.ledger import LedgerEntry
from libreplay.session.state import OUTCOME_ABANDONED, OUTCOME_SUCCESS, OUTCOME_TIMEOUT

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# Colour-blind-safe series colours (Tableau 10), one per player in the order names sort.
PLAYER_COLOURS = (
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)
OUTCOME_COLOURS = {OUTCOME_SUCCESS: "#3f9e6b", OUTCOME_TIMEOUT: "#e3a13b", OUTCOME_ABANDONED: "#9aa5b1"}
OUTCOMES = (OUTCOME_SUCCESS, OUTCOME_TIMEOUT, OUTCOME_ABANDONED)
NO_PLAYER = "(no player)"  # lines written before the ledger had a player field
INK, MUTED, GRID = "#1f2933", "#616e7c", "#e4e7eb"
WIDTH_INCHES = 7.2  # a chart in one of the page's two columns
WIDE_INCHES = 14.4  # one across both (the score; the outcomes, a row per scenario), text the same size
SCENARIO_LABEL_LENGTH = 36
FIRST_YEAR, LAST_YEAR = 1970, 9000  # the times a chart places (see _chartable)
DENSE_POINTS = 120  # past this many sessions on a chart, no lines between them (see _points)

_CHART_STYLE: dict[str, Any] = {
    "svg.fonttype": "none",
    "text.parse_math": False,
    "timezone": "UTC",
    # DejaVu Sans ships with matplotlib (text is measured with it); the browser falls back in turn.
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Helvetica", "Arial"],
    "font.size": 8.5,
    "text.color": INK,
    "axes.edgecolor": GRID,
    "axes.labelcolor": MUTED,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "y",
    "axes.axisbelow": True,
    "grid.color": GRID,
    "grid.linewidth": 0.8,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "xtick.major.size": 0,
    "ytick.major.size": 0,
    "lines.linewidth": 1.4,
    "lines.markersize": 5,
    "figure.facecolor": "none",
    "axes.facecolor": "none",
    "savefig.facecolor": "none",
}


@dataclass(frozen=True)
class Series:
    """One player's line through the time charts."""

    key: str  # the id-safe name in the series' ids (score-<key>), unique among the series
    label: str  # the player's name as shown (inert, not yet escaped for HTML)
    colour: str


@dataclass(frozen=True)
class Chart:
    name: str  # id-safe: the chart's id on the page and the prefix of its ids
    title: str
    svg: str | None  # None: nothing to draw (``note`` says why)
    note: str = ""
    wide: bool = False  # drawn to span the page's two columns


def player_series(entries: Sequence[LedgerEntry]) -> dict[str | None, Series]:
    """A series per player (sessions without a player share one), coloured in name order."""
    players = sorted({entry.player for entry in entries}, key=lambda name: (name is None, name or ""))
    series: dict[str | None, Series] = {}
    taken: set[str] = set()
    for index, player in enumerate(players):
        key = _unique(_slug(player) if player else "no-player", taken)
        label = inert(player, keep_newlines=False) if player else NO_PLAYER
        series[player] = Series(key, label, PLAYER_COLOURS[index % len(PLAYER_COLOURS)])
    return series


def draw_charts(entries: Sequence[LedgerEntry], stats: Stats,
                series: dict[str | None, Series]) -> list[Chart]:
    """The four charts of the report, each an ``<svg>`` element as text."""
    timed = [entry for entry in entries if _chartable(entry.played_at)]
    untimed = len(entries) - len(timed)
    note = f"{untimed} session(s) without a usable time are not on this chart." if untimed else ""
    wins = [entry for entry in timed if entry.won and entry.elapsed_seconds is not None]
    return [
        _chart("score", "Score over time", timed, note, lambda ax: _score(ax, timed, series),
               width=WIDE_INCHES),
        _chart("fix-time", "Time to fix over time (successes)", wins, "" if wins else "No fix yet.",
               lambda ax: _fix_time(ax, wins, series)),
        _chart("hints", "Hints per session", timed, note, lambda ax: _hints(ax, timed, series)),
        _chart("outcomes", "Outcome by scenario", stats.scenarios, "", lambda ax: _outcomes(ax, stats),
               width=WIDE_INCHES, height=_outcome_height(len(stats.scenarios))),
    ]


def _chart(name: str, title: str, data: Sequence[object], note: str, draw: Any, *,
           width: float = WIDTH_INCHES, height: float = 2.6) -> Chart:
    if not data:
        return Chart(name, title, None, note or "Nothing to draw yet.")
    with _style(name):
        from matplotlib.figure import Figure

        figure = Figure(figsize=(width, height), layout="constrained")
        draw(figure.add_subplot())
        return Chart(name, title, _svg(figure, name, title), note, wide=width > WIDTH_INCHES)


@contextmanager
def _style(name: str) -> Iterator[None]:
    import matplotlib

    style: Any = {**_CHART_STYLE, "svg.hashsalt": f"replaybook-report-{name}"}  # rcParams' keys are Literals
    with matplotlib.rc_context(style), warnings.catch_warnings():
        # A name in a script DejaVu Sans lacks (CJK, emoji) is only measured with the wrong glyphs:
        # the text stays text in the SVG and the browser draws it with a font that has them.
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font", category=UserWarning)
        yield


def _svg(figure: Figure, name: str, title: str) -> str:
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    FigureCanvasSVG(figure)  # attaches itself: no display, no pyplot, no global backend
    out = io.StringIO()
    figure.savefig(out, format="svg", metadata=dict.fromkeys(("Date", "Creator", "Format", "Type")))
    text = out.getvalue()
    svg = text[text.index("<svg"):]  # the element alone: no XML declaration or DOCTYPE in a page
    # matplotlib's one style rule is written for a document of its own (``*``); the page states it
    # once for its charts only (report.STYLE).
    svg = svg.replace(_MATPLOTLIB_STYLE, "", 1)
    svg = svg.replace("<svg ", f'<svg id="chart-{name}" class="chart" role="img" aria-label="{title}" ', 1)
    return _own_ids(svg, name)


_MATPLOTLIB_STYLE = '<style type="text/css">*{stroke-linejoin: round; stroke-linecap: butt}</style>'
_NUMBERED_ID = re.compile(r'\bid="([A-Za-z][\w.]*_\d+)"')


def _own_ids(svg: str, name: str) -> str:
    """Prefix the group ids every figure numbers from 1 (``figure_1``, ``line2d_4`` …) with the
    chart's name. Nothing refers to them (references use the salted hash ids), so renaming them is
    safe; the series' own ids (``score-alice``) have no ``_<n>`` ending and stay as they are."""
    return _NUMBERED_ID.sub(lambda match: f'id="{name}-{match.group(1)}"', svg)


# -- the charts ---------------------------------------------------------------------------------


def _by_player(entries: Sequence[LedgerEntry]) -> dict[str | None, list[LedgerEntry]]:
    grouped: dict[str | None, list[LedgerEntry]] = {}
    for entry in entries:
        grouped.setdefault(entry.player, []).append(entry)
    return grouped


def _chartable(moment: datetime | None) -> bool:
    """A time a date axis can show: matplotlib's dates run from year 1 to 9999, and an axis's
    margins reach past its points, so a ledger's odd year 1 or 9999 stays in the tables only."""
    return moment is not None and FIRST_YEAR <= moment.year <= LAST_YEAR


def _moments(entries: Sequence[LedgerEntry]) -> Any:
    """When each was played, as matplotlib's day numbers (the date axis's own unit)."""
    from matplotlib.dates import date2num

    moments: list[datetime] = [entry.played_at for entry in entries if entry.played_at is not None]
    return date2num(moments)  # type: ignore[no-untyped-call]


def _points(ax: Axes, x: Any, y: Sequence[float], line: Series, gid: str, *, dense: bool,
            joined: bool = True) -> None:
    """A player's sessions as markers (one ``<use>`` each, in the group ``gid``), joined by a faint
    line while there are few; a dense chart (a team's year) gets small, translucent markers alone,
    where lines would only be noise."""
    from matplotlib.colors import to_rgba

    if dense:
        ax.plot(x, y, linestyle="none", marker="o", markersize=3, markeredgewidth=0,
                color=to_rgba(line.colour, 0.55), gid=gid)
    else:
        ax.plot(x, y, linestyle="-" if joined else "none", color=to_rgba(line.colour, 0.45), marker="o",
                markerfacecolor=line.colour, markeredgecolor="white", markeredgewidth=0.7, gid=gid)


def _dense(entries: Sequence[object]) -> bool:
    return len(entries) > DENSE_POINTS


def _score(ax: Axes, entries: Sequence[LedgerEntry], series: dict[str | None, Series]) -> None:
    for player, played in _by_player(entries).items():
        line = series[player]
        _points(ax, _moments(played), [entry.score for entry in played], line, f"score-{line.key}",
                dense=_dense(entries))
    ax.set_ylim(bottom=-20, top=max(1000, *(entry.score for entry in entries)) * 1.04)
    ax.set_ylabel("points")
    _dates(ax)


def _fix_time(ax: Axes, wins: Sequence[LedgerEntry], series: dict[str | None, Series]) -> None:
    for player, played in _by_player(wins).items():
        line = series[player]
        minutes = [(entry.elapsed_seconds or 0.0) / 60 for entry in played]
        _points(ax, _moments(played), minutes, line, f"fix-time-{line.key}", dense=_dense(wins))
    ax.set_ylim(bottom=0)
    ax.set_ylabel("minutes to the fix")
    _dates(ax)


def _hints(ax: Axes, entries: Sequence[LedgerEntry], series: dict[str | None, Series]) -> None:
    from matplotlib.ticker import MaxNLocator

    for player, played in _by_player(entries).items():
        line = series[player]
        moments, hints = _moments(played), [entry.hints_used for entry in played]
        if not _dense(entries):  # a stem from 0 to each session's count
            ax.vlines(moments, 0, hints, colors=line.colour, linewidth=1.2, alpha=0.4)
        _points(ax, moments, hints, line, f"hints-{line.key}", dense=_dense(entries), joined=False)
    ax.set_ylim(bottom=-0.2, top=max(3, *(entry.hints_used for entry in entries)) + 0.5)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("hints taken")
    _dates(ax)


def _outcomes(ax: Axes, stats: Stats) -> None:
    """A horizontal bar per scenario, stacked: successes, timeouts, abandoned (a bar of each
    outcome for every scenario, zero wide when none, so each outcome's group has one per row)."""
    from matplotlib.ticker import MaxNLocator

    scenarios = list(reversed(stats.scenarios))  # matplotlib draws row 0 at the bottom
    rows = list(range(len(scenarios)))
    counts = {
        OUTCOME_SUCCESS: [s.successes for s in scenarios],
        OUTCOME_TIMEOUT: [s.timeouts for s in scenarios],
        OUTCOME_ABANDONED: [s.abandoned for s in scenarios],
    }
    left = [0] * len(scenarios)
    for outcome in OUTCOMES:
        bars = ax.barh(rows, counts[outcome], left=left, height=0.62, color=OUTCOME_COLOURS[outcome],
                       label=outcome, gid=f"outcomes-{outcome}")
        for row, bar in zip(rows, bars, strict=True):
            bar.set_gid(f"outcomes-{outcome}-{len(scenarios) - row}")  # numbered as the table lists them
        shown = [str(count) if count else "" for count in counts[outcome]]
        ax.bar_label(bars, labels=shown, label_type="center", color="white", fontsize=8, fontweight="bold")
        left = [a + b for a, b in zip(left, counts[outcome], strict=True)]
    ax.set_yticks(rows, [_short(s.ref) for s in scenarios])
    ax.grid(axis="x")
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("sessions")
    ax.set_xlim(0, max(left) * 1.02)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _outcome_height(scenarios: int) -> float:
    return 0.9 + 0.32 * max(scenarios, 1)


def _dates(ax: Axes) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator(minticks=3, maxticks=8, tz="UTC")  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator, tz="UTC"))  # type: ignore[no-untyped-call]
    ax.margins(x=0.03)


def _short(ref: str) -> str:
    text = inert(ref, keep_newlines=False)
    return text if len(text) <= SCENARIO_LABEL_LENGTH else text[: SCENARIO_LABEL_LENGTH - 1] + "…"


_NOT_ID_SAFE = re.compile(r"[^a-z0-9]+")


def _slug(name: str) -> str:
    return _NOT_ID_SAFE.sub("-", name.lower()).strip("-")[:40] or "player"


def _unique(key: str, taken: set[str]) -> str:
    candidate, number = key, 2
    while candidate in taken:
        candidate, number = f"{key}-{number}", number + 1
    taken.add(candidate)
    return candidate
