"""replay-new-pack and replay-new in process: flags only, the questions answered at a prompt,
the post-mortem's draft, and bad input (a clear message, the documented exit status, nothing
left behind)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from libreplay.authoring import scaffold
from libreplay.scenario.load import load_scenario
from replaybook.commands import main as dispatcher
from replaybook.commands import new, new_pack

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "docs" / "examples" / "postmortem-checkout-502.md"
FLAGS = ["--title", "Checkout answers 503", "--page", "checkout fails for everyone since 10:02"]


def run(app: Any, *args: str, input: str | None = None) -> Result:
    result = CliRunner().invoke(app, list(args), input=input)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def listing(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    result = run(new_pack.app, str(tmp_path / "pack"))
    assert result.exit_code == 0, result.output
    return tmp_path / "pack"


def test_new_pack_prints_the_pack_and_the_next_step(tmp_path: Path) -> None:
    result = run(new_pack.app, str(tmp_path / "p"), "--json")
    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)
    assert made["directory"] == str(tmp_path / "p") and len(made["commit"]) == 40
    assert ".gitlab-ci.yml" in made["files"] and "make new ID=" in result.stderr


@pytest.mark.parametrize("occupant", ["file", "non-empty"])
def test_new_pack_refuses_a_file_or_a_non_empty_dir_exit_3(tmp_path: Path, occupant: str) -> None:
    target = tmp_path / "p"
    if occupant == "file":
        target.write_text("x")
    else:
        target.mkdir()
        (target / "old.txt").write_text("x")
    before = listing(tmp_path)
    result = run(new_pack.app, str(target))
    assert result.exit_code == 3 and result.stdout == ""
    assert f"Error: {target} is " in result.stderr
    assert listing(tmp_path) == before


@pytest.mark.parametrize("template", list(scaffold.TEMPLATES))
def test_new_with_flags_only_writes_a_scenario_load_scenario_accepts(pack: Path, template: str) -> None:
    result = run(new.app, "001-first", "--pack", str(pack), *FLAGS, "--template", template, "--json")
    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)
    assert made == {"id": "001-first", "directory": str(pack / "001-first"), "template": template,
                    "warnings": []}
    assert load_scenario(pack / "001-first").title == "Checkout answers 503"
    assert "make dev ID=001-first" in result.stderr and "make test-one ID=001-first" in result.stderr


def test_new_defaults_to_the_current_directory_and_the_blank_template(
    pack: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(pack)
    result = run(new.app, "002-x", *FLAGS, "--tag", "db", "--tag", "auth", "--hint", "one", "--hint", "two",
                 "--objective", "learn", "--date", "2024-03-01", "--reference", "PM-7", "--difficulty", "3")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(pack / "002-x")
    meta = json.loads((pack / "002-x" / "meta.json").read_text())
    assert meta["shell"] == "app" and meta["success_target"] == "http://app:8000/health"  # blank's
    assert meta["tags"] == ["db", "auth"] and meta["hints"] == ["one", "two"]
    assert meta["learning_objectives"] == ["learn"]
    assert meta["source"] == {"incident_date": "2024-03-01", "reference": "PM-7"} and meta["difficulty"] == 3


def test_the_questions_are_asked_in_a_terminal(pack: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(new, "stdin_is_terminal", lambda: True)
    answers = "\n".join([
        "Sessions vanish",                     # title
        "users are logged out at random",      # page
        "",                                    # difficulty: the default, 2
        "redis, sessions",                     # tags
        "Ask Redis why keys go", "Look at maxmemory", "",  # hints, then an empty one ends them
        "Read INFO memory", "",                # objectives
        "not a date", "2024-05-02",            # the date is asked again until it is one
        "PM-118",                              # reference
        "app-redis",                           # template
    ]) + "\n"
    result = run(new.app, "003-sessions", "--pack", str(pack), input=answers)
    assert result.exit_code == 0, result.output
    meta = json.loads((pack / "003-sessions" / "meta.json").read_text())
    assert (meta["title"], meta["page"]) == ("Sessions vanish", "users are logged out at random")
    assert meta["difficulty"] == 2
    assert meta["tags"] == ["redis", "sessions"]
    assert meta["hints"] == ["Ask Redis why keys go", "Look at maxmemory"]
    assert meta["learning_objectives"] == ["Read INFO memory"]
    assert meta["source"] == {"incident_date": "2024-05-02", "reference": "PM-118"}
    assert meta["survive_restart"] == ["redis"]  # app-redis's
    assert "'not a date' is not a date" in result.stderr and "Stack template [blank]" in result.stderr


def test_end_of_input_at_a_question_is_an_interrupt_and_writes_nothing(
    pack: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-D (or Ctrl-C) at a prompt: click's Abort becomes exit 130, as an interrupt everywhere."""
    monkeypatch.setattr(new, "stdin_is_terminal", lambda: True)
    before = listing(pack)
    result = run(new.app, "005-x", "--pack", str(pack), input="Only a title\n")  # then end of input
    assert result.exit_code == 130, result.output
    assert "Aborted" not in result.output
    assert listing(pack) == before


