"""The session's snapshot of its scenario, without an engine: written at up, read by every later
step, the pack never again; damaged or missing, named like a damaged session.toml."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from scenario_kit import DELETE, make_pack_repo, write_scenario

from libreplay.core import paths
from libreplay.core.errors import InvalidInput, NotFound, ScenarioFailure
from libreplay.packs import catalog as packs
from libreplay.packs import trust
from libreplay.scenario.load import load_scenario
from libreplay.scenario.model import Scenario
from libreplay.session import lifecycle as sessions
from libreplay.session import snapshot, state
from libreplay.session.snapshot import FILES_DIR, SNAPSHOT_FILE, load_snapshot, write_snapshot
from libreplay.session.stack import Stack

OFFICIAL = Path(__file__).resolve().parents[2] / "packs" / "official"

FAULTS = [
    {"name": "script", "script": "faults/break-it.sh", "solve": "faults/fix-it.sh"},
    {
        "name": "steps",
        "break": [
            {"cp": {"service": "web", "src": "broken/default.conf", "dest": "/etc/nginx/default.conf"}},
            {"exec": {"service": "web", "cmd": ["nginx", "-s", "reload"]}},
            {"restart": {"service": "app"}},
        ],
        "hints": ["the steps fault's own hint"],
    },
]
SCRIPTS = {
    "faults/break-it.sh": "#!/usr/bin/env bash\necho \"break from $PWD\"\n",
    "faults/fix-it.sh": "#!/usr/bin/env bash\necho fixed\n",
    "check.sh": "#!/usr/bin/env bash\nexit 0\n",
    "README.md": "not needed by the session\n",
}
# A break script that names its fellow files relative to the scenario directory.
FELLOW_SCRIPT = 'pwd\necho "$SCENARIO_DIR"\nbash faults/fix-it.sh\ncat broken/default.conf\n'


def rich_scenario(directory: Path, *, pack: str = "local") -> Scenario:
    """A scenario using every field the snapshot keeps."""
    write_scenario(
        directory,
        meta={
            "faults": FAULTS, "break": DELETE, "sla_minutes": 7, "learning_objectives": ["read logs"],
            "source": {"incident_date": "2023-04-01", "reference": "postmortem #12", "sanitized": True},
            "success_target": "http://localhost:8080/health", "shell": "app", "future_key": 1,
        },
        files=SCRIPTS,
    )  # fmt: skip
    return load_scenario(directory, pack=pack)


def session_dir(session_id: str) -> Path:
    directory = paths.session_dir(session_id)
    directory.mkdir(parents=True)
    return directory


def test_the_snapshot_gives_back_the_scenario_as_loaded(tmp_path: Path) -> None:
    scenario = rich_scenario(tmp_path / "rich", pack="drills")
    assert scenario.warnings and scenario.published_ports and scenario.source  # all kept
    directory = session_dir("snap1")
    write_snapshot(scenario, directory)

    assert load_snapshot("snap1") == scenario
    copies = directory / FILES_DIR
    source = scenario.directory

    def files(root: Path) -> list[str]:
        found = (p for p in root.rglob("*") if p.is_file() and ".git" not in p.parts)
        return sorted(str(p.relative_to(root)) for p in found)

    # the whole scenario directory, so a script reading any file of it by a relative path finds it
    assert files(copies) == files(source)
    assert {"broken/default.conf", "faults/break-it.sh", "faults/fix-it.sh", "solve.sh"} <= set(files(copies))
    assert (copies / "faults/break-it.sh").read_text() == SCRIPTS["faults/break-it.sh"]
    assert stat.S_IMODE(copies.stat().st_mode) == 0o700
    assert stat.S_IMODE((directory / SNAPSHOT_FILE).stat().st_mode) == 0o600


def test_every_official_scenario_round_trips_with_the_files_its_session_needs() -> None:
    for number, directory in enumerate(sorted(p for p in OFFICIAL.iterdir() if (p / "meta.json").is_file())):
        scenario = load_scenario(directory, pack="official")
        write_snapshot(scenario, session_dir(f"official{number}"))
        assert load_snapshot(f"official{number}") == scenario, directory.name
        stack = Stack(scenario, f"official{number}", "replaybook-x", paths.session_dir(f"official{number}"))
        for fault in scenario.faults:
            for name in [fault.script, *(step.src for step in fault.steps)]:
                if name is not None:
                    assert stack.scenario_file(name).read_bytes() == (directory / name).read_bytes()
            if scenario.has_solve(fault):
                assert stack.scenario_file(fault.solve).is_file(), (directory.name, fault.solve)


def test_scripts_run_from_the_session_s_copy_as_from_the_scenario_directory(tmp_path: Path) -> None:
    scenario = rich_scenario(tmp_path / "rich")
    write_snapshot(scenario, session_dir("snap2"))
    (tmp_path / "rich" / "faults" / "break-it.sh").write_text("exit 3\n")  # the pack changes after up
    (tmp_path / "rich" / "solve.sh").unlink()

    stack = sessions.open_stack(state.SessionState(
        id="snap2", scenario="demo-502", pack="local", scenario_dir=str(tmp_path / "rich"),
        project="replaybook-snap2",
    ))  # fmt: skip
    ran = stack.run_script("faults/break-it.sh")
    copies = paths.session_dir("snap2") / FILES_DIR
    assert ran.ok and ran.stdout == f"break from {copies}\n"  # the copy's text, run in the copy
    assert stack.run_script("solve.sh").ok
    assert stack.env()["SCENARIO_DIR"] == str(copies)


def test_a_script_may_name_its_fellow_files_relative_to_the_scenario_directory(tmp_path: Path) -> None:
    scenario = rich_scenario(tmp_path / "rich")
    (tmp_path / "rich" / "faults" / "break-it.sh").write_text(FELLOW_SCRIPT)
    write_snapshot(load_scenario(tmp_path / "rich"), session_dir("snap3"))
    stack = Stack(scenario, "snap3", "replaybook-snap3", paths.session_dir("snap3"))
    ran = stack.run_script("faults/break-it.sh")
    copies = paths.session_dir("snap3") / FILES_DIR
    assert ran.ok, ran.stderr
    assert ran.stdout.splitlines() == [str(copies), str(copies), "fixed",
                                       "server { listen 80; location / { proxy_pass http://app:9999; } }"]


def added_scenario(tmp_path: Path) -> tuple[packs.Pack, Any, Path]:
    repo = make_pack_repo(tmp_path / "drills", ["900-dns"])
    pack = packs.add_pack(str(tmp_path / "drills"))
    return pack, repo, pack.directory / "900-dns"


def update_pack(repo: Any, tmp_path: Path, solve: str) -> None:
    """The author changes the scenario's solve.sh and pushes; the user updates the pack."""
    (Path(repo.working_tree_dir) / "900-dns" / "solve.sh").write_text(solve)
    repo.git.add("--all")
    repo.index.commit("change solve.sh")
    packs.add_pack(str(tmp_path / "drills"))


