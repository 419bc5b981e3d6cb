"""replaybook dev's pure parts: the console's picture, its keys, what needs a rebuild, the
workspace it lays out and the snapshot it refreshes. The loop itself runs in
tests/e2e/test_dev_e2e.py, against real containers in real tmux."""

from __future__ import annotations

import json
import os
import signal
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from scenario_kit import unpacking_binds, write_scenario
from typer.testing import CliRunner

from libreplay.authoring import dev_build
from libreplay.authoring.dev import PREFIX_KEYS, dev_workspace_spec
from libreplay.authoring.dev_build import (
    NOT_A_FILE,
    build_inputs,
    changed_inputs,
    copied_sources,
    save_inputs,
    saved_inputs,
)
from libreplay.authoring.dev_console import (
    BREAK,
    INTERRUPT,
    KEY_LINES,
    NEXT_FAULT,
    QUIT,
    REBUILD,
    SOLVE,
    ActionNews,
    CheckReading,
    ConsoleView,
    Validation,
    dispatch,
    next_fault,
    render,
    since_text,
    status_text,
)
from libreplay.core import paths
from libreplay.scenario.load import load_scenario
from libreplay.session.model import MODEL_FILE
from libreplay.session.owners import start_time
from libreplay.session.snapshot import FILES_DIR, load_snapshot, refresh_snapshot, write_snapshot
from libreplay.session.stack import Stack
from libreplay.session.state import (
    SessionState,
    list_sessions,
    new_session_id,
    project_name,
    save_new_session,
)
from replaybook.commands import main as dispatcher

T0 = datetime(2026, 12, 7, 8, 0, 0, tzinfo=UTC)
LOCAL_T0 = T0.astimezone().strftime("%H:%M:%S")


def view(**changes: Any) -> ConsoleView:
    base = ConsoleView(session_id="ab12cd34", title="Test: a file says down",
                       check_what="exit_zero: check.sh", fault="default", faults=("default",),
                       check=CheckReading(False, T0, T0), validation=Validation(at=T0))
    return replace(base, **changes)


def texts(lines: list[object]) -> list[str]:
    return [line.text for line in lines]  # type: ignore[attr-defined]


# -- keys ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "action"), [("b", BREAK), ("r", REBUILD), ("s", SOLVE), ("f", NEXT_FAULT),
                                             ("q", QUIT), ("\x03", INTERRUPT), ("B", BREAK)])
def test_each_key_asks_for_its_action(key: str, action: str) -> None:
    assert dispatch(key, busy=None).action == action


def test_a_key_of_no_meaning_does_nothing_and_says_nothing() -> None:
    for key in ("x", " ", "\r", "\x1b"):
        decision = dispatch(key, busy=None)
        assert decision.action is None and decision.refusal == ""


def test_a_stack_action_is_refused_while_another_runs_but_quitting_never_is() -> None:
    for key in "brs":
        decision = dispatch(key, busy=REBUILD)
        assert decision.action is None
        assert decision.refusal.startswith("rebuild is still running")
    assert dispatch("q", busy=BREAK).action == QUIT
    assert dispatch("\x03", busy=SOLVE).action == INTERRUPT
    assert dispatch("f", busy=BREAK).action == NEXT_FAULT  # takes effect at the next break


def test_the_next_fault_goes_round_and_starts_again_when_the_current_one_is_gone() -> None:
    faults = ("wrong-owner", "wrong-mode", "full-disk")
    assert next_fault(faults, "wrong-owner") == "wrong-mode"
    assert next_fault(faults, "full-disk") == "wrong-owner"
    assert next_fault(faults, "renamed-away") == "wrong-owner"
    assert next_fault(("only",), "only") == "only"


# -- the check's reading ------------------------------------------------------------------------


def test_the_status_says_passing_failing_or_why_there_is_no_answer() -> None:
    assert status_text(CheckReading(True, T0), T0) == ("PASSING", "green")
    assert status_text(CheckReading(False, T0), T0) == ("FAILING", "red")
    word, style = status_text(CheckReading(None, T0, note="paused: rebuilding"), T0)
    assert (word, style) == ("PAUSED: REBUILDING", "yellow")