def test_a_terminal_is_asked_only_what_the_flags_left_open(
    pack: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(new, "stdin_is_terminal", lambda: True)
    result = run(new.app, "004-x", "--pack", str(pack), "--title", "T", "--difficulty", "5", "--tag", "x",
                 "--hint", "h", "--objective", "o", "--date", "2024-01-01", "--reference", "r",
                 "--template", "blank", input="the page\n")
    assert result.exit_code == 0, result.output
    assert "Page (" in result.stderr
    assert "Title" not in result.stderr and "Stack template" not in result.stderr


@pytest.mark.parametrize("missing", ["--title", "--page"])
def test_without_a_terminal_a_missing_answer_names_its_flag_exit_2(pack: Path, missing: str) -> None:
    flags = dict(zip(FLAGS[::2], FLAGS[1::2], strict=True))
    del flags[missing]
    before = listing(pack)
    result = run(new.app, "005-x", "--pack", str(pack), *[part for item in flags.items() for part in item])
    assert result.exit_code == 2
    assert f"{missing} is required when stdin is not a terminal" in result.stderr
    assert listing(pack) == before


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["Bad_ID"], 3, "'Bad_ID' is not a valid scenario id: lowercase letters, digits, '.', '_' and '-'"),
        (["001-ok", "--template", "kafka"], 2, "'kafka' is not a template: one of blank, nginx-app"),
        (["001-ok", "--date", "yesterday"], 2, "'yesterday' is not a date: write YYYY-MM-DD"),
        (["001-ok", "--difficulty", "7"], 2, "--difficulty"),
    ],
)
def test_bad_flags_are_refused_before_anything_is_written(
    pack: Path, args: list[str], status: int, message: str
) -> None:
    before = listing(pack)
    result = run(new.app, *args, "--pack", str(pack), *FLAGS)
    assert result.exit_code == status, result.output
    assert message in result.stderr
    assert listing(pack) == before


def test_an_existing_scenario_directory_is_refused_exit_3(pack: Path) -> None:
    assert run(new.app, "001-first", "--pack", str(pack), *FLAGS).exit_code == 0
    before = listing(pack)
    result = run(new.app, "001-first", "--pack", str(pack), *FLAGS, "--template", "app-redis")
    assert result.exit_code == 3
    assert f"Error: {pack / '001-first'} already exists: choose another ID" in result.stderr
    assert listing(pack) == before


def test_a_directory_that_is_not_a_pack_is_refused(tmp_path: Path, pack: Path) -> None:
    assert run(new.app, "001-first", "--pack", str(pack), *FLAGS).exit_code == 0
    (tmp_path / "plain").mkdir()
    (tmp_path / "file").write_text("x")
    cases = [
        (tmp_path / "plain", 3, "is not a pack: a pack is the root of a git repository or a directory of"),
        (tmp_path / "file", 3, "is a file, not a pack directory"),
        (pack / "001-first", 3, "is a scenario (it has meta.json), not a pack"),
        (tmp_path / "missing", 4, "no such pack directory"),
    ]
    for directory, status, message in cases:
        before = listing(tmp_path)
        result = run(new.app, "002-next", "--pack", str(directory), *FLAGS)
        assert result.exit_code == status, (directory, result.output)
        assert message in result.stderr and "Hint:" in result.stderr
        assert listing(tmp_path) == before


# -- from a post-mortem ---------------------------------------------------------------------------


