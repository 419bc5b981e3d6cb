"""Hostile pack text on every output: no escape, C1, bidi, format or invisible character reaches
the terminal, and the ordinary text beside it does.

A pack is built in the test's tmp dir with escapes (OSC 0 title, OSC 52 clipboard, CSI, 8-bit
C1), bidi overrides, zero-width and tag characters in its title, page, hints, tags, learning
objectives, source reference, meta keys, fault script names, directory names and compose service
names; then each command is driven in process (typer's CliRunner) and each stream checked.
``replaybook test`` relays the output of a failing break.sh and runs against the real engine.
"""

from __future__ import annotations

import json
import os
import shlex
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from scenario_kit import DELETE, use_official_pack, write_scenario
from typer.testing import CliRunner, Result

from libreplay.host import doctor
from libreplay.packs.catalog import resolve_scenario
from libreplay.play.debrief import debrief_lines
from libreplay.session.snapshot import write_snapshot
from libreplay.session.state import ACTIVE, RESOLVED, SessionState, load_session, save_new_session
from replaybook.commands import add, hint, list_, packs, sessions, up, validate
from replaybook.commands import doctor as doctor_command
from replaybook.commands import run as run_command
from replaybook.commands.common import say

EVIL = (
    "\x1b]0;pwned-title\x07"  # OSC 0: retitle the window
    "\x1b]52;c;ZWNobyBwd25lZA==\x07"  # OSC 52: write the clipboard
    "\x1b[2J\x1b[31m"  # CSI: clear the screen, colour
    "\x9b1m"  # 8-bit CSI
    "\x9d0;c1-title\x9c"  # 8-bit OSC
    "\x85\x07"  # NEL (C1), BEL
    "\u202e\u2066"  # bidi override, isolate
    "\u200b\u200d\u2060\ufeff\u00ad"  # zero-width space and joiner, word joiner, BOM, soft hyphen
    "\U000e0041\U000e0042"  # tag characters
    "\u3164\ufe0f"  # Hangul filler, a stray variation selector
)
SHOWN = "Ünï 日本 🔥"  # ordinary text beside the hostile bytes: it must survive


def hostile(word: str) -> str:
    return f"{word} {EVIL} {SHOWN}"


def shown(word: str) -> str:
    """What reaches the terminal of ``hostile(word)``: the stray NEL and BEL as visible ``?``."""
    return f"{word} ?? {SHOWN}"


def offending(text: str) -> list[str]:
    """The characters of ``text`` a terminal would act on, or would not show."""
    return sorted({f"U+{ord(c):04X}" for c in text if _active_or_invisible(c)})


def _active_or_invisible(char: str) -> bool:
    if char == "\n":
        return False
    if unicodedata.category(char) in ("Cc", "Cf", "Cs"):  # escapes, C0, C1, bidi, zero-width, tags
        return True
    return char in "\u034f\u115f\u1160\u3164\uffa0" or "\ufe00" <= char <= "\ufe0f"


def assert_inert(result: Result, *, shown_on: str) -> None:
    """Nothing active on either stream, and the ordinary text did reach ``shown_on`` (``json``:
    stdout is a JSON document, checked also as its values decoded, the way ``jq .`` shows them)."""
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert offending(result.stdout) == [], result.stdout
    assert offending(result.stderr) == [], result.stderr
    if shown_on == "json":
        assert result.stdout.isascii()
        decoded = json.dumps(json.loads(result.stdout), ensure_ascii=False)
        assert offending(decoded) == [] and SHOWN in decoded, decoded
    else:
        assert SHOWN in getattr(result, shown_on), (shown_on, result.stdout, result.stderr)


def invoke(app: Any, *args: str) -> Result:
    return CliRunner().invoke(app, list(args))


# -- the hostile pack -------------------------------------------------------------------------

PLAYABLE = "evil-ok"
TAG = f"tag{EVIL}"


