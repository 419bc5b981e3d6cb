"""The single session commands and their pipe, against the real engine, with real containers.

Every test asserts that nothing of its Compose project is left (containers, networks,
volumes); a teardown then removes by label whatever a failing test left, so later tests
start clean.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest
from dockerkit import (
    FAILING,
    TESTPACK,
    exe,
    leftovers,
    run,
    session_from_stderr,
    start,
    wait_for_line,
)

from libreplay.core import paths
from libreplay.session.ledger import default_player
from libreplay.session.state import load_session

pytestmark = pytest.mark.docker

T_HTTP = str(TESTPACK / "t-http")
T_EXIT = str(TESTPACK / "t-exit")


def up(scenario: str, projects: list[str]) -> str:
    result = run("replay-up", scenario)
    assert result.returncode == 0, result.stderr
    session = result.stdout.strip()
    projects.append(f"replaybook-{session}")
    return session


def ledger() -> list[dict[str, object]]:
    path = paths.ledger_path()
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def assert_clean(session: str) -> None:
    assert leftovers(f"replaybook-{session}") == {}
    assert not paths.session_dir(session).exists()


def test_single_commands_from_up_to_down(projects: list[str]) -> None:
    session = up(T_EXIT, projects)
    assert load_session(session).status == "ready"
    assert run("replay-check", session).returncode == 0  # healthy before the break

    broke = run("replay-break", session)
    assert broke.returncode == 0, broke.stderr
    assert broke.stdout.strip() == session
    state = load_session(session)
    assert state.status == "active"
    assert state.deadline is not None and state.started_at is not None

    not_fixed = run("replay-check", session)
    assert (not_fixed.returncode, not_fixed.stdout.strip()) == (1, "not fixed")

    first = run("replay-hint", session)
    assert first.returncode == 0 and first.stdout.strip() == "Hint 1/1: cat /srv/state"
    none_left = run("replay-hint", session)
    assert none_left.returncode == 1 and "No more hints" in none_left.stderr
    assert load_session(session).hints_used == 1

    down = run("replay-down", session, "--json")
    assert down.returncode == 0, down.stderr
    assert json.loads(down.stdout)["outcome"] == "abandoned"
    assert [line["outcome"] for line in ledger()] == ["abandoned"]
    assert ledger()[0]["hints_used"] == 1 and ledger()[0]["score"] == 0
    assert ledger()[0]["player"] == default_player()  # the OS user, when --player is not given
    assert_clean(session)


def test_the_player_named_at_up_is_the_ledger_s(projects: list[str]) -> None:
    refused = run("replay-up", T_EXIT, "--player", "ana\x1b[2J")
    assert refused.returncode == 3 and "--player" in refused.stderr
    assert "\x1b" not in refused.stderr and not any(paths.sessions_dir().glob("*"))
    session = up_as(T_EXIT, "Ana María", projects)
    assert run("replay-break", session).returncode == 0
    assert run("replay-down", session).returncode == 0
    assert [(line["session"], line["player"]) for line in ledger()] == [(session, "Ana María")]
    assert_clean(session)


def up_as(scenario: str, player: str, projects: list[str]) -> str:
    result = run("replay-up", scenario, "--player", player)
    assert result.returncode == 0, result.stderr
    projects.append(f"replaybook-{result.stdout.strip()}")
    return result.stdout.strip()


def test_pipe_up_break_watch_resolves_when_fixed(projects: list[str]) -> None:
    pipe = subprocess.Popen(
        f"{exe('replay-up')} {T_HTTP} | {exe('replay-break')} --fault script "
        f"| {exe('replay-check')} --watch",
        shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    session = _wait_for_active_session(projects)
    # The trainee's fix, done the way a trainee would: inside the container.
    fix = subprocess.run(
        ["docker", "compose", "-p", f"replaybook-{session}", "exec", "-T", "app",
         "sh", "-c", "echo up > /srv/state"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert fix.returncode == 0, fix.stderr
    out, err = pipe.communicate(timeout=60)
    assert pipe.returncode == 0, err
    assert out.strip() == "resolved"
    state = load_session(session)
    assert state.status == "resolved" and state.outcome == "success" and (state.score or 0) >= 100
    assert [(line["session"], line["outcome"]) for line in ledger()] == [(session, "success")]
    assert run("replay-down", session).returncode == 0
    assert_clean(session)


def test_hint_channel_answers_get_hint_inside_the_container(projects: list[str]) -> None:
    session = up(T_HTTP, projects)
    assert run("replay-break", session, "--fault", "steps").returncode == 0
    watcher = start("replay-check", session, "--watch")
    try:
        get_hint = [
            "docker", "compose", "-p", f"replaybook-{session}", "exec", "-T", "app",
            "sh", "-c", "PATH=/run/replaybook/bin:$PATH; get-hint & get-hint & wait",
        ]  # fmt: skip
        answers = subprocess.run(get_hint, capture_output=True, text=True, timeout=30, check=False)
        assert answers.returncode == 0, answers.stderr
        # Two requests at once: the fault's single hint is revealed and counted once.
        assert sorted(answers.stdout.strip().splitlines()) == sorted(
            [
                "Hint 1/1: only one hint for the steps fault",
                "No more hints for this incident: you have seen them all.",
            ]
        )
        state = load_session(session)
        assert state.hints_used == 1
        assert state.hints_revealed == ["only one hint for the steps fault"]
        assert not (paths.session_dir(session) / "channel").exists()  # no host path: the Docker API
    finally:
        watcher.send_signal(signal.SIGTERM)
        watcher.wait(timeout=60)
    # SIGTERM to the watcher of a pipe tears the stack down and records the abandon.
    assert watcher.returncode == 128 + signal.SIGTERM
    assert_clean(session)
    assert [line["outcome"] for line in ledger()] == ["abandoned"]


def test_two_sessions_of_one_scenario_run_side_by_side(projects: list[str]) -> None:
    first = up(T_HTTP, projects)
    second = up(T_HTTP, projects)
    assert first != second
    assert run("replay-break", first, "--fault", "script").returncode == 0
    assert run("replay-check", first).returncode == 1
    assert run("replay-check", second).returncode == 0  # untouched by the other's break
    assert run("replay-down", first).returncode == 0
    assert_clean(first)
    assert run("replay-check", second).returncode == 0
    assert run("replay-down", second).returncode == 0
    assert_clean(second)


def test_timeout_is_recorded_and_a_late_fix_noted(
    projects: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPLAYBOOK_SLA_SECONDS", "3")
    session = up(T_EXIT, projects)
    assert run("replay-break", session).returncode == 0
    watched = run("replay-check", session, "--watch", timeout=60)
    assert (watched.returncode, watched.stdout.strip()) == (1, "timeout")
    assert load_session(session).status == "timeout"
    late = start("replay-check", session, "--watch", "--through-deadline")
    time.sleep(1)
    subprocess.run(
        [
            "docker",
            "compose",
            "-p",
            f"replaybook-{session}",
            "exec",
            "-T",
            "box",
            "sh",
            "-c",
            "echo up > /srv/state",
        ],
        check=True,
        capture_output=True,
    )
    out, _ = late.communicate(timeout=60)
    state = load_session(session)
    assert state.status == "timeout" and state.fixed_late_at is not None and out.strip() == "timeout"
    assert [line["outcome"] for line in ledger()] == ["timeout"]
    assert run("replay-down", session).returncode == 0
    assert_clean(session)


# -- failure paths -----------------------------------------------------------------------------


def _up_failing(name: str, projects: list[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    result = run("replay-up", str(FAILING / name), timeout=timeout)
    session = session_from_stderr(result.stderr)
    if session:
        projects.append(f"replaybook-{session}")
    return result


def test_a_break_that_does_not_break_is_reported_and_cleaned(projects: list[str]) -> None:
    session = up(str(FAILING / "nobreak"), projects)
    result = run("replay-break", session, timeout=200)
    assert result.returncode == 6
    assert "did not break anything" in result.stderr and "Traceback" not in result.stderr
    assert_clean(session)
    assert ledger() == []  # the clock never started


def test_a_mistyped_fault_is_reported_and_cleaned(projects: list[str]) -> None:
    session = up(T_HTTP, projects)
    result = run("replay-break", session, "--fault", "nope")
    assert result.returncode == 3
    # Blind play: a guess is refused without listing the right answers.
    assert "has no fault 'nope'" in result.stderr
    assert "script" not in result.stderr and "steps" not in result.stderr
    assert_clean(session)


def test_a_mistyped_fault_names_the_valid_ones_to_an_author(projects: list[str]) -> None:
    session = up(T_HTTP, projects)
    result = run("replay-break", session, "--fault", "nope", "--reveal")
    assert result.returncode == 3
    assert "has no fault 'nope' (faults: script, steps)" in result.stderr
    assert_clean(session)


def test_a_service_that_never_starts_is_reported_and_cleaned(projects: list[str]) -> None:
    result = _up_failing("neverstarts", projects)
    assert result.returncode == 6, result.stderr
    assert "did not come up" in result.stderr and "Traceback" not in result.stderr
    assert "config error: cannot start" in result.stderr  # the service's own log, before teardown
    session = session_from_stderr(result.stderr)
    assert session is not None
    assert_clean(session)


def test_a_hanging_check_fails_the_baseline_within_bounds(
    projects: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from libreplay.core.errors import ScenarioFailure
    from libreplay.scenario.load import load_scenario
    from libreplay.session import checks
    from libreplay.session import lifecycle as sessions

    monkeypatch.setattr(checks, "CHECK_TIMEOUT_SECONDS", 2)
    monkeypatch.setattr(sessions, "BASELINE_TIMEOUT_SECONDS", 5)
    scenario = load_scenario(FAILING / "hangcheck")
    started = time.monotonic()
    with pytest.raises(ScenarioFailure, match="fails its own success check"):
        sessions.up(scenario, on_progress=_remember_session(projects))
    assert time.monotonic() - started < 90
    assert leftovers(projects[-1]) == {}


def _remember_session(projects: list[str]):  # type: ignore[no-untyped-def]
    def progress(line: str) -> None:
        session = session_from_stderr(line)
        if session:
            projects.append(f"replaybook-{session}")

    return progress


# -- interrupts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize(
    ("fixture", "moment"),
    [("slowbuild", r"building for|CACHE_BUST|Building"), ("slowstart", r"Waiting|Started")],
)
def test_stop_signal_during_up_leaves_nothing(
    projects: list[str], sig: signal.Signals, fixture: str, moment: str
) -> None:
    process = start("replay-up", "--reveal", str(FAILING / fixture))
    seen = wait_for_line(process, r"as session", timeout=120)
    session = session_from_stderr(seen)
    assert session is not None
    projects.append(f"replaybook-{session}")
    wait_for_line(process, moment, timeout=300)
    time.sleep(1)
    process.send_signal(sig)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + sig, err
    assert "Traceback" not in err
    assert_clean(session)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_stop_signal_during_break_leaves_nothing(projects: list[str], sig: signal.Signals) -> None:
    session = up(str(FAILING / "slowbreak"), projects)
    process = start("replay-break", session)
    wait_for_line(process, r"injecting the fault", timeout=60)
    time.sleep(1)
    process.send_signal(sig)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + sig, err
    assert_clean(session)


def test_sigkill_leaves_an_orphan_that_down_all_removes(projects: list[str]) -> None:
    process = start("replay-up", "--reveal", str(FAILING / "slowstart"))
    seen = wait_for_line(process, r"as session", timeout=120)
    session = session_from_stderr(seen)
    assert session is not None
    projects.append(f"replaybook-{session}")
    wait_for_line(process, r"Waiting|Started", timeout=300)
    process.kill()
    process.wait(timeout=30)
    listing = run("replay-sessions")
    assert "orphaned session(s)" in listing.stderr and session in listing.stderr
    assert "(orphan" in listing.stdout
    assert leftovers(f"replaybook-{session}") != {}  # the kill left the stack behind ...
    removed = run("replay-down", "--all")
    assert removed.returncode == 0, removed.stderr
    assert session in removed.stdout.split()
    assert_clean(session)  # ... and down --all removed all of it
    assert "orphaned" not in run("replay-sessions").stderr


def test_replaybook_test_passes_on_the_test_pack() -> None:
    result = run("replaybook", "test", "--all", str(TESTPACK), timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 4 and all(line.startswith("PASS ") for line in lines)
    assert "4 passed, 0 failed" in result.stderr


def test_replaybook_test_reports_the_failing_step(projects: list[str]) -> None:
    result = run("replaybook", "test", str(FAILING / "nobreak"), timeout=300)
    assert result.returncode == 1
    assert "FAIL local/f-nobreak [default] at break:" in result.stdout
    assert "0 passed, 1 failed" in result.stderr


def _wait_for_active_session(projects: list[str], timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    root = paths.sessions_dir()
    while time.monotonic() < deadline:
        for directory in root.glob("*") if root.exists() else []:
            try:
                state = load_session(directory.name)
            except Exception:  # noqa: BLE001 - a session still being created
                continue
            if f"replaybook-{state.id}" not in projects:
                projects.append(f"replaybook-{state.id}")
            if state.status == "active":
                return state.id
        time.sleep(0.2)
    raise AssertionError("no session became active")
