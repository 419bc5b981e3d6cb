"""replaybook run / replay as far as they go without a terminal or Docker, and the debrief text."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from libreplay.core import paths
from libreplay.packs.catalog import resolve_scenario
from libreplay.play.debrief import debrief_lines
from libreplay.play.workspace import reopening
from libreplay.session.state import ABANDONED, RESOLVED, TIMEOUT, SessionState
from replaybook.commands import main as dispatcher
from replaybook.commands import replay as replay_command
from replaybook.commands import run as run_command

runner = CliRunner()
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_run_without_a_terminal_fails_clearly_and_starts_nothing() -> None:
    result = runner.invoke(dispatcher.build(), ["run", "001-nginx-502"])
    assert result.exit_code == 5
    assert "needs a terminal" in result.output
    assert not paths.sessions_dir().exists()


def test_choose_rejects_unknown_scenarios_and_tags() -> None:
    from libreplay.core.errors import NotFound

    with pytest.raises(NotFound):
        run_command._choose("no-such-scenario", False, None)
    with pytest.raises(NotFound, match="tag"):
        run_command._choose(None, True, "no-such-tag")


def test_random_draws_from_the_tagged_scenarios() -> None:
    chosen = run_command._choose(None, True, "nginx")  # several official scenarios carry it
    assert "nginx" in resolve_scenario(chosen.name).tags
    assert chosen.scenario == resolve_scenario(chosen.name)  # looked up once: the one trust is asked about


def test_window_command_reopens_the_service_shell() -> None:
    line = reopening(("replay-shell", "s1", "db"), "db")
    assert line.startswith("while :; do replay-shell s1 db;")
    assert "read _ || break" in line


def test_final_state_json_from_replay_down_is_parsed() -> None:
    state = SessionState(id="s1", scenario="x", pack="official", scenario_dir="/", project="replaybook-s1",
                         status=RESOLVED, started_at=T0, resolved_at=T0 + timedelta(seconds=61))
    printed = json.dumps(state.to_dict(), default=str).encode()  # as emit_json writes it
    parsed = SessionState.from_json(printed)
    assert parsed.resolved_at == T0 + timedelta(seconds=61)
    assert parsed.status == RESOLVED


def session(**changes: object) -> SessionState:
    state = SessionState(
        id="s1", scenario="001-nginx-502", pack="official", scenario_dir="/", project="replaybook-s1",
        status=RESOLVED, title="502 Bad Gateway", fault="default", sla_seconds=900,
        started_at=T0, resolved_at=T0 + timedelta(seconds=192), hints_used=1, hints_total=3,
        score=843, outcome="success", transcript="/x.cast",
    )
    for key, value in changes.items():
        setattr(state, key, value)
    return state


def test_debrief_of_a_win_names_everything() -> None:
    scenario = resolve_scenario("001-nginx-502")
    text = "\n".join(debrief_lines(session(), scenario, {"session": "s1", "score": 843}))
    assert "Outcome:   RESOLVED within the SLA" in text
    assert "Time:      fixed in 03:12 of 15:00" in text
    assert "Hints:     1 / 3 used" in text
    assert "Score:     843" in text
    assert "a new personal best" in text
    assert "Fault:     default" in text
    assert scenario.learning_objectives[0] in text
    assert "Based on: " in text
    assert "replaybook replay s1" in text


def test_debrief_of_a_timeout_with_an_older_best() -> None:
    state = session(status=TIMEOUT, outcome="timeout", resolved_at=None, score=0,
                    ended_at=T0 + timedelta(seconds=900))
    best = {"session": "older", "score": 900, "elapsed_seconds": 75.2, "hints_used": 0}
    text = "\n".join(debrief_lines(state, None, best))
    assert "Outcome:   SLA BREACHED" in text
    assert "Time:      15:00 of 15:00" in text
    assert "Best:      900 in 01:15 with 0 hint(s)" in text


def test_debrief_of_a_session_ended_before_its_outcome_was_recorded() -> None:
    # replay-down of a session whose clock never started records no outcome: the ledger's rule names it.
    text = "\n".join(debrief_lines(session(status=ABANDONED, outcome=None, started_at=None), None, None))
    assert "Outcome:   ABANDONED" in text
    assert "the clock never started" in text


def test_debrief_makes_scenario_text_inert() -> None:
    text = "\n".join(debrief_lines(session(title="evil\x1b]0;x\x07title"), None, None))
    assert "\x1b" not in text and "\x07" not in text
    assert "Best:      none yet" in text


def test_replay_names_a_missing_transcript() -> None:
    result = runner.invoke(replay_command.app, ["nosuch"])
    assert result.exit_code == 4
    assert "no transcript for session 'nosuch'" in result.output


def test_replay_refuses_a_file_that_is_not_asciicast(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.cast"
    bogus.write_text("hello\n")
    result = runner.invoke(replay_command.app, [str(bogus)])
    assert result.exit_code == 3
    assert "not an asciicast v2 recording" in result.output


def test_replay_plays_a_cast_file(tmp_path: Path) -> None:
    import subprocess
    import sys

    cast = tmp_path / "s.cast"
    cast.write_text('{"version": 2, "width": 80, "height": 24}\n[0.1, "o", "hello from the shell\\r\\n"]\n')
    exe = Path(sys.executable).with_name("replay-replay")
    played = subprocess.run([str(exe), str(cast), "--speed", "100"], capture_output=True, text=True,
                            timeout=60, check=False, stdin=subprocess.DEVNULL)
    assert played.returncode == 0, played.stderr
    assert "hello from the shell" in played.stdout