def test_since_gives_the_clock_time_and_the_seconds_ago() -> None:
    assert since_text(T0, T0 + timedelta(seconds=12.7)) == f"since {LOCAL_T0} (12 s)"
    assert since_text(T0, T0 + timedelta(minutes=5, seconds=3)) == f"since {LOCAL_T0} (05:03)"
    assert since_text(T0, T0 - timedelta(seconds=3)) == f"since {LOCAL_T0} (0 s)"  # a clock step back


def test_the_console_shows_the_check_and_since_when() -> None:
    lines = texts(render(view(check=CheckReading(True, T0, T0)), T0 + timedelta(seconds=42), 40))
    assert "CHECK: PASSING" in lines
    assert f"  since {LOCAL_T0} (42 s)" in lines
    assert "  exit_zero: check.sh" in lines


# -- the source ----------------------------------------------------------------------------------


def test_every_problem_is_shown_naming_its_file_and_field() -> None:
    problems = ("meta.json: difficulty: must be an integer from 1 to 5, got 9",
                "meta.json: hints[0]: must be a string")
    lines = render(view(validation=Validation(problems=problems, at=T0)), T0, 40)
    shown = texts(lines)
    assert f"SOURCE: INVALID, 2 problems ({LOCAL_T0})" in shown
    assert "- meta.json: difficulty: must be an" in shown
    assert "- meta.json: hints[0]: must be a string" in shown
    assert {line.style for line in lines if "meta.json" in line.text} == {"red"}


def test_a_valid_source_says_so_and_a_change_to_the_build_is_flagged() -> None:
    shown = texts(render(view(validation=Validation(at=T0, rebuild=("Dockerfile", "serve.py"))), T0, 40))
    assert f"SOURCE: valid ({LOCAL_T0})" in shown
    assert "REBUILD NEEDED (r): changed" in shown
    assert "  Dockerfile, serve.py" in shown
    assert "REBUILD NEEDED (r): changed" not in texts(render(view(), T0, 40))


def test_a_removed_directory_and_a_first_validation_are_said() -> None:
    assert "SOURCE: GONE" in texts(render(view(validation=Validation(at=T0, gone=True)), T0, 40))
    assert "SOURCE: validating..." in texts(render(view(validation=Validation()), T0, 40))


# -- actions, keys, fitting, inertness -----------------------------------------------------------


def test_an_action_shows_its_progress_then_how_it_ended_and_its_output() -> None:
    running = ActionNews(SOLVE, T0)
    assert "SOLVE: running... 3 s" in texts(render(view(action=running), T0 + timedelta(seconds=3), 40))
    ended = ActionNews(SOLVE, T0, T0 + timedelta(seconds=1.25), False, "solve.sh exited 1",
                       ("chown: invalid user", "done"))
    shown = texts(render(view(action=ended), T0 + timedelta(seconds=9), 40))
    assert f"SOLVE: FAILED in 1.2 s ({(T0 + timedelta(seconds=1.25)).astimezone():%H:%M:%S})" in shown
    assert "  solve.sh exited 1" in shown
    assert "| chown: invalid user" in shown


def test_the_keys_stay_at_the_bottom_however_short_the_pane() -> None:
    problems = tuple(f"meta.json: hints[{n}]: must be a string" for n in range(30))
    lines = texts(render(view(validation=Validation(problems=problems, at=T0)), T0, 40, height=20))
    assert len(lines) == 20
    assert lines[-len(KEY_LINES):] == [text[:40] for text in KEY_LINES]
    assert "CHECK: FAILING" in lines  # the check comes before the problems


def test_nothing_a_scenario_or_script_wrote_reaches_the_terminal_raw_and_no_line_is_too_wide() -> None:
    hostile = "\x1b]52;c;cm0gLXJmIH4=\x07evil \x1b[2J title"
    news = ActionNews(BREAK, T0, T0, False, f"break.sh said {hostile}", (hostile,))
    lines = render(view(title=hostile, action=news, validation=Validation(problems=(hostile,), at=T0)),
                   T0, 30)
    for line in lines:
        assert "\x1b" not in line.text and "\x07" not in line.text
        assert len(line.text) <= 30


# -- what needs a rebuild ------------------------------------------------------------------------


