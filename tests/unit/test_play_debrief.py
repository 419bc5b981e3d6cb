"""The debrief's after-action review (libreplay/play/debrief.py): what the session cost, and the
scenario's real fix, why and follow-ups for the fault drawn, after a win and after a give-up."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from libreplay.play.debrief import WIDTH, debrief_lines
from libreplay.scenario.model import Debrief, Fault, Scenario
from libreplay.session.state import ABANDONED, RESOLVED, TIMEOUT, SessionState

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
REVIEW = Debrief(
    fix="Point the upstream back at app:3000 and reload nginx.",
    why="nginx answers 502 when its upstream refuses the connection; restarting it changes nothing.",
    follow_ups=("Test the nginx config in CI against the app's real port.", "Alert on the 502 rate."),
)
FAULT_REVIEW = Debrief(fix="Give the data directory back to postgres.")


def scenario(*, debrief: Debrief | None = REVIEW, faults: tuple[Fault, ...] | None = None) -> Scenario:
    return Scenario(
        id="001-nginx-502", title="502 Bad Gateway", page="", difficulty=1, directory=Path("/nowhere"),
        compose_file=Path("/nowhere/compose.yaml"), services=("web", "app"), shell="web",
        success_condition="http_200", success_target="http://localhost/",
        faults=faults or (Fault("default"),), learning_objectives=("Read the error log first.",),
        debrief=debrief,
    )


def session(**changes: object) -> SessionState:
    state = SessionState(
        id="s1", scenario="001-nginx-502", pack="official", scenario_dir="/", project="replaybook-s1",
        status=RESOLVED, fault="default", sla_seconds=900, started_at=T0,
        resolved_at=T0 + timedelta(seconds=192), hints_used=1, hints_total=3, score=694,
        outcome="success",
    )
    for key, value in changes.items():
        setattr(state, key, value)
    return state


def section(lines: list[str], heading: str) -> list[str]:
    """The lines under ``heading``, to the next blank line."""
    start = lines.index(heading) + 1
    end = lines.index("", start) if "" in lines[start:] else len(lines)
    return lines[start:end]


def test_a_clean_win_shows_no_costs_and_the_whole_review() -> None:
    lines = debrief_lines(session(), scenario(), None)
    assert not any(line.startswith(("Shortcuts caught:", "Relapses:")) for line in lines)
    assert section(lines, "The real fix:") == ["  Point the upstream back at app:3000 and reload nginx."]
    assert section(lines, "Why:") == [
        "  nginx answers 502 when its upstream refuses the connection; restarting it",
        "  changes nothing.",
    ]
    assert section(lines, "So it never recurs:") == [
        "  - Test the nginx config in CI against the app's real port.",
        "  - Alert on the 502 rate.",
    ]
    # The review comes before what the scenario teaches in general.
    assert lines.index("The real fix:") < lines.index("What this incident teaches:")


def test_costs_follow_the_score_when_there_were_any() -> None:
    state = session(guards_tripped=["migration-kept", "orders-kept"], relapses=2, score=244)
    lines = debrief_lines(state, scenario(), None)
    score = lines.index("Score:     244")
    assert lines[score + 1:score + 3] == ["Shortcuts caught: migration-kept, orders-kept", "Relapses:  2"]


@pytest.mark.parametrize(
    ("status", "outcome", "word"),
    [(ABANDONED, "abandoned", "ABANDONED"), (TIMEOUT, "timeout", "SLA BREACHED")],
)
def test_giving_up_or_timing_out_shows_the_real_fix_too(status: str, outcome: str, word: str) -> None:
    state = session(status=status, outcome=outcome, resolved_at=None, score=0, relapses=1,
                    ended_at=T0 + timedelta(seconds=300))
    lines = debrief_lines(state, scenario(), None)
    assert f"Outcome:   {word}" in lines
    assert "Relapses:  1" in lines
    assert "The real fix:" in lines and "So it never recurs:" in lines


def test_the_drawn_faults_own_review_replaces_the_scenarios() -> None:
    faults = (Fault("default"), Fault("wrong-owner", debrief=FAULT_REVIEW))
    lines = debrief_lines(session(fault="wrong-owner"), scenario(faults=faults), None)
    assert section(lines, "The real fix:") == ["  Give the data directory back to postgres."]
    assert "Why:" not in lines and "So it never recurs:" not in lines  # each key is optional
    # Another fault of the same scenario gets the scenario's.
    lines = debrief_lines(session(fault="default"), scenario(faults=faults), None)
    assert section(lines, "The real fix:") == ["  Point the upstream back at app:3000 and reload nginx."]


def test_a_fault_the_snapshot_does_not_know_gets_the_scenarios_review() -> None:
    lines = debrief_lines(session(fault="gone"), scenario(), None)
    assert "The real fix:" in lines


@pytest.mark.parametrize(
    ("state", "known"),
    [
        (session(started_at=None, status=ABANDONED, outcome=None), scenario()),  # nothing was played
        (session(), scenario(debrief=None)),  # no review written
        (session(), None),  # the snapshot could not be read
    ],
    ids=["before-the-clock", "no-debrief", "no-scenario"],
)
def test_no_review_without_a_played_session_or_a_review(state: SessionState, known: Scenario | None) -> None:
    lines = debrief_lines(state, known, None)
    assert not {"The real fix:", "Why:", "So it never recurs:"} & set(lines)


def test_long_texts_are_wrapped_to_the_terminal_within_bounds() -> None:
    words = "word " * 60
    review = Debrief(fix=f"{words}\n\nsecond paragraph", why="x" * 150, follow_ups=(words,))
    for width, measure in ((60, 60), (200, WIDTH), (10, 40)):
        lines = debrief_lines(session(), scenario(debrief=review), None, width=width)
        fix = section(lines, "The real fix:")
        assert all(len(line) <= measure for line in fix) and max(map(len, fix)) > measure - 6
        assert all(line.startswith("  ") for line in fix)
        assert all(len(line) <= measure for line in section(lines, "Why:"))
        bullet = section(lines, "So it never recurs:")
        assert bullet[0].startswith("  - word") and all(line.startswith("    word") for line in bullet[1:])
    lines = debrief_lines(session(), scenario(debrief=review), None, width=60)
    assert "  second paragraph" in lines  # the pack's paragraphs are kept


def test_the_review_and_guard_names_are_inert() -> None:
    evil = "\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J\x9b31m\u202e\x00"
    review = Debrief(fix="fix" + evil, why="why" + evil, follow_ups=("follow" + evil,))
    state = session(guards_tripped=["guard" + evil], relapses=1)
    for line in debrief_lines(state, scenario(debrief=review), None):
        assert not re.search(r"[\x00-\x1f\x7f-\x9f\u202e]", line), line
    text = "\n".join(debrief_lines(state, scenario(debrief=review), None))
    assert "  fix" in text and "  why" in text and "  - follow" in text and "Shortcuts caught: guard" in text
