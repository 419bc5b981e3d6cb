"""Fair wins on the real engine: a fix must hold, a relapse is shown and charged, a guard names
a shortcut and blocks the win, a fix that lives only in memory does not survive the restart,
and `replaybook test` proves all of it for a pack's reference fixes.

The fixtures (tests/fixtures/fair/t-hold, failing/memfix, failing/badguard) are one small app
that answers 200 while /srv/state says "up" and copies that file from /etc/app.state at start.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from dockerkit import FAILING, FIXTURES, leftovers, run, session_from_stderr, start, up_and_broken

from libreplay.session import hold, ledger, watcher
from libreplay.session.state import SessionState, load_session

pytestmark = pytest.mark.docker

T_HOLD = FIXTURES / "fair" / "t-hold"
STATE_UP = "echo up > /srv/state"
SETTING_UP = "echo up > /etc/app.state"


def in_app(session: str, script: str) -> None:
    """What the trainee types in the app's shell."""
    done = subprocess.run(
        ["docker", "compose", "-p", f"replaybook-{session}", "exec", "-T", "app", "sh", "-c", script],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def wait_until(session: str, what: Callable[[SessionState], bool], timeout: float = 30) -> SessionState:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = load_session(session)
        if what(state):
            return state
        time.sleep(0.1)
    raise AssertionError(f"session {session} never got there: {load_session(session)}")


@pytest.fixture
def hold_of_the_scenario(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """These tests are about the hold: the scenario's own, not the suite's one second."""
    monkeypatch.delenv("REPLAYBOOK_HOLD_SECONDS")
    yield


def test_a_relapse_returns_to_active_a_guard_blocks_the_win_and_both_are_charged(
    projects: list[str], hold_of_the_scenario: None
) -> None:
    session = up_and_broken(T_HOLD, projects)
    watching = start("replay-check", session, "--watch")
    try:
        # A momentary fix: the check passes, the session verifies, then it breaks again.
        in_app(session, STATE_UP)
        verifying = wait_until(session, lambda s: s.status == "verifying")
        assert verifying.verifying_since is not None and verifying.hold_seconds == 4
        in_app(session, "echo down > /srv/state")
        relapsed = wait_until(session, lambda s: s.status == "active" and s.relapses == 1)
        assert relapsed.relapse_note.startswith("the fix did not hold: the check failed again after")
        assert relapsed.verifying_since is None

        # A shortcut: the data deleted with the fix. The guard names it; no hold while it fails.
        in_app(session, f"rm /srv/data && {SETTING_UP} && {STATE_UP}")
        caught = wait_until(session, lambda s: s.guards_failing == ["the app's data was deleted"])
        assert caught.guards_tripped == ["data-kept"]
        time.sleep(6)  # longer than the hold: the clock runs on, the session is not resolved
        suspended = load_session(session)
        assert (suspended.status, suspended.relapses, suspended.fix_landed_at) == ("active", 1, None)

        # The data restored: the guard passes, the hold ends, the session resolves.
        in_app(session, "echo orders > /srv/data")
        out, err = watching.communicate(timeout=60)
    finally:
        if watching.poll() is None:
            watching.kill()
    assert (watching.returncode, out.strip()) == (0, "resolved"), err
    state = load_session(session)
    assert (state.relapses, state.guards_tripped, state.guards_failing) == (1, ["data-kept"], [])
    assert state.resolved_at is not None and state.ended_at is not None
    assert (state.ended_at - state.resolved_at).total_seconds() >= 4  # the hold is not charged as time
    assert state.fix_landed_at is None and state.verifying_since is None
    expected = ledger.score(fixed=True, elapsed_seconds=state.elapsed_seconds(),
                            sla_seconds=state.sla_seconds, hints_used=0, guards_tripped=1, relapses=1)
    assert state.score == expected
    (line,) = ledger.read_ledger()
    assert (line["relapses"], line["guards_tripped"], line["score"]) == (1, ["data-kept"], expected)
    assert run("replay-down", session).returncode == 0
    assert leftovers(f"replaybook-{session}") == {}


def test_a_fix_in_memory_does_not_survive_the_restart(
    projects: list[str], monkeypatch: pytest.MonkeyPatch, hold_of_the_scenario: None
) -> None:
    """survive_restart: the app restarts when the hold begins; a fix made only in /srv/state is
    undone by the start, which is a relapse. The watcher runs here, in the main thread (it takes
    the signals), with a shorter wait for the check to come back."""
    monkeypatch.setattr(hold, "RETURN_TIMEOUT_SECONDS", 6)
    session = up_and_broken(FAILING / "memfix", projects)
    relapsed = threading.Event()
    notes: list[str] = []

    def trainee() -> None:
        in_app(session, STATE_UP)  # the fix in memory only
        notes.append(wait_until(session, lambda s: s.relapses == 1, timeout=60).relapse_note)
        relapsed.set()
        in_app(session, f"{SETTING_UP} && {STATE_UP}")  # the real fix

    acting = threading.Thread(target=trainee, daemon=True)
    acting.start()
    final = watcher.watch(session)
    acting.join(timeout=5)
    assert relapsed.is_set()
    assert final.status == "resolved" and final.relapses == 1
    assert "did not survive a restart" in notes[0]
    assert final.relapse_note == ""  # old news once the real fix's hold started
    assert run("replay-down", session).returncode == 0
    assert leftovers(f"replaybook-{session}") == {}


def test_replaybook_test_proves_the_hold_and_the_guards() -> None:
    passed = run("replaybook", "test", str(T_HOLD), timeout=600)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert passed.stdout.startswith("PASS ")

    memory_only = run("replaybook", "test", str(FAILING / "memfix"), timeout=600)
    assert memory_only.returncode != 0
    assert "holds" in memory_only.stdout + memory_only.stderr
    assert "did not survive a restart" in memory_only.stdout + memory_only.stderr


def test_a_guard_that_fails_on_the_healthy_stack_is_the_scenarios_fault(projects: list[str]) -> None:
    result = run("replay-up", str(FAILING / "badguard"), timeout=600)
    session = session_from_stderr(result.stderr)
    assert session is not None, result.stderr
    projects.append(f"replaybook-{session}")
    assert result.returncode == 6, result.stderr
    assert "on the healthy stack, guard 'never' fails (this guard never passes)" in result.stderr
    assert result.stdout == ""
    assert leftovers(f"replaybook-{session}") == {}  # the session it made is gone
    assert json.loads(run("replay-sessions", "--json").stdout) == []