def test_copied_sources_are_what_copy_and_add_take_from_the_context() -> None:
    dockerfile = (
        "FROM debian:bookworm-slim AS base\n"
        "# COPY commented.txt /nowhere\n"
        "COPY supervise /usr/local/bin/supervise\n"
        "COPY --chown=app:app app.py lib/*.py /srv/app/\n"
        "ADD [\"conf/site.conf\", \"/etc/nginx/conf.d/\"]\n"
        "COPY --from=base /etc/passwd /tmp/passwd\n"
        "ADD https://example.com/x.tar.gz /tmp/\n"
        "RUN apt-get update && \\\n    apt-get install -y curl\n"
        "copy \\\n  split.txt \\\n  /srv/\n"
    )
    assert copied_sources(dockerfile) == ["supervise", "app.py", "lib/*.py", "conf/site.conf", "split.txt"]


def scenario_with_a_build(directory: Path) -> Path:
    compose = {"services": {
        "web": {"build": ".", "command": ["sleep", "infinity"], "volumes": ["./site:/srv/site:ro"]},
        "app": {"build": {"context": "app", "dockerfile": "App.Dockerfile"},
                "command": ["sleep", "infinity"]},
    }}
    return write_scenario(directory, compose=compose, files={
        "Dockerfile": "FROM debian:bookworm-slim\nCOPY serve.py /usr/local/bin/\n",
        "serve.py": "print('up')\n",
        "site/index.html": "hello\n",
        "app/App.Dockerfile": "FROM debian:bookworm-slim\nCOPY conf/ /etc/app/\n",
        "app/conf/app.env": "PORT=3000\n",
        "break.sh": "echo break\n",
    })


def test_the_build_inputs_are_the_compose_file_dockerfiles_their_copies_and_binds(tmp_path: Path) -> None:
    directory = scenario_with_a_build(tmp_path / "s")
    assert set(build_inputs(directory)) == {
        "docker-compose.yml", "Dockerfile", "serve.py", "site/index.html", "app/App.Dockerfile",
        "app/conf/app.env",
    }


@pytest.mark.parametrize(("edited", "needs_rebuild"), [
    ("serve.py", True), ("Dockerfile", True), ("app/conf/app.env", True), ("site/index.html", True),
    ("docker-compose.yml", True), ("meta.json", False), ("break.sh", False),
    ("broken/default.conf", False), ("solve.sh", False),
])
def test_only_an_edit_to_what_the_stack_was_built_from_needs_a_rebuild(
    tmp_path: Path, edited: str, needs_rebuild: bool
) -> None:
    directory = scenario_with_a_build(tmp_path / "s")
    before = build_inputs(directory)
    path = directory / edited
    path.write_text(path.read_text() + "\n# edited\n")
    assert changed_inputs(before, build_inputs(directory)) == ([edited] if needs_rebuild else [])


def test_a_new_or_removed_build_input_counts_as_a_change(tmp_path: Path) -> None:
    directory = scenario_with_a_build(tmp_path / "s")
    before = build_inputs(directory)
    (directory / "serve.py").unlink()
    (directory / "app/conf/extra.env").write_text("X=1\n")
    assert changed_inputs(before, build_inputs(directory)) == ["app/conf/extra.env", "serve.py"]


def test_a_dockerfile_outside_the_scenario_is_never_read(tmp_path: Path) -> None:
    compose = {"services": {"web": {"build": {"context": ".", "dockerfile": "/dev/zero"},
                                    "command": ["sleep", "infinity"]}}}
    directory = write_scenario(tmp_path / "s", compose=compose)
    assert set(build_inputs(directory)) == {"docker-compose.yml"}  # /dev/zero would read forever


def test_what_is_not_a_regular_file_is_never_opened(tmp_path: Path) -> None:
    directory = scenario_with_a_build(tmp_path / "s")
    os.mkfifo(directory / "site" / "pipe")  # opened, a FIFO would block every validation
    (directory / "site" / "zero").symlink_to("/dev/zero")
    inputs = build_inputs(directory)
    assert inputs["site/pipe"] == NOT_A_FILE
    assert "site/zero" not in inputs  # it leads out of the scenario


