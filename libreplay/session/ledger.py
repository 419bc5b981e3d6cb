"""The ledger: one JSON line per session that reached the clock, and the score.

Score (deterministic, documented in docs/architecture.md): a fix earns 500 points plus up
to 500 more for speed (the share of the SLA left when it landed), minus 100 for each hint
taken; a fix never scores below 100. A timeout or an abandoned session scores 0.
"""

from __future__ import annotations

from typing import Any

from libreplay.core import paths
from libreplay.core.store import append_jsonl, read_jsonl
from libreplay.session.state import OUTCOME_SUCCESS, SessionState

FIX_POINTS = 500
SPEED_POINTS = 500
HINT_PENALTY = 100
MIN_FIX_SCORE = 100


def score(*, fixed: bool, elapsed_seconds: float, sla_seconds: float, hints_used: int) -> int:
    if not fixed:
        return 0
    left = max(0.0, 1.0 - elapsed_seconds / sla_seconds) if sla_seconds > 0 else 0.0
    points = FIX_POINTS + round(SPEED_POINTS * left) - HINT_PENALTY * hints_used
    return max(MIN_FIX_SCORE, points)


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
        "hints_used": state.hints_used,
        "hints_total": state.hints_total,
        "score": state.score,
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