def write_playable(directory: Path) -> Path:
    """A valid scenario whose every free-text field is hostile (its id cannot be: ids are checked)."""
    return write_scenario(directory, meta={
        "id": PLAYABLE,
        "title": hostile("Title"),
        "page": f"{hostile('Page')}\nsecond line {EVIL}",
        "tags": ["nginx", TAG],
        "hints": [hostile("Hint one"), hostile("Hint two")],
        "learning_objectives": [hostile("Objective")],
        "source": {"reference": hostile("Postmortem"), "incident_date": "2024-02-29"},
        hostile("x-unknown-key"): 1,  # a warning quotes the key
    })


def write_invalid(directory: Path) -> Path:
    """An invalid scenario whose problems quote hostile names: its directory, a fault's script,
    the compose service names."""
    return write_scenario(
        directory,
        meta={"id": "bad-one", "break": DELETE, "title": hostile("Bad"),
              "faults": [{"name": "one", "script": f"break {EVIL}.sh"}]},
        compose={"services": {hostile("web"): {"image": "debian:bookworm-slim", "container_name": "x"}}},
    )


def make_hostile_repo(root: Path) -> Path:
    import git

    repo = git.Repo.init(root, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "Pack Author")
        config.set_value("user", "email", "author@example.invalid")
    write_playable(root / PLAYABLE)
    write_invalid(root / f"bad {EVIL} {SHOWN}")
    repo.git.add("--all")
    repo.index.commit(f"hostile scenarios {EVIL}")
    return root


