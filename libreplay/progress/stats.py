"""What a ledger says about each scenario and overall: the figures of ``replaybook stats`` and of
the report's tables. Pure: entries in, figures out (no clock, no files)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from libreplay.session.ledger import LedgerEntry
from libreplay.session.state import OUTCOME_ABANDONED, OUTCOME_TIMEOUT


@dataclass(frozen=True)
class ScenarioStats:
    """One scenario's sessions, summed up."""

    ref: str  # pack/id
    scenario: str
    pack: str
    attempts: int
    successes: int
    timeouts: int
    abandoned: int
    best_seconds: float | None  # the fastest fix (time on the clock to the fix); None: never fixed
    median_seconds: float | None  # the median time to fix, over the successes
    mean_hints: float  # hints taken per session, over every attempt
    best_score: int  # 0 when never fixed
    last_played: datetime | None
    last_outcome: str

    @property
    def success_rate(self) -> float:
        return self.successes / self.attempts if self.attempts else 0.0


@dataclass(frozen=True)
class Totals:
    sessions: int = 0
    successes: int = 0
    seconds_trained: float = 0.0  # time on the clock, summed over every session
    score: int = 0  # summed over every session
    players: list[str] = field(default_factory=list)  # who played, sorted (lines with no player left out)

    @property
    def success_rate(self) -> float:
        return self.successes / self.sessions if self.sessions else 0.0


@dataclass(frozen=True)
class Stats:
    scenarios: list[ScenarioStats]  # in the order of their refs
    totals: Totals


def summarize(entries: Sequence[LedgerEntry]) -> Stats:
    """Per-scenario figures and totals of ``entries`` (in the order played, as read_ledgers gives)."""
    by_ref: dict[str, list[LedgerEntry]] = {}
    for entry in entries:
        by_ref.setdefault(entry.ref, []).append(entry)
    scenarios = [_scenario_stats(played) for _ref, played in sorted(by_ref.items())]
    totals = Totals(
        sessions=len(entries),
        successes=sum(entry.won for entry in entries),
        seconds_trained=sum(entry.elapsed_seconds or 0.0 for entry in entries),
        score=sum(entry.score for entry in entries),
        players=sorted({entry.player for entry in entries if entry.player}),
    )
    return Stats(scenarios, totals)


def _scenario_stats(played: list[LedgerEntry]) -> ScenarioStats:
    first, last = played[0], played[-1]
    fix_times = [entry.elapsed_seconds for entry in played if entry.won and entry.elapsed_seconds is not None]
    return ScenarioStats(
        ref=first.ref,
        scenario=first.scenario,
        pack=first.pack,
        attempts=len(played),
        successes=sum(entry.won for entry in played),
        timeouts=sum(entry.outcome == OUTCOME_TIMEOUT for entry in played),
        abandoned=sum(entry.outcome == OUTCOME_ABANDONED for entry in played),
        best_seconds=min(fix_times) if fix_times else None,
        median_seconds=statistics.median(fix_times) if fix_times else None,
        mean_hints=statistics.fmean(entry.hints_used for entry in played),
        best_score=max((entry.score for entry in played if entry.won), default=0),
        last_played=max((entry.played_at for entry in played if entry.played_at), default=None),
        last_outcome=last.outcome,
    )