def test_a_post_mortem_drafts_the_texts_and_explicit_flags_win(pack: Path) -> None:
    result = run(new.app, "006-checkout", "--pack", str(pack), "--from-postmortem", str(SAMPLE),
                 "--template", "nginx-app", "--hint", "my own first hint", "--json")
    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)
    meta = json.loads((pack / "006-checkout" / "meta.json").read_text())
    from libreplay.authoring.postmortem import read_postmortem

    draft = read_postmortem(SAMPLE)
    assert meta["title"] == draft.title and meta["page"] == draft.page
    assert meta["hints"] == ["my own first hint"]  # the flag wins over the draft's hints
    assert meta["learning_objectives"] == list(draft.objectives) and meta["tags"] == list(draft.tags)
    assert meta["source"]["incident_date"] == draft.incident_date
    assert meta["debrief"]["fix"] == draft.fix and meta["debrief"]["follow_ups"] == list(draft.follow_ups)
    assert made["warnings"] == list(draft.warnings)
    load_scenario(pack / "006-checkout")


@pytest.mark.parametrize(("name", "content"), [("empty.md", b""), ("binary.md", b"\x00\x01\x02\xff\xfe"),
                                               ("notes.txt", b"just text\n")])
def test_a_post_mortem_that_cannot_be_read_is_refused_exit_3(
    tmp_path: Path, pack: Path, name: str, content: bytes
) -> None:
    postmortem = tmp_path / name
    postmortem.write_bytes(content)
    before = listing(pack)
    result = run(new.app, "007-x", "--pack", str(pack), "--from-postmortem", str(postmortem), *FLAGS)
    assert result.exit_code == 3, result.output
    assert f"Error: {postmortem}" in result.stderr
    assert listing(pack) == before


def test_the_dispatcher_has_both_commands(tmp_path: Path) -> None:
    app = dispatcher.build()
    assert run(app, "new-pack", str(tmp_path / "p")).exit_code == 0
    result = run(app, "new", "001-x", "--pack", str(tmp_path / "p"), *FLAGS)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "p" / "001-x" / "meta.json").is_file()


# -- in a real terminal ----------------------------------------------------------------------------


def _tmux(socket: str, *args: str) -> str:
    return subprocess.run(["tmux", "-L", socket, "-f", "/dev/null", *args], capture_output=True, text=True,
                          timeout=30, check=False).stdout


def _wait_for(socket: str, text: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        screen = _tmux(socket, "capture-pane", "-p", "-S", "-200")
        if text in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{text!r} did not appear; the screen:\n{screen}")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_make_new_asks_its_questions_in_a_real_terminal(pack: Path) -> None:
    """`make new ID=…` in a terminal: make hands its terminal to replaybook new, which asks."""
    socket = f"rbnew-{uuid.uuid4().hex[:8]}"
    replaybook = Path(sys.executable).parent / "replaybook"
    line = shlex.join(["make", "-C", str(pack), "--no-print-directory", "new", "ID=008-disk",
                       "TEMPLATE=blank", f"REPLAYBOOK={replaybook}"]) + "; echo NEW-EXIT=$?; sleep 600"
    env = {k: v for k, v in os.environ.items() if k != "TMUX"}
    subprocess.run(["tmux", "-L", socket, "-f", "/dev/null", "new-session", "-d", "-x", "150", "-y", "50",
                    line], check=True, timeout=30, env=env)
    try:
        for prompt, answer in [("Title", "Disk full on orders"), ("Page (", "orders fail to save"),
                               ("Difficulty", "4"), ("Tags", "disk"), ("Hint 1", "df -h"), ("Hint 2", ""),
                               ("Learning objective 1", ""), ("Incident date", "2023-11-30"),
                               ("Post-mortem reference", "")]:
            _wait_for(socket, prompt)
            _tmux(socket, "send-keys", "-l", answer)
            _tmux(socket, "send-keys", "Enter")
            time.sleep(0.2)  # the next prompt's text may already be on screen from a similar line
        screen = _wait_for(socket, "NEW-EXIT=")
        assert "NEW-EXIT=0" in screen, screen
    finally:
        _tmux(socket, "kill-server")
    meta = json.loads((pack / "008-disk" / "meta.json").read_text())
    assert (meta["title"], meta["page"]) == ("Disk full on orders", "orders fail to save")
    assert meta["difficulty"] == 4
    assert meta["tags"] == ["disk"] and meta["hints"] == ["df -h"]
    assert meta["source"]["incident_date"] == "2023-11-30"
    assert "(Placeholder objective" in meta["learning_objectives"][0]  # none given: the template's
