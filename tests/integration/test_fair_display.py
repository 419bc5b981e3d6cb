"""What the trainee is shown of a fair win, drawn from the state the real watcher writes: the HUD
while the fix holds, after a relapse and while a guard names a shortcut, and the debrief's
after-action review after a win and after a give-up.

The fixture is tests/fixtures/fair/t-hold (tests/integration/test_hold.py proves the watcher's
side): an app that answers 200 while /srv/state says "up", a guard that its data in /srv/data
is kept, a hold of 4 s, and a debrief.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from dockerkit import leftovers, run, start, up_and_broken
from test_hold import T_HOLD, in_app, wait_until  # the same trainee's moves as the watcher's tests

from libreplay.play.debrief import debrief_lines
from libreplay.session.snapshot import load_snapshot
from libreplay.session.state import SessionState, load_session, now
from replaybook.hud.render import Layout, render

pytestmark = pytest.mark.docker

HUD_WIDTH = 60
REVIEW = [
    "",
    "The real fix:",
    "  Set the app's state back to up, in its setting and in the running app.",
    "",
    "Why:",
    "  The app reads /srv/state on every request and copies it from /etc/app.state at",
    "  start.",
    "",
    "So it never recurs:",
    "  - Alert on the state file",
    "  - Keep the setting under configuration management",
]


@pytest.fixture
def hold_of_the_scenario(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The scenario's own hold (4 s), long enough to be seen, not the suite's one second."""
    monkeypatch.delenv("REPLAYBOOK_HOLD_SECONDS")
    yield


def hud(state: SessionState, moment: datetime | None = None) -> list[str]:
    """The HUD as run's right pane draws it."""
    lines = render(state, moment or now(), HUD_WIDTH, layout=Layout(in_tmux=True, hint_key="h"))
    return [line.text for line in lines]


def after(lines: list[str], first: str, count: int) -> list[str]:
    return lines[lines.index(first) + 1:][:count]


def down(session: str) -> SessionState:
    result = run("replay-down", session, "--json")
    assert result.returncode == 0, result.stderr
    assert leftovers(f"replaybook-{session}") == {}
    return SessionState.from_json(result.stdout)


def test_the_hud_follows_the_hold_and_the_debrief_reviews_the_win(
    projects: list[str], hold_of_the_scenario: None
) -> None:
    session = up_and_broken(T_HOLD, projects)
    watching = start("replay-check", session, "--watch")
    try:
        in_app(session, "echo up > /srv/state")  # a momentary fix
        holding = wait_until(session, lambda s: s.status == "verifying")
        assert holding.verifying_since is not None
        shown = hud(holding, holding.verifying_since + timedelta(seconds=2.5))
        assert after(shown, "STATUS: VERIFYING… 2 s of 4 s", 1)[0].endswith("left when the fix landed")

        in_app(session, "echo down > /srv/state")
        shown = hud(wait_until(session, lambda s: s.status == "active" and s.relapses == 1))
        assert after(shown, "STATUS: ACTIVE", 1)[0].startswith("the fix did not hold: the check failed")
        assert "relapses: 1" in shown

        in_app(session, "rm /srv/data && echo up > /etc/app.state && echo up > /srv/state")  # a shortcut
        shown = hud(wait_until(session, lambda s: bool(s.guards_failing)))
        state_line = after(shown, "STATUS: WARNING - the app's data was deleted", 1)[0]
        assert state_line.endswith(": no win while a guard fails)")
        # The relapse's note may still show under it: the guard's round, set off by the command
        # itself, can fail before the probe sees the check pass (and verifying clears the note).
        assert "relapses: 1, guards tripped: 1" in shown

        in_app(session, "echo orders > /srv/data")  # put back: the guard passes, the hold ends
        out, err = watching.communicate(timeout=60)
    finally:
        if watching.poll() is None:
            watching.kill()
    assert (watching.returncode, out.strip()) == (0, "resolved"), err
    shown = hud(load_session(session))
    assert after(shown, "STATUS: RESOLVED", 4)[1:] == [
        "relapses: 1, guards tripped: 1",
        "the clock has stopped: look around, then exit the shell for",
        "the debrief",
    ]

    scenario = load_snapshot(session)  # as run keeps it for the debrief, before replay-down
    lines = debrief_lines(down(session), scenario, None, width=80)
    score = next(index for index, line in enumerate(lines) if line.startswith("Score:"))
    assert lines[score + 1:score + 3] == ["Shortcuts caught: data-kept", "Relapses:  1"]
    start_of_review = lines.index("The real fix:") - 1
    assert lines[start_of_review:start_of_review + len(REVIEW)] == REVIEW


def test_giving_up_shows_the_real_fix(projects: list[str]) -> None:
    session = up_and_broken(T_HOLD, projects)
    scenario = load_snapshot(session)
    lines = debrief_lines(down(session), scenario, None, width=80)
    assert "Outcome:   ABANDONED" in lines and "Score:     0" in lines
    assert not any(line.startswith(("Shortcuts caught:", "Relapses:")) for line in lines)
    start_of_review = lines.index("The real fix:") - 1
    assert lines[start_of_review:start_of_review + len(REVIEW)] == REVIEW
