"""The debrief shown when a session ends: how it went, and what the scenario was meant to teach.

Pure text building: :func:`debrief_lines` takes the final session state, the scenario (if it
could still be read) and the personal best, and returns lines, each inert.
"""

from __future__ import annotations

from typing import Any

from libreplay.core.text import clock, inert
from libreplay.scenario.model import Scenario
from libreplay.session.state import OUTCOME_WORDS, SessionState


def time_line(state: SessionState) -> str:
    if state.started_at is None:
        return "Time:      the clock never started (the fault was not injected)"
    if state.resolved_at is not None:
        fixed = state.seconds_on_the_clock(state.resolved_at)
        return f"Time:      fixed in {clock(fixed)} of {clock(state.sla_seconds)}"
    if state.fixed_late_at is not None:
        late = state.seconds_on_the_clock(state.fixed_late_at)
        return f"Time:      fixed late, after {clock(late)} (SLA {clock(state.sla_seconds)})"
    if state.ended_at is not None:
        spent = state.seconds_on_the_clock(state.ended_at)
        return f"Time:      {clock(spent)} of {clock(state.sla_seconds)}"
    return f"Time:      SLA {clock(state.sla_seconds)}"


def debrief_lines(
    state: SessionState,
    scenario: Scenario | None,
    best: dict[str, Any] | None,
) -> list[str]:
    """The debrief, every line inert: most of it quotes the scenario (title, fault, objectives,
    source) or the session's state file, which the pack's names filled in."""
    outcome = state.shown_outcome  # recorded once the clock had started
    title = state.title or (scenario.title if scenario else "")
    lines = [
        "== debrief ==",
        f"Scenario:  {state.scenario} ({state.pack})  {title}",
        f"Outcome:   {OUTCOME_WORDS.get(outcome, outcome.upper())}",
        time_line(state),
        f"Hints:     {state.hints_used} / {state.hints_total} used",
        f"Score:     {state.score if state.score is not None else 0}",
    ]
    lines.append(_best_line(state, best))
    if state.fault:
        lines.append(f"Fault:     {state.fault}")
    if scenario is not None:
        lines += _teaching(scenario)
    if state.transcript:
        lines += ["", f"Your shell was recorded: replaybook replay {state.id}"]
    return [inert(line, keep_newlines=False) for line in lines]


def _teaching(scenario: Scenario) -> list[str]:
    lines: list[str] = []
    if scenario.learning_objectives:
        lines += ["", "What this incident teaches:"]
        lines += [f"  - {item}" for item in scenario.learning_objectives]
    reference = scenario.source.get("reference")
    date = scenario.source.get("incident_date")
    if reference or date:
        when = f" ({date})" if date else ""
        lines += ["", f"Based on: {reference or 'an incident'}{when}"]
    return lines


def _best_line(state: SessionState, best: dict[str, Any] | None) -> str:
    if best is None:
        return "Best:      none yet for this scenario"
    if best.get("session") == state.id:
        return f"Best:      {best.get('score')} - a new personal best!"
    elapsed = best.get("elapsed_seconds")
    taken = f" in {clock(float(elapsed))}" if isinstance(elapsed, int | float) else ""
    return f"Best:      {best.get('score')}{taken} with {best.get('hints_used', 0)} hint(s)"