def test_the_snapshot_is_taken_only_at_the_commit_admitted(tmp_path: Path) -> None:
    pack, repo, directory = added_scenario(tmp_path)
    trust.trust(pack)
    scenario = load_scenario(directory, pack=pack.name)
    admitted = trust.commit_of(scenario)
    assert admitted == pack.commit
    update_pack(repo, tmp_path, "#!/usr/bin/env bash\nexit 3\n")  # between the trust check and the copy

    moved = r"its pack moved from commit .* while the session started, so none of its scripts was taken"
    with pytest.raises(ScenarioFailure, match=moved):
        write_snapshot(scenario, session_dir("moved1"), admitted_commit=admitted)
    assert not (paths.session_dir("moved1") / SNAPSHOT_FILE).exists()


def test_a_session_runs_its_snapshot_when_the_pack_moves_on_or_is_removed(tmp_path: Path) -> None:
    pack, repo, directory = added_scenario(tmp_path)
    trust.trust(pack)
    scenario = load_scenario(directory, pack=pack.name)
    write_snapshot(scenario, session_dir("kept1"), admitted_commit=trust.commit_of(scenario))
    record = state.SessionState(id="kept1", scenario="900-dns", pack=pack.name, scenario_dir=str(directory),
                                project="replaybook-kept1", pack_commit=pack.commit)

    update_pack(repo, tmp_path, "#!/usr/bin/env bash\nexit 3\n")  # a new commit, even trusted
    trust.trust(packs.get_pack(pack.name))
    assert sessions.open_stack(record).run_script("solve.sh").ok  # the admitted commit's solve.sh

    packs.remove_pack(pack.name)
    assert not directory.exists()
    assert sessions.open_stack(record).run_script("solve.sh").ok