def test_a_file_is_read_only_as_far_as_the_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = scenario_with_a_build(tmp_path / "s")
    monkeypatch.setattr(dev_build, "MAX_READ_BYTES", 2000)  # the compose file and Dockerfile fit
    (directory / "serve.py").write_text("#" * 2000 + "first\n")
    before = build_inputs(directory)
    (directory / "serve.py").write_text("#" * 2000 + "other\n")  # past the bound, the same size
    assert changed_inputs(before, build_inputs(directory)) == []
    (directory / "serve.py").write_text("#" * 2000 + "longer\n")  # a new size is still seen
    assert changed_inputs(before, build_inputs(directory)) == ["serve.py"]


@pytest.fixture(autouse=True)
def _binds_without_an_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bind copies unpacked under ``tmp_path/engine`` as a volume would hold them."""
    from libreplay.session import bindcopies

    monkeypatch.setattr(bindcopies, "hold_on_engine", unpacking_binds(tmp_path / "engine"))


def made_session(source: Path) -> tuple[SessionState, Stack]:
    """A session of ``source`` as replay-up leaves it, without the engine: its snapshot taken and
    its model written (which replaces the scripts' copy of the compose file)."""
    scenario = load_scenario(source)
    session_id = new_session_id()
    state = SessionState(id=session_id, scenario=scenario.id, pack=scenario.pack,
                         scenario_dir=str(source), project=project_name(session_id),
                         shell_service=scenario.shell, services=list(scenario.services))
    save_new_session(state)
    write_snapshot(scenario, state.directory)
    stack = Stack(scenario, session_id, state.project, state.directory)
    stack.prepare("replaybook/probe:test")
    return state, stack


def test_a_session_whose_copy_holds_the_model_needs_no_rebuild(tmp_path: Path) -> None:
    from libreplay.authoring.dev import DevConsole

    source = scenario_with_a_build(tmp_path / "s")
    built = build_inputs(source)
    state, _ = made_session(source)
    save_inputs(state.directory, built)
    copy = state.directory / FILES_DIR / "docker-compose.yml"
    assert copy.read_text() == (state.directory / MODEL_FILE).read_text()  # the model, not the pack's

    console = DevConsole(state.id)
    console.revalidate()
    assert console.validation.problems == () and console.validation.rebuild == ()
    (source / "serve.py").write_text("print('edited')\n")
    console.revalidate()
    assert console.validation.rebuild == ("serve.py",)


def test_a_session_without_a_kept_fingerprint_measures_from_the_directory(tmp_path: Path) -> None:
    from libreplay.authoring.dev import DevConsole

    source = scenario_with_a_build(tmp_path / "s")
    state, _ = made_session(source)
    assert saved_inputs(state.directory) is None
    console = DevConsole(state.id)
    console.revalidate()
    assert console.validation.rebuild == ()


def test_a_second_prepare_of_a_session_with_binds_copies_afresh(tmp_path: Path) -> None:
    source = scenario_with_a_build(tmp_path / "s")  # web binds ./site
    state, stack = made_session(source)
    [volume] = list((tmp_path / "engine").iterdir())
    # What a container may leave in its bind copy.
    (volume / "site" / "written-by-the-container").write_text("x\n")
    (source / "site" / "index.html").write_text("edited\n")

    stack.prepare("replaybook/probe:test")  # replaybook dev's rebuild

    bound = json.loads((state.directory / MODEL_FILE).read_text())["services"]["web"]["volumes"][0]
    assert Path(bound["source"]) == volume / "site"
    assert sorted(p.name for p in (volume / "site").iterdir()) == ["index.html"]
    assert (volume / "site" / "index.html").read_text() == "edited\n"
    assert "mounts" not in [p.name for p in state.directory.iterdir()]  # nothing of it on this host


def test_a_stop_right_after_up_still_tears_the_session_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from libreplay.authoring import dev
    from libreplay.session import lifecycle

    scenario = load_scenario(write_scenario(tmp_path / "s"))
    made: list[str] = []
    downed: list[str] = []

    def up_then_ctrl_c(*_args: object, **_kwargs: object) -> SessionState:
        # up made the session (owned by this process, as OWNER_ENV says) and returned: the
        # Ctrl-C arrives before the loop has noted the session's id.
        session_id = new_session_id()
        save_new_session(SessionState(id=session_id, scenario=scenario.id, pack=scenario.pack,
                                      scenario_dir=str(scenario.directory), project=project_name(session_id),
                                      owner_pid=os.getpid(), owner_started=start_time(os.getpid())))
        made.append(session_id)
        raise KeyboardInterrupt

    def down(session_id: str, *, record: bool = True) -> SessionState:
        assert record is False
        downed.append(session_id)
        return SessionState(id=session_id, scenario="", pack="", scenario_dir="", project="")

    # A session of an earlier process that had this pid is never taken for this loop's.
    other = new_session_id()
    save_new_session(SessionState(id=other, scenario="other", pack="local", scenario_dir="/x",
                                  project=project_name(other), owner_pid=os.getpid(), owner_started=0.0))
    monkeypatch.setattr(lifecycle, "up", up_then_ctrl_c)
    monkeypatch.setattr(lifecycle, "down", down)
    result = dev.DevLoop(scenario).run()
    assert downed == made and result.session_id == made[0]
    assert result.signum == signal.SIGINT
    assert {state.id for state in list_sessions()} == {other, made[0]}  # down was stubbed


# -- the workspace and the snapshot ---------------------------------------------------------------


def test_the_workspace_puts_the_shell_beside_the_console_and_binds_the_keys() -> None:
    state = SessionState(id="ab12cd34", scenario="demo", pack="local", scenario_dir="/x",
                         project="replaybook-ab12cd34", shell_service="web", services=["web", "app", "db"])
    spec = dev_workspace_spec(state, lambda name: f"/bin/{name}", fault="wrong-owner", columns=120, rows=40)
    assert spec.shell == ("/bin/replay-dev", "--shell", "ab12cd34")
    assert spec.hud == ("/bin/replay-dev", "--console", "ab12cd34", "--fault", "wrong-owner")
    assert [(w.name, w.command) for w in spec.windows] == [
        ("app", ("/bin/replay-shell", "ab12cd34", "app")), ("db", ("/bin/replay-shell", "ab12cd34", "db"))]
    assert set(spec.key_bindings) == set(PREFIX_KEYS)
    assert spec.key_bindings["s"][-4:] == ("send-keys", "-t", "replaybook:0.1", "s")
    assert spec.socket == "replaybook-ab12cd34"


def test_a_refreshed_snapshot_takes_the_edited_files_and_leaves_nothing_beside(tmp_path: Path) -> None:
    source = write_scenario(tmp_path / "s", files={"solve.sh": "echo first\n"})
    session = paths.session_dir("refresh1")
    session.mkdir(parents=True)
    write_snapshot(load_scenario(source), session)

    (source / "solve.sh").write_text("echo second\n")
    (source / "broken/default.conf").write_text("server { listen 81; }\n")
    meta = json.loads((source / "meta.json").read_text())
    meta["title"] = "Edited title"
    (source / "meta.json").write_text(json.dumps(meta))
    refresh_snapshot(load_scenario(source), session)

    copies = session / FILES_DIR
    assert (copies / "solve.sh").read_text() == "echo second\n"
    assert (copies / "broken/default.conf").read_text() == "server { listen 81; }\n"
    assert load_snapshot("refresh1").title == "Edited title"
    assert sorted(p.name for p in session.iterdir()) == [FILES_DIR, "scenario.json"]


# -- the command --------------------------------------------------------------------------------


def test_dev_without_a_terminal_fails_clearly_and_starts_nothing(tmp_path: Path) -> None:
    source = write_scenario(tmp_path / "s")
    result = CliRunner().invoke(dispatcher.build(), ["dev", str(source)])
    assert result.exit_code == 5
    assert "needs a terminal" in result.output
    assert not paths.sessions_dir().exists()


def test_dev_without_a_scenario_is_a_usage_error() -> None:
    result = CliRunner().invoke(dispatcher.build(), ["dev"])
    assert result.exit_code == 2
    assert "SCENARIO" in result.output


def test_a_mistyped_fault_is_refused_naming_the_valid_ones_before_anything_is_built(tmp_path: Path) -> None:
    from libreplay.authoring.dev import DevLoop
    from libreplay.core.errors import InvalidInput

    scenario = load_scenario(write_scenario(tmp_path / "s"))
    with pytest.raises(InvalidInput, match=r"--fault: .* has no fault 'nope' \(faults: default\)"):
        DevLoop(scenario, fault="nope")
    assert not paths.sessions_dir().exists()
