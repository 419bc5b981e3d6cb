"""Blind play without Docker: what the trainee is told names neither the scenario nor the fault,
authors see both on request, the official checks keep their text out of argv, a window
waiting for its service says why, and every window's recording can be found and listed.

The leaks that need real containers (the break's talk, what a container shows, `ps` while a
check runs, the break's file times) are tested in tests/integration/test_blind_play.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from scenario_kit import write_scenario
from typer.testing import CliRunner

from libreplay.core import paths
from libreplay.core.errors import InvalidInput, NotFound
from libreplay.packs.catalog import resolve_scenario, scenario_dirs
from libreplay.play.shell import not_running_line
from libreplay.play.transcripts import recorded_windows, transcript_for
from libreplay.session.containers import ServiceContainer
from libreplay.session.lifecycle import choose_fault
from libreplay.session.state import SessionState
from replaybook.commands import replay
from replaybook.commands import run as run_command

OFFICIAL = Path(__file__).resolve().parents[2] / "packs" / "official"
# The stacks `replaybook new` writes from follow the same rules (libreplay/authoring/templates/).
TEMPLATES = Path(__file__).resolve().parents[2] / "libreplay" / "authoring" / "templates" / "scenario"
SESSION = "b11d0001"
CAST_HEADER = json.dumps({"version": 2, "width": 80, "height": 24}) + "\n"


# -- talk before and during play -------------------------------------------------------------


def test_a_drawn_scenario_is_announced_by_its_title_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "official"
    write_scenario(root / "004-disk-full", meta={"id": "004-disk-full", "title": "Orders fail to save"})
    monkeypatch.setattr(paths, "official_pack_dir", lambda: root)
    chosen = run_command._choose(None, True, None)
    assert chosen.name.endswith("004-disk-full")  # replay-up still gets the id
    assert capsys.readouterr().err == "Drawn at random: Orders fail to save\n"


def test_a_mistyped_fault_lists_the_valid_names_only_to_an_author() -> None:
    scenario = resolve_scenario(str(OFFICIAL / "002-postgres-wont-start"))
    with pytest.raises(InvalidInput) as blind:
        choose_fault(scenario, "wrong-owners")
    assert "wrong-owners" in blind.value.message  # the guess is named back, nothing else
    assert "wrong-owner," not in blind.value.message and "wrong-mode" not in blind.value.message
    assert "002" not in blind.value.message and "--reveal" in (blind.value.hint or "")
    with pytest.raises(InvalidInput) as revealed:
        choose_fault(scenario, "wrong-owners", reveal=True)
    assert "(faults: wrong-owner, wrong-mode)" in revealed.value.message


# -- check scripts: their text never an argument -------------------------------------------------

# `sh -c '<script>'` (or bash -c, or a quoted script after exec) puts the script, its comments
# and its thresholds in the argv that the trainee's `ps` shows; `sh -s <<'EOF'` sends it on stdin.
SCRIPT_AS_ARGUMENT = re.compile(r"\b(?:ba)?sh\s+-\w*c\b")
QUOTED_HEREDOC = re.compile(r"<<-?\s*'\w+'")  # quoted: the host's shell expands nothing in it


def _check_and_guard_scripts() -> list[Path]:
    """Every official check.sh and every script an official guard runs (meta.json's guards), a
    track's scenarios (official/forum/101-…) included."""
    scenarios = list(scenario_dirs(OFFICIAL))
    found = {d / "check.sh" for d in scenarios if (d / "check.sh").is_file()}
    for meta in (d / "meta.json" for d in scenarios):
        for guard in json.loads(meta.read_text()).get("guards", []):
            if guard.get("script"):
                found.add(meta.parent / guard["script"])
    assert len(found) >= 5  # 002, 006, 007, 009, 011 check with a script
    templates = {*TEMPLATES.glob("*/check.sh"), *TEMPLATES.glob("*/guards/*.sh")}
    assert len(templates) >= 4  # a guard in each stack
    return sorted(found | templates)


@pytest.mark.parametrize("script", _check_and_guard_scripts(), ids=lambda p: "/".join(p.parts[-3:]))
def test_official_checks_send_their_container_side_over_stdin(script: Path) -> None:
    text = script.read_text()
    assert SCRIPT_AS_ARGUMENT.search(text) is None, f"{script}: a script passed as an argument"
    for line in text.splitlines():
        if "compose exec" in line and "sh -s" in line:
            assert QUOTED_HEREDOC.search(line), f"{script}: `sh -s` without a quoted heredoc: {line}"


# -- a window waiting for its service ------------------------------------------------------------


def _state() -> SessionState:
    return SessionState(id=SESSION, scenario="x", pack="p", scenario_dir="/", project="p",
                        services=["web", "app"], shell_service="web")


def _container(service: str, status: str, code: int | None) -> ServiceContainer:
    return ServiceContainer(id="c", name=f"replaybook-{SESSION}-{service}-1", service=service,
                            status=status, exit_code=code, image_path="/bin")


def test_a_stopped_service_s_window_says_how_it_ended_and_how_to_start_it() -> None:
    line = not_running_line(_state(), _container("app", "exited", 137))
    assert line == ("Service app is stopped (exited with code 137): start it with `docker start app` "
                    "in the main shell; this window opens once it runs.")


def test_a_crash_looping_service_points_at_its_logs() -> None:
    line = not_running_line(_state(), _container("app", "restarting", 1))
    assert "keeps restarting" in line and "last exit code 1" in line and "docker logs app" in line


def test_the_shell_service_itself_waits_without_a_start_it_cannot_be_given() -> None:
    line = not_running_line(_state(), _container("web", "exited", 0))
    assert line.startswith("Service web is stopped (exited with code 0)")
    assert "docker start" not in line and "this shell opens again" in line


# -- every window recorded ---------------------------------------------------------------------


def _record(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CAST_HEADER + json.dumps([0.1, "o", text]) + "\n")


def test_each_window_has_its_own_recording_found_by_name() -> None:
    _record(paths.transcript_path(SESSION), "main")
    _record(paths.transcript_path(SESSION, "db"), "db window")
    _record(paths.transcript_path(SESSION, "app"), "app window")
    _record(paths.transcript_path("b11d0002", "app"), "another session")
    assert list(recorded_windows(SESSION)) == ["shell", "app", "db"]
    assert transcript_for(SESSION) == paths.transcript_path(SESSION)
    assert transcript_for(SESSION, "app") == paths.transcript_path(SESSION, "app")
    with pytest.raises(NotFound, match="no recorded window 'cache'"):
        transcript_for(SESSION, "cache")


@pytest.mark.parametrize("window", ["../../etc/passwd", "a/b", ".hidden", ""])
def test_a_window_name_is_never_a_path(window: str) -> None:
    with pytest.raises(InvalidInput):
        paths.transcript_path(SESSION, window)


def test_replay_lists_the_windows_and_refuses_a_window_of_a_file(tmp_path: Path) -> None:
    _record(paths.transcript_path(SESSION), "main")
    _record(paths.transcript_path(SESSION, "app"), "app window")
    runner = CliRunner()
    listed = runner.invoke(replay.app, [SESSION, "--list"])
    assert listed.exit_code == 0, listed.output
    rows = [line.split() for line in listed.stdout.splitlines()[2:]]
    assert rows == [["shell", str(paths.transcript_path(SESSION))],
                    ["app", str(paths.transcript_path(SESSION, "app"))]]
    of_a_file = runner.invoke(replay.app, [str(paths.transcript_path(SESSION)), "--window", "app"])
    assert of_a_file.exit_code == 3
    nothing = runner.invoke(replay.app, ["b11d0009", "--list"])
    assert nothing.exit_code == 4
