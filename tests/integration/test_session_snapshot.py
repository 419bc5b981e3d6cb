"""A session plays the scenario replay-up snapshotted, against the real engine: the pack updated to
a new commit (and trusted there) during the session, then removed, changes nothing of it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from dockerkit import leftovers, run
from scenario_kit import DELETE, write_scenario

from libreplay.core import paths
from libreplay.session.snapshot import SNAPSHOT_FILE
from libreplay.session.state import load_session

pytestmark = pytest.mark.docker

COMPOSE = {
    "services": {
        "box": {
            "image": "debian:bookworm-slim",
            "init": True,
            "command": ["sh", "-c", "echo up > /srv/state && exec sleep infinity"],
        }
    }
}
CHECK = "docker compose exec -T box grep -qx up /srv/state\n"
STATE = "/srv/state"


def version(number: int) -> dict[str, Any]:
    """The scenario at one commit of its pack. Version 2 changes what every step would do: its
    break scripts and fault file break nothing, its check always passes, its hints differ."""
    first = number == 1
    meta = {
        "id": "snap-exit", "title": f"Snapshot v{number}", "page": "the box says down",
        "success_condition": "exit_zero", "success_target": DELETE, "break": DELETE,
        "hints": [f"v{number}: cat /srv/state"],
        "faults": [
            {"name": "script", "script": "break.sh"},
            {"name": "steps", "break": [{"cp": {"service": "box", "src": "faults/state", "dest": STATE}}],
             "hints": [f"v{number}: the steps fault's hint", f"v{number}: a second one"]},
        ],
    }  # fmt: skip
    files = {
        "break.sh": "docker compose exec -T box sh -c 'echo down > /srv/state'\n" if first else "exit 0\n",
        "check.sh": CHECK if first else "exit 0\n",
        "faults/state": "down\n" if first else "up\n",
        "solve.sh": "docker compose exec -T box sh -c 'echo up > /srv/state'\n",
    }
    return {"meta": meta, "compose": COMPOSE, "files": files}


def commit(repo: Any, number: int) -> None:
    write_scenario(Path(repo.working_tree_dir) / "snap-exit", **version(number))
    repo.git.add("--all")
    repo.index.commit(f"snap-exit v{number}")


def up(projects: list[str]) -> str:
    result = run("replay-up", "drills/snap-exit")
    assert result.returncode == 0, result.stderr
    session = result.stdout.strip()
    projects.append(f"replaybook-{session}")
    return session


def test_a_session_plays_its_snapshot_while_the_pack_is_updated_then_removed(
    tmp_path: Path, projects: list[str]
) -> None:
    import git

    repo = git.Repo.init(tmp_path / "drills", initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "Pack Author")
        config.set_value("user", "email", "author@example.invalid")
    commit(repo, 1)
    added = run("replay-add", str(tmp_path / "drills"), "--yes")
    assert added.returncode == 0, added.stderr

    by_script, by_steps = up(projects), up(projects)
    clone = Path(load_session(by_script).scenario_dir)
    assert clone.is_dir() and paths.packs_dir() in clone.parents

    commit(repo, 2)  # the author pushes v2; the user updates the pack and trusts v2
    updated = run("replay-add", str(tmp_path / "drills"), "--yes")
    assert updated.returncode == 0, updated.stderr
    assert "Snapshot v2" in run("replay-list", "--pack", "drills").stdout

    # v1's break scripts and fault file run: v2's would break nothing and fail the break.
    for session, fault in ((by_script, "script"), (by_steps, "steps")):
        broke = run("replay-break", session, "--fault", fault)
        assert broke.returncode == 0, broke.stderr
        assert load_session(session).status == "active"
    assert load_session(by_steps).hints_total == 2  # the fault's own hints, counted at the break

    removed = run("replay-remove", "drills")
    assert removed.returncode == 0, removed.stderr
    assert not clone.exists()

    for session in (by_script, by_steps):
        not_fixed = run("replay-check", session)  # v1's check.sh: v2's would say fixed
        assert (not_fixed.returncode, not_fixed.stdout.strip()) == (1, "not fixed"), not_fixed.stderr
    first = run("replay-hint", by_script)
    assert (first.returncode, first.stdout.strip()) == (0, "Hint 1/1: v1: cat /srv/state"), first.stderr
    steps_hint = run("replay-hint", by_steps)
    assert steps_hint.stdout.strip() == "Hint 1/2: v1: the steps fault's hint", steps_hint.stderr

    fix = ["docker", "compose", "-p", f"replaybook-{by_script}", "exec", "-T", "box",
           "sh", "-c", "echo up > /srv/state"]  # fmt: skip
    subprocess.run(fix, check=True, capture_output=True, timeout=60)
    watched = run("replay-check", by_script, "--watch", timeout=120)
    assert (watched.returncode, watched.stdout.strip()) == (0, "resolved"), watched.stderr
    assert run("replay-down", by_script).returncode == 0

    # A damaged snapshot is named, and replay-down still removes the session by its project.
    (paths.session_dir(by_steps) / SNAPSHOT_FILE).write_text("{")
    damaged = run("replay-check", by_steps)
    assert damaged.returncode == 3 and "Traceback" not in damaged.stderr
    assert f"{paths.session_dir(by_steps) / SNAPSHOT_FILE}: not valid JSON" in damaged.stderr
    down = run("replay-down", by_steps, "--json")
    assert down.returncode == 0, down.stderr
    assert json.loads(down.stdout)["outcome"] == "abandoned"

    ledger = [json.loads(line) for line in paths.ledger_path().read_text().splitlines()]
    recorded = [(e["session"], e["outcome"], e["hints_used"], e["hints_total"]) for e in ledger]
    assert recorded == [(by_script, "success", 1, 1), (by_steps, "abandoned", 1, 2)]
    for session in (by_script, by_steps):
        assert leftovers(f"replaybook-{session}") == {}
        assert not paths.session_dir(session).exists()