# -- damaged and missing ---------------------------------------------------------------------------


def _edit(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def damage(directory: Path) -> None:
        path = directory / SNAPSHOT_FILE
        data = json.loads(path.read_text())
        change(data)
        path.write_text(json.dumps(data))

    return damage


def _write(raw: bytes) -> Callable[[Path], None]:
    return lambda directory: (directory / SNAPSHOT_FILE).write_bytes(raw)


DAMAGES: dict[str, tuple[Callable[[Path], None], str]] = {
    "not-json": (_write(b'{"format": 1, "scenario": {'), r"not valid JSON: line 1 column \d+"),
    "not-utf8": (_write(b"\xff\xfe{}"), "not valid JSON: not UTF-8 text"),
    "huge-integer": (_write(b'{"format": ' + b"9" * 5000 + b"}"), "not valid JSON"),
    "deep": (_write(b"[" * 100_000 + b"]" * 100_000), "not valid JSON"),
    "a-list": (_write(b"[]"), "must hold a JSON object, got a list"),
    "other-format": (_edit(lambda d: d.update(format=2)), "format: must be 1, got 2"),
    "no-scenario": (_edit(lambda d: d.pop("scenario")), "scenario: must be an object, got null"),
    "field-missing": (_edit(lambda d: d["scenario"].pop("title")), r"scenario\.title: missing"),
    "wrong-type": (
        _edit(lambda d: d["scenario"]["faults"][1]["steps"][1].update(cmd="nginx -s reload")),
        r"scenario\.faults\[1\]\.steps\[1\]\.cmd: must be a list, got a string",
    ),
    "bool-for-int": (_edit(lambda d: d["scenario"].update(sla_minutes=True)),
                     r"scenario\.sla_minutes: must be an integer, got true"),
    "null-name": (_edit(lambda d: d["scenario"]["faults"][0].update(name=None)),
                   r"scenario\.faults\[0\]\.name: must be text, got null"),
    "path-out": (_edit(lambda d: d["scenario"]["faults"][0].update(script="../../session.toml")),
                 r"scenario\.faults\[0\]\.script: must name a file in the scenario"),
    "copy-gone": (lambda directory: (directory / FILES_DIR / "faults" / "break-it.sh").unlink(),
                  r"scenario\.faults\[0\]\.script: faults/break-it\.sh is missing from the session's copy"),
}


@pytest.mark.parametrize("damage", list(DAMAGES), ids=list(DAMAGES))
def test_a_damaged_snapshot_is_named_with_its_field(damage: str, tmp_path: Path) -> None:
    directory = session_dir("damaged1")
    write_snapshot(rich_scenario(tmp_path / "rich"), directory)
    spoil, message = DAMAGES[damage]
    spoil(directory)
    with pytest.raises(InvalidInput, match=message) as refused:
        load_snapshot("damaged1")
    assert refused.value.message.startswith(f"{directory / SNAPSHOT_FILE}: ")
    assert refused.value.hint == "the session's snapshot is damaged: `replay-down damaged1` removes its stack"


def test_a_missing_snapshot_is_named(tmp_path: Path) -> None:
    directory = session_dir("lost1")
    with pytest.raises(NotFound, match=f"session lost1: its snapshot {directory / SNAPSHOT_FILE} is missing"):
        load_snapshot("lost1")
    with pytest.raises(NotFound, match="no session 'never1'"):
        load_snapshot("never1")


def test_replay_hint_names_a_damaged_snapshot_not_a_traceback(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from replaybook.commands import hint

    scenario = rich_scenario(tmp_path / "rich")
    state.save_new_session(state.SessionState(
        id="damaged2", scenario=scenario.id, pack="local", scenario_dir=str(scenario.directory),
        project="replaybook-damaged2", status=state.ACTIVE, fault="steps", started_at=state.now(),
    ))  # fmt: skip
    write_snapshot(scenario, paths.session_dir("damaged2"))
    assert CliRunner().invoke(hint.app, ["damaged2"]).stdout == "Hint 1/1: the steps fault's own hint\n"

    (paths.session_dir("damaged2") / SNAPSHOT_FILE).write_text("{")
    result = CliRunner().invoke(hint.app, ["damaged2"])
    assert result.exit_code == 3 and "Traceback" not in result.output
    assert f"Error: {paths.session_dir('damaged2') / SNAPSHOT_FILE}: not valid JSON" in result.stderr
    assert "replay-down damaged2" in result.stderr
    assert state.load_session("damaged2").hints_used == 1  # nothing counted


def test_a_named_file_is_a_real_copy_and_the_rest_keeps_its_links(tmp_path: Path) -> None:
    """A link in the scenario stays a link in the copy (so it resolves there as it did in the
    pack), but a file meta.json names is copied by content: nothing the session runs points
    back into the pack."""
    directory = tmp_path / "linked"
    guards = [{"name": "kept", "condition": "exit_zero", "script": "guards/kept.sh", "message": "gone"}]
    write_scenario(directory, meta={"faults": FAULTS, "break": DELETE, "guards": guards},
                   files={**SCRIPTS, "shared/kept.sh": "test -s /data\n"})
    (directory / "shared" / "payload.conf").write_text("broken = yes\n")
    (directory / "payload.conf").symlink_to("shared/payload.conf")
    real = directory / "faults" / "break-it.sh"
    real.rename(directory / "shared" / "break-it.sh")
    real.symlink_to("../shared/break-it.sh")
    (directory / "guards").mkdir()
    (directory / "guards" / "kept.sh").symlink_to(directory / "shared" / "kept.sh")  # an absolute link
    scenario = load_scenario(directory)
    copies = session_dir("links") / FILES_DIR
    write_snapshot(scenario, copies.parent)

    assert (copies / "payload.conf").is_symlink()
    assert (copies / "payload.conf").read_text() == "broken = yes\n"
    named = copies / "faults" / "break-it.sh"
    assert not named.is_symlink() and named.read_text() == SCRIPTS["faults/break-it.sh"]
    guard = copies / "guards" / "kept.sh"
    assert not guard.is_symlink() and guard.read_text() == "test -s /data\n"
    assert load_snapshot("links") == scenario


def test_the_copy_leaves_out_what_is_no_file_and_can_always_be_removed(tmp_path: Path) -> None:
    directory = tmp_path / "odd"
    write_scenario(directory, meta={"faults": FAULTS, "break": DELETE}, files=SCRIPTS)
    os.mkfifo(directory / "pipe")  # copying it would block, or fail the session
    locked = directory / "locked"
    locked.mkdir()
    (locked / "notes.txt").write_text("read-only directory\n")
    locked.chmod(0o555)
    try:
        scenario = load_scenario(directory)
        session = session_dir("odd")
        write_snapshot(scenario, session)
    finally:
        locked.chmod(0o755)
    copies = session / FILES_DIR
    assert not (copies / "pipe").exists()
    assert (copies / "locked" / "notes.txt").read_text() == "read-only directory\n"
    assert stat.S_IMODE((copies / "locked").stat().st_mode) & stat.S_IRWXU == stat.S_IRWXU
    assert stat.S_IMODE(copies.stat().st_mode) == 0o700


def test_a_scenario_directory_too_large_to_copy_is_refused_before_anything_is_copied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "large"
    write_scenario(directory, meta={"faults": FAULTS, "break": DELETE}, files=SCRIPTS)
    (directory / "dataset.bin").write_bytes(b"\0" * 4096)
    monkeypatch.setattr(snapshot, "MAX_COPY_BYTES", 2048)
    session = session_dir("large")
    with pytest.raises(ScenarioFailure, match="more than a session copies"):
        write_snapshot(load_scenario(directory), session)
    assert not (session / FILES_DIR).exists() and not (session / SNAPSHOT_FILE).exists()
