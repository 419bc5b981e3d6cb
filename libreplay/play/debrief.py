"""The debrief shown when a session ends: how it went, and what the scenario was meant to teach.

Pure text building: :func:`debrief_lines` takes the final session state, the scenario (if it
could still be read) and the personal best, and returns lines, each inert.

It is the after-action review too: what the session cost besides time and hints (shortcuts
caught by guards, relapses), then the scenario's ``debrief`` for the fault that was drawn (the
real fix, why, what keeps it from recurring: docs/scenario-format.md). That is shown after a
win and after a give-up or a timeout alike, once the clock had started: a trainee who gave up
learns most from it.
"""

from __future__ import annotations

from typing import Any

from libreplay.core.text import clock, inert, wrap
from libreplay.scenario.model import Debrief, Scenario
from libreplay.session.state import OUTCOME_WORDS, SessionState

# The scenario's long texts are wrapped to the terminal's width, kept between these: wider
# lines read badly, and a narrower measure would leave a word or two per line.
WIDTH = 80
MIN_WIDTH = 40
INDENT = "  "


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
    *,
    width: int = WIDTH,
) -> list[str]:
    """The debrief, every line inert: most of it quotes the scenario (title, fault, objectives,
    source, the real fix) or the session's state file, which the pack's names filled in.
    ``width``: the terminal's, which the scenario's long texts are wrapped to (within MIN_WIDTH
    and WIDTH)."""
    outcome = state.shown_outcome  # recorded once the clock had started
    title = state.title or (scenario.title if scenario else "")
    lines = [
        "== debrief ==",
        f"Scenario:  {state.scenario} ({state.pack})  {title}",
        f"Outcome:   {OUTCOME_WORDS.get(outcome, outcome.upper())}",
        time_line(state),
        f"Hints:     {state.hints_used} / {state.hints_total} used",
        f"Score:     {state.score if state.score is not None else 0}",
        *cost_lines(state),
    ]
    lines.append(_best_line(state, best))
    if state.fault:
        lines.append(f"Fault:     {state.fault}")
    if scenario is not None:
        review = review_of(state, scenario)
        if review is not None:
            lines += review_lines(review, min(max(width, MIN_WIDTH), WIDTH))
        lines += _teaching(scenario)
    if state.transcript:
        lines += ["", f"Your shell was recorded: replaybook replay {state.id}"]
    return [inert(line, keep_newlines=False) for line in lines]


def cost_lines(state: SessionState) -> list[str]:
    """What cost points besides time and hints (docs/scoring.md), when anything did."""
    lines = []
    if state.guards_tripped:
        lines.append(f"Shortcuts caught: {', '.join(state.guards_tripped)}")
    if state.relapses:
        lines.append(f"Relapses:  {state.relapses}")
    return lines


def review_of(state: SessionState, scenario: Scenario) -> Debrief | None:
    """The after-action review for the fault the session drew (a fault's own replaces the
    scenario's); none before the clock started, when nothing was played that it could explain."""
    if state.started_at is None:
        return None
    try:
        fault = scenario.fault(state.fault)
    except KeyError:  # no fault drawn, or one the snapshot does not know: the scenario's review
        fault = None
    return scenario.debrief_for(fault)


def review_lines(review: Debrief, width: int) -> list[str]:
    """The real fix, why, and the follow-ups as bullets, each text wrapped under its heading."""
    lines: list[str] = []
    for heading, text in (("The real fix:", review.fix), ("Why:", review.why)):
        if text.strip():
            lines += ["", heading, *_paragraphs(text, width, INDENT, INDENT)]
    follow_ups = [item for item in review.follow_ups if item.strip()]
    if follow_ups:
        lines += ["", "So it never recurs:"]
        for item in follow_ups:
            lines += _paragraphs(item, width, f"{INDENT}- ", INDENT + "  ")
    return lines


def _paragraphs(text: str, width: int, first_indent: str, indent: str) -> list[str]:
    """A pack's text made inert (its newlines kept as paragraph breaks), then wrapped."""
    return wrap(inert(text).strip(), width, first_indent, indent)


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
