"""The ledger: one JSON line per session that reached the clock, and the score.

Score (deterministic, documented in docs/scoring.md): a fix that held earns 400 points plus
up to 600 more for speed, falling in a straight line with the share of the SLA used before the
fix landed (the hold is not charged); minus 50 for each hint taken, 150 for each guard tripped
(a shortcut caught) and 75 for each relapse (a fix that did not hold). A fix never scores below
100; a timeout or an abandoned session scores 0.
"""

from __future__ import annotations

from typing import Any

from libreplay.core import paths
from libreplay.core.store import append_jsonl, read_jsonl
from libreplay.session.state import OUTCOME_SUCCESS, SessionState

FIX_POINTS = 400
SPEED_POINTS = 600
HINT_PENALTY = 50
GUARD_PENALTY = 150
RELAPSE_PENALTY = 75
MIN_FIX_SCORE = 100


def score(
    *, fixed: bool, elapsed_seconds: float, sla_seconds: float, hints_used: int,
    guards_tripped: int = 0, relapses: int = 0,
) -> int:
    if not fixed:
        return 0
    left = max(0.0, 1.0 - elapsed_seconds / sla_seconds) if sla_seconds > 0 else 0.0
    penalties = HINT_PENALTY * hints_used + GUARD_PENALTY * guards_tripped + RELAPSE_PENALTY * relapses
    return max(MIN_FIX_SCORE, FIX_POINTS + round(SPEED_POINTS * left) - penalties)


def record(state: SessionState) -> dict[str, Any]:
    """The ledger line for a session that has ended; appended under the ledger's lock."""
    line = {
        "session": state.id,
        "scenario": state.scenario,
        "pack": state.pack,
        "fault": state.fault,
        "started_at": state.started_at.isoformat() if state.started_at else None,
        "ended_at": state.ended_at.isoformat() if state.ended_at else None,
        "outcome": state.outcome,
        "elapsed_seconds": round(state.elapsed_seconds(), 2),
        "sla_seconds": state.sla_seconds,
        "hints_used": state.hints_used,
        "hints_total": state.hints_total,
        "score": state.score,
        "relapses": state.relapses,
        "guards_tripped": list(state.guards_tripped),
        "transcript": state.transcript,
    }
    append_jsonl(paths.ledger_path(), line)
    return line


def read_ledger() -> list[dict[str, Any]]:
    return read_jsonl(paths.ledger_path())


def personal_best(scenario: str, pack: str | None = None) -> dict[str, Any] | None:
    """The best successful run of a scenario: highest score, then fastest."""
    wins = [
        line
        for line in read_ledger()
        if line.get("scenario") == scenario
        and (pack is None or line.get("pack") == pack)
        and line.get("outcome") == OUTCOME_SUCCESS
    ]
    if not wins:
        return None
    return max(wins, key=lambda line: (line.get("score") or 0, -(line.get("elapsed_seconds") or 0)))
