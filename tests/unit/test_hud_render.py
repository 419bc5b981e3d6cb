"""The HUD's pure rendering: state + time + width in, lines out."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from libreplay.core.text import clock
from libreplay.session import state as st
from libreplay.session.state import SessionState
from replaybook.hud.app import paint
from replaybook.hud.render import Layout, Line, render, wrap

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
PAGE = "URGENT: users getting 502s on checkout. conversion is tanking. please look now."


def session(**changes: object) -> SessionState:
    state = SessionState(
        id="s1", scenario="001-nginx-502", pack="official", scenario_dir="/nowhere",
        project="replaybook-s1", status=st.ACTIVE, title="Checkout 502s", page=PAGE,
        services=["web", "db", "app"], shell_service="web", hints_total=2, sla_seconds=900,
        started_at=T0, deadline=T0 + timedelta(seconds=900),
    )
    for key, value in changes.items():
        setattr(state, key, value)
    return state


def texts(lines: list[Line]) -> list[str]:
    return [line.text for line in lines]


def joined(lines: list[Line]) -> str:
    return "\n".join(texts(lines))


def style_of(lines: list[Line], prefix: str) -> str:
    return next(line.style for line in lines if line.text.startswith(prefix))


def test_active_session_shows_page_countdown_and_hint_offer() -> None:
    lines = render(session(), T0 + timedelta(seconds=15), 40)
    out = joined(lines)
    assert texts(lines)[0] == "== replaybook =="
    assert "INCIDENT:" in out
    assert "URGENT: users getting 502s on checkout." in out
    assert "STATUS: ACTIVE" in out
    assert "SLA: 14:45 remaining" in out
    assert "HINTS: 0 / 2 used" in out
    assert "run get-hint for a hint" in out


@pytest.mark.parametrize("width", [12, 20, 25, 40, 80])
def test_no_line_is_wider_than_the_pane(width: int) -> None:
    state = session(hints_used=1, hints_revealed=["a rather long hint " * 5 + "supercalifragilistic" * 3])
    for line in render(state, T0, width, layout=Layout(in_tmux=True, hint_key="h")):
        assert len(line.text) <= width, line


def test_countdown_rounds_up_and_ticks() -> None:
    state = session()
    assert "SLA: 15:00 remaining" in joined(render(state, T0, 40))
    assert "SLA: 15:00 remaining" in joined(render(state, T0 + timedelta(seconds=0.5), 40))
    assert "SLA: 14:59 remaining" in joined(render(state, T0 + timedelta(seconds=1), 40))
    assert "SLA: 00:01 remaining" in joined(render(state, T0 + timedelta(seconds=899.5), 40))


def test_deadline_turns_status_red_even_before_the_watcher_writes_timeout() -> None:
    lines = render(session(), T0 + timedelta(seconds=900), 40)
    assert "STATUS: SLA BREACHED" in texts(lines)
    assert style_of(lines, "STATUS:") == "red"
    assert style_of(lines, "SLA:") == "red"


def test_timeout_status_is_red_and_a_late_fix_is_noted() -> None:
    state = session(status=st.TIMEOUT, fixed_late_at=T0 + timedelta(seconds=1000))
    lines = render(state, T0 + timedelta(seconds=1001), 40)
    assert style_of(lines, "STATUS:") == "red"
    assert "fixed late, at 16:40" in joined(lines)


def test_resolved_is_green_with_the_time_taken() -> None:
    state = session(status=st.RESOLVED, resolved_at=T0 + timedelta(seconds=192))
    lines = render(state, T0 + timedelta(seconds=300), 40)
    assert "STATUS: RESOLVED" in texts(lines)
    assert style_of(lines, "STATUS:") == "green"
    assert "SLA: met, fixed in 03:12" in texts(lines)
    assert "run get-hint for a hint" not in joined(lines)


@pytest.mark.parametrize(
    ("status", "word"),
    [(st.STARTING, "STARTING"), (st.READY, "READY"), (st.BREAKING, "BREAKING"),
     (st.ABANDONED, "ABANDONED"), (st.ERROR, "ERROR")],
)
def test_other_statuses_are_named(status: str, word: str) -> None:
    state = session(status=status, started_at=None, deadline=None)
    out = joined(render(state, T0, 40))
    assert f"STATUS: {word}" in out
    if status in (st.STARTING, st.READY):
        assert "SLA: 15:00 (starts with the break)" in out


def test_starting_session_without_a_page_says_so() -> None:
    state = session(status=st.STARTING, page="", title="", deadline=None)
    assert "(waiting for the page)" in joined(render(state, T0, 40))


def test_revealed_hints_are_numbered_and_wrapped_with_a_hanging_indent() -> None:
    hints = ["check the upstream port", "nginx -T shows the config in full"]
    state = session(hints_used=2, hints_revealed=hints)
    out = texts(render(state, T0, 20))
    assert "HINTS: 2 / 2 used" in out
    assert "no hints left" in out
    assert "1. check the" in out
    assert "2. nginx -T shows" in out
    assert "   the config in" in out


def test_tmux_layout_names_windows_and_the_hint_key() -> None:
    out = joined(render(session(), T0, 40, layout=Layout(in_tmux=True, hint_key="h")))
    assert "run get-hint for a hint (or C-b h)" in out
    assert "C-b 1  db" in out
    assert "C-b 2  app" in out
    assert "C-b 0" in out


def test_standalone_layout_names_commands() -> None:
    out = joined(render(session(), T0, 60))
    assert "replay-shell s1 db" in out
    assert "C-b" not in out


def test_single_service_scenario_lists_no_other_services() -> None:
    out = joined(render(session(services=["web"]), T0, 40))
    assert "other services" not in out


def test_short_pane_keeps_status_and_hints_and_cuts_the_page() -> None:
    state = session(page="line\n" * 30)
    lines = render(state, T0, 40, height=24)
    assert len(lines) <= 24
    out = texts(lines)
    assert "STATUS: ACTIVE" in out
    assert "HINTS: 0 / 2 used" in out
    assert "..." in out


def test_hostile_scenario_text_is_inert_in_every_field() -> None:
    evil = "\x1b]0;owned\x07\x1b[2J\x9b31m\x07\x00\x7f"
    state = session(title="t" + evil, page="p" + evil, hints_used=1, hints_revealed=["h" + evil],
                    services=["web", "db" + evil], error="e" + evil)
    for status in (st.ACTIVE, st.ERROR):
        state.status = status
        for line in render(state, T0, 40):
            assert not re.search(r"[\x00-\x1f\x7f-\x9f]", line.text), line


def test_paint_clears_to_end_of_line_and_screen_and_colours_lines() -> None:
    drawn = paint([Line("STATUS: RESOLVED", "green"), Line("plain")], 40)
    assert drawn.startswith("\x1b[H")
    assert "\x1b[1;32mSTATUS: RESOLVED\x1b[0m\x1b[K" in drawn
    assert drawn.endswith("plain\x1b[K\x1b[J")


def test_wrap_keeps_blank_lines_and_breaks_long_words() -> None:
    assert wrap("a\n\nb", 10) == ["a", "", "b"]
    assert wrap("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_clock_formats() -> None:
    assert clock(0) == "00:00"
    assert clock(885) == "14:45"
    assert clock(3725) == "1:02:05"
    assert clock(-5) == "00:00"


@pytest.mark.parametrize("status", [st.STARTING, st.READY, st.BREAKING])
def test_before_the_break_hints_are_announced_not_counted(status: str) -> None:
    # hints_total is written by the break (its fault may bring hints of its own)
    text = joined(render(session(status=status, hints_total=0, deadline=None), T0, 40))
    assert "HINTS: once the incident starts" in text
    assert "no hints" not in text and "get-hint" not in text


# -- fair wins: the hold, guards, relapses -----------------------------------------------------

FIX_AT = T0 + timedelta(seconds=180)


def verifying(**changes: object) -> SessionState:
    return session(**{"status": st.VERIFYING, "hold_seconds": 15, "verifying_since": FIX_AT, **changes})


def test_verifying_counts_the_hold_live_and_the_sla_as_it_stood_at_the_fix() -> None:
    lines = render(verifying(), FIX_AT + timedelta(seconds=4.6), 40)
    assert "STATUS: VERIFYING… 4 s of 15 s" in texts(lines)
    assert style_of(lines, "STATUS:") == "yellow"
    assert "SLA: 12:00 left when the fix landed" in texts(lines)
    later = render(verifying(), FIX_AT + timedelta(seconds=11), 40)
    assert "STATUS: VERIFYING… 11 s of 15 s" in texts(later)
    assert "SLA: 12:00 left when the fix landed" in texts(later)  # the clock no longer runs


def test_verifying_past_the_deadline_is_not_shown_as_breached() -> None:
    # A fix that landed in time and holds is a win, whatever the clock says meanwhile.
    state = verifying(verifying_since=T0 + timedelta(seconds=895))
    lines = render(state, T0 + timedelta(seconds=905), 40)
    assert "STATUS: VERIFYING… 10 s of 15 s" in texts(lines)
    assert "SLA: 00:05 left when the fix landed" in texts(lines)
    assert "BREACHED" not in joined(lines)


def test_verifying_shows_what_the_hold_is_doing() -> None:
    lines = render(verifying(verify_note="restarting web"), FIX_AT + timedelta(seconds=2), 40)
    status = texts(lines).index("STATUS: VERIFYING… 2 s of 15 s")
    assert lines[status + 1] == Line("restarting web", "yellow")


def test_a_hold_of_zero_shows_no_target() -> None:
    lines = render(verifying(hold_seconds=0), FIX_AT + timedelta(seconds=1), 40)
    assert "STATUS: VERIFYING… 1 s" in texts(lines)


def test_a_relapse_is_explained_and_counted() -> None:
    # The note as the watcher words it (libreplay/session/watcher.py).
    state = session(relapses=1, relapse_note="the fix did not hold: the check failed again after 4 s")
    lines = render(state, FIX_AT, 40)
    out = texts(lines)
    assert out[out.index("STATUS: ACTIVE") + 1:][:3] == [
        "the fix did not hold: the check failed",
        "again after 4 s",
        "SLA: 12:00 remaining",
    ]
    assert style_of(lines, "the fix did not hold") == "yellow"
    assert "relapses: 1" in out
    without_a_note = texts(render(session(relapses=2), FIX_AT, 40))
    assert without_a_note[without_a_note.index("STATUS: ACTIVE") + 1] == "the fix did not hold"
    # Verifying again, the old reason is no longer news; the count stays.
    again = texts(render(verifying(relapses=1, relapse_note="old news"), FIX_AT, 40))
    assert "old news" not in "\n".join(again)
    assert "relapses: 1" in again


def test_a_failing_guard_is_the_status_and_the_state_stays_visible() -> None:
    state = session(guards_failing=["the migration was rolled back"], guards_tripped=["migration-kept"])
    lines = render(state, FIX_AT, 40)
    out = texts(lines)
    start = out.index("STATUS: WARNING - the migration was")
    assert out[start:start + 5] == [
        "STATUS: WARNING - the migration was",
        "rolled back",
        "(ACTIVE: no win while a guard fails)",
        "SLA: 12:00 remaining",
        "guards tripped: 1",
    ]
    assert [line.style for line in lines[start:start + 3]] == ["red", "red", "bold"]
    assert "STATUS: ACTIVE" not in out


def test_every_failing_guard_is_named_while_verifying_too() -> None:
    state = verifying(guards_failing=["the orders table was emptied", "auth is off"],
                      guards_tripped=["orders-kept", "auth-required"], relapses=2)
    out = texts(render(state, FIX_AT + timedelta(seconds=3), 60))
    assert out[out.index("STATUS: WARNING - the orders table was emptied") + 1:][:4] == [
        "WARNING - auth is off",
        "(VERIFYING… 3 s of 15 s: no win while a guard fails)",
        "SLA: 12:00 left when the fix landed",
        "relapses: 2, guards tripped: 2",
    ]


@pytest.mark.parametrize(("status", "word"), [(st.RESOLVED, "RESOLVED"), (st.TIMEOUT, "SLA BREACHED"),
                                             (st.ABANDONED, "ABANDONED")])
def test_once_the_clock_stops_only_the_counts_remain(status: str, word: str) -> None:
    # The watcher leaves guards_failing as it last was: after the clock it is no longer news.
    state = session(status=status, resolved_at=FIX_AT if status == st.RESOLVED else None,
                    guards_failing=["stale"], guards_tripped=["migration-kept"], relapses=1,
                    relapse_note="stale")
    out = texts(render(state, FIX_AT + timedelta(seconds=60), 40))
    assert f"STATUS: {word}" in out
    assert "relapses: 1, guards tripped: 1" in out
    assert "stale" not in "\n".join(out)


def test_guard_and_hold_text_is_inert_and_fits_the_pane() -> None:
    evil = "\x1b]0;owned\x07\x1b[2J\x9b31m\x07\x00\x7f" + "a-very-long-word" * 4
    for state in (
        verifying(verify_note="n" + evil, guards_failing=["g" + evil], relapses=1),
        session(relapses=3, relapse_note="r" + evil, guards_failing=["g" + evil, ""]),
    ):
        for width in (12, 25, 40):
            for line in render(state, FIX_AT + timedelta(seconds=2), width):
                assert not re.search(r"[\x00-\x1f\x7f-\x9f]", line.text), line
                assert len(line.text) <= width, line


def test_after_a_win_in_the_run_the_trainee_is_told_how_to_leave() -> None:
    state = session(status=st.RESOLVED, resolved_at=FIX_AT)
    in_run = texts(render(state, FIX_AT + timedelta(seconds=60), 40, layout=Layout(in_tmux=True)))
    assert in_run[in_run.index("SLA: met, fixed in 03:00") + 1:][:3] == [
        "the clock has stopped: look around, then", "exit the shell for the debrief", "HINTS: 0 / 2 used",
    ]
    standalone = joined(render(state, FIX_AT + timedelta(seconds=60), 40))
    assert "exit the shell" not in standalone  # replay-hud on its own closes nothing