@pytest.fixture(autouse=True)
def official(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return use_official_pack(monkeypatch, tmp_path / "official", ["001-nginx-502"])


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """The hostile pack as a local git repository; its path is hostile too (replay-packs shows it)."""
    return make_hostile_repo(tmp_path / f"pack {EVIL} {SHOWN}")


@pytest.fixture
def added(source: Path) -> Path:
    result = invoke(add.app, str(source))
    assert result.exit_code == 3, result.output  # added, with one invalid scenario
    return source


# -- list, packs, add -------------------------------------------------------------------------


def test_add_reports_the_hostile_pack_inertly(source: Path) -> None:
    result = invoke(add.app, str(source))
    assert result.exit_code == 3
    assert_inert(result, shown_on="stdout")  # the table's titles
    assert SHOWN in result.stderr  # "Cloning <path>", the invalid scenario's directory


def test_add_json_is_valid_and_inert(source: Path) -> None:
    result = invoke(add.app, str(source), "--json")
    assert_inert(result, shown_on="json")
    record = json.loads(result.stdout)
    assert SHOWN in record["pack"]["source"]
    assert record["scenarios"][0]["title"] == shown("Title")


@pytest.mark.usefixtures("added")
def test_list_table_and_warnings_are_inert() -> None:
    result = invoke(list_.app)
    assert result.exit_code == 0
    assert_inert(result, shown_on="stdout")
    assert "skipped an invalid scenario" in result.stderr and SHOWN in result.stderr
    row = next(line for line in result.stdout.splitlines() if PLAYABLE in line)
    assert row.endswith(shown("Title"))


@pytest.mark.usefixtures("added")
def test_list_json_is_valid_and_inert() -> None:
    result = invoke(list_.app, "--json")
    assert_inert(result, shown_on="json")
    records = {r["id"]: r for r in json.loads(result.stdout)}
    assert records[PLAYABLE]["title"] == shown("Title")
    assert "nginx" in records[PLAYABLE]["tags"]


@pytest.mark.usefixtures("added")
def test_list_by_a_hostile_tag_is_inert() -> None:
    assert_inert(invoke(list_.app, "--tag", TAG), shown_on="stdout")


@pytest.mark.usefixtures("added")
def test_packs_table_and_json_are_inert() -> None:
    table = invoke(packs.app)
    assert table.exit_code == 0
    assert_inert(table, shown_on="stdout")  # the SOURCE column: the repository's path
    assert_inert(invoke(packs.app, "--json"), shown_on="json")


# -- validate, and errors rendered by the command layer ---------------------------------------


def test_validate_errors_and_warnings_are_inert(source: Path) -> None:
    result = invoke(validate.app, str(source))
    assert result.exit_code == 3
    assert_inert(result, shown_on="stderr")
    assert "warning" in result.stderr and "x-unknown-key" in result.stderr
    assert "break" in result.stderr and "1 of 2 scenario(s) invalid" in result.stderr


def test_validate_names_an_undecodable_file_name_without_crashing(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    write_scenario(pack / "ok", meta={"id": "ok"})
    undecodable = Path(os.fsdecode(os.fsencode(pack) + b"/bad\xff\x1b]0;x\x07"))  # not UTF-8
    undecodable.mkdir()
    (undecodable / "meta.json").write_text("{")
    result = invoke(validate.app, str(pack))
    assert result.exit_code == 3
    assert "Traceback" not in result.output
    assert offending(result.stderr) == []
    assert "bad?" in result.stderr  # the byte that is no UTF-8 stays visible as "?"


def test_an_invalid_scenario_error_from_the_command_layer_is_inert(source: Path) -> None:
    bad = next(d for d in source.iterdir() if d.name.startswith("bad "))
    result = invoke(up.app, str(bad))  # ScenarioInvalid before anything starts: "Error: …"
    assert result.exit_code == 3
    assert_inert(result, shown_on="stderr")
    assert result.stderr.startswith("Error: ")


# -- a session: hint, sessions, the HUD, the debrief ------------------------------------------


@pytest.fixture
def session(source: Path) -> SessionState:
    scenario = resolve_scenario(str(source / PLAYABLE))
    now = datetime.now(UTC)
    state = SessionState(
        id="evil0001", scenario=scenario.id, pack=scenario.pack, scenario_dir=str(scenario.directory),
        project="replaybook-evil0001", status=ACTIVE, fault="default", shell_service="web",
        services=list(scenario.services), success_condition=scenario.success_condition,
        created_at=now, started_at=now, deadline=now + timedelta(minutes=15),
        hints_total=len(scenario.hints), title=scenario.title, page=scenario.page,
    )
    save_new_session(state)
    write_snapshot(scenario, state.directory)  # what replay-up leaves for the later steps
    return state


def test_hint_is_inert(session: SessionState) -> None:
    result = invoke(hint.app, session.id)
    assert result.exit_code == 0, result.output
    assert_inert(result, shown_on="stdout")
    assert result.stdout.startswith("Hint 1/2: Hint one")


def test_sessions_table_and_json_are_inert(session: SessionState) -> None:
    assert invoke(hint.app, session.id).exit_code == 0  # a revealed hint is in the state now
    table = invoke(sessions.app)
    assert table.exit_code == 0
    assert session.id in table.stdout and offending(table.output) == []
    listed = invoke(sessions.app, "--json")
    assert_inert(listed, shown_on="json")  # title, page and the revealed hint
    assert json.loads(listed.stdout)[0]["hints_revealed"] == [shown("Hint one")]


def test_hud_render_is_inert(session: SessionState) -> None:
    from replaybook.hud.render import Layout, render

    assert invoke(hint.app, session.id).exit_code == 0
    state = load_session(session.id)
    state.error = hostile("Error")
    for status in (ACTIVE, "error"):
        state.status = status
        for layout in (Layout(), Layout(in_tmux=True, hint_key="h", windows={"app": 1})):
            text = "\n".join(line.text for line in render(state, datetime.now(UTC), 60, 80, layout))
            assert offending(text) == [], text
            assert SHOWN in text


def test_debrief_is_inert(session: SessionState) -> None:
    scenario = resolve_scenario(session.scenario_dir)
    final = load_session(session.id)
    final.status, final.outcome, final.score = RESOLVED, "success", 900
    final.resolved_at = final.ended_at = datetime.now(UTC)
    final.fault = hostile("fault")
    lines = debrief_lines(final, scenario, None)
    text = "\n".join(lines)
    assert offending(text) == [], text
    assert "Based on: Postmortem" in text and "  - Objective" in text and SHOWN in text


def test_run_says_a_drawn_scenario_inertly(capsys: pytest.CaptureFixture[str], added: Path) -> None:
    assert run_command._choose(None, True, TAG).name.endswith(PLAYABLE)
    said = capsys.readouterr().err
    assert said.startswith("Drawn at random: ") and offending(said) == [] and SHOWN in said


# -- doctor: what it relays from the machine ---------------------------------------------------


def test_doctor_relays_engine_and_compose_text_inertly(monkeypatch: pytest.MonkeyPatch) -> None:
    def engine() -> doctor.Engine:
        raise RuntimeError(hostile("Cannot connect to the Docker daemon"))

    host = doctor.Host(
        which=lambda name: f"/usr/bin/{name}",
        run=lambda argv: (1, hostile("docker: 'compose' is not a docker command.")),
        engine=engine,
        image_present=lambda tag: True,
        free_bytes=lambda path: 50 * 1024**3,
        is_root=lambda: True,
        replaybook="/venv/bin/replaybook",
    )
    real_examine = doctor.examine
    monkeypatch.setattr(doctor, "examine", lambda **kw: real_examine(host, **kw))
    table = invoke(doctor_command.app)
    assert table.exit_code == 1
    assert_inert(table, shown_on="stdout")
    assert_inert(invoke(doctor_command.app, "--json"), shown_on="json")


def test_doctor_relays_a_fix_commands_output_inertly(capsys: pytest.CaptureFixture[str]) -> None:
    printing = f"printf '%s\\n' {shlex.quote(hostile('fixed'))}"  # the raw bytes, single-quoted
    report = doctor.Report((doctor.Finding("tool", doctor.MISSING, "missing", fix=printing),))
    assert doctor.apply_fixes(report, say) == [(printing, 0)]
    said = capsys.readouterr().err
    assert offending(said) == [] and SHOWN in said and "fixed" in said


# -- replaybook test: a failing break.sh's output, on the real engine --------------------------


def write_failing_break(directory: Path) -> Path:
    script = (f"#!/usr/bin/env bash\nprintf '%s\\n' {shlex.quote(hostile('out'))}\n"
              f"printf '%s\\n' {shlex.quote(hostile('err'))} >&2\nexit 1\n")
    directory = write_scenario(
        directory,
        meta={"id": "evil-break", "title": hostile("Title"), "break": DELETE,
              "success_condition": "exit_zero", "success_target": DELETE},
        compose={"services": {"box": {"image": "debian:bookworm-slim", "init": True,
                                      "command": ["sleep", "infinity"]}}},
        files={"break.sh": script, "check.sh": "#!/usr/bin/env bash\nexit 0\n",
               "broken/default.conf": None},
    )
    for name in ("break.sh", "check.sh", "solve.sh"):
        (directory / name).chmod(0o755)
    return directory


@pytest.mark.docker
@pytest.mark.parametrize("json_", [False, True], ids=["lines", "json"])
def test_test_relays_a_failing_break_scripts_output_inertly(tmp_path: Path, json_: bool) -> None:
    from replaybook.commands import test as test_command

    directory = write_failing_break(tmp_path / "evil-break")
    result = invoke(test_command.app, str(directory), *(["--json"] if json_ else []))
    assert result.exit_code == 1, result.output
    assert_inert(result, shown_on="json" if json_ else "stdout")
    assert "FAIL local/evil-break [default] at break" in result.output
    if json_:
        (cycle,) = json.loads(result.stdout)
        assert SHOWN in cycle["detail"]
        assert SHOWN in result.stderr  # the FAIL line is said there
