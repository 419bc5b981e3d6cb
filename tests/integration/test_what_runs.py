"""What a scenario's containers can reach, proven against the real engine.

The hostile compose corpus (tests/unit/test_compose_allowlist.py) shows that validation refuses
what Compose would run; these tests show that `replay-up` refuses it before anything starts,
and that what it does start — binds, environment, images — gives the trainee neither the host,
nor the pack's files, nor the user's environment.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml
from dockerkit import leftovers, run

from libreplay.core import paths

pytestmark = pytest.mark.docker

BASE_IMAGE = "debian:bookworm-slim"
META: dict[str, Any] = {
    "id": "what-runs",
    "title": "What runs",
    "page": "A page.",
    "difficulty": 1,
    "success_condition": "exit_zero",
    "break": [{"exec": {"service": "box", "cmd": ["sh", "-c", "echo down > /srv/state"]}}],
}
CHECK = "#!/usr/bin/env bash\ndocker compose exec -T box grep -qx up /srv/state\n"


def write(directory: Path, box: dict[str, Any], **files: str) -> Path:
    """A scenario with one service ``box`` built from the base image, plus ``box``'s settings."""
    directory.mkdir(parents=True)
    service = {
        "build": ".", "init": True,
        "command": ["sh", "-c", "echo up > /srv/state && exec sleep infinity"], **box,
    }  # fmt: skip
    contents = {
        "meta.json": json.dumps(META),
        "docker-compose.yml": yaml.safe_dump({"services": {"box": service}}),
        "Dockerfile": f"FROM {BASE_IMAGE}\nRUN mkdir -p /srv\n",
        "check.sh": CHECK,
        "solve.sh": "#!/usr/bin/env bash\nthe answer\n",
        "README.md": "The author's notes: the answer is in solve.sh.\n",
        **files,
    }
    for name, text in contents.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return directory


def up(directory: Path, projects: list[str], env: dict[str, str] | None = None) -> str:
    result = run("replay-up", str(directory), env=env)
    assert result.returncode == 0, result.stderr
    session = result.stdout.strip()
    projects.append(f"replaybook-{session}")
    return session


def container(session: str) -> Any:
    client = docker.from_env()
    found = client.containers.list(filters={"label": f"com.docker.compose.project=replaybook-{session}"})
    assert len(found) == 1
    return found[0]


def sh(session: str, command: str) -> str:
    result = container(session).exec_run(["sh", "-c", command])
    return str(result.output.decode())


@pytest.mark.parametrize(
    ("setting", "field"),
    [
        ({"pid": "${X:-host}"}, "services.box.pid"),
        ({"network_mode": "${X:-host}"}, "services.box.network_mode"),
        ({"cap_add": ["${X:-SYS_ADMIN}"]}, "services.box.cap_add"),
        ({"volumes": ["${X:-/}:/host"]}, "services.box.volumes[0].source"),
    ],
    ids=["pid", "network_mode", "cap_add", "bind"],
)
def test_replay_up_refuses_an_interpolated_escape_before_anything_runs(
    setting: dict[str, Any], field: str, tmp_path: Path
) -> None:
    directory = write(tmp_path / "hostile", setting)

    result = run("replay-up", str(directory))

    assert result.returncode == 3, result.stderr
    assert f"docker-compose.yml: {field}:" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    sessions = paths.sessions_dir()
    assert not sessions.exists() or list(sessions.iterdir()) == []
    labelled = docker.from_env().containers.list(all=True, filters={"label": "org.replaybook.session"})
    assert not [c for c in labelled if c.labels.get("com.docker.compose.project", "").endswith("what-runs")]


def test_a_bind_mounts_a_session_copy_without_the_answer(tmp_path: Path, projects: list[str]) -> None:
    directory = write(
        tmp_path / "binds",
        {"volumes": [".:/srv/pack", "./conf:/etc/app"]},
        **{"conf/app.conf": "workers = 4\n"},
    )
    session = up(directory, projects)

    seen = sh(session, "ls -A /srv/pack")
    assert sorted(seen.split()) == ["Dockerfile", "conf"]  # no meta.json, scripts, README, compose file
    assert sh(session, "cat /etc/app/app.conf") == "workers = 4\n"
    # The trainee's edits (as root) stay in the session: the pack's checkout is untouched.
    sh(session, "echo workers = 0 > /etc/app/app.conf; rm -rf /srv/pack/conf; touch /etc/app/new")
    assert (directory / "conf" / "app.conf").read_text() == "workers = 4\n"
    assert sorted(p.name for p in (directory / "conf").iterdir()) == ["app.conf"]
    # The copies are the engine's (a volume per bind), not a path of the session directory.
    sources = [m["Source"] for m in container(session).attrs["Mounts"]]
    assert len(sources) == 2 and not any(s.startswith(str(paths.session_dir(session))) for s in sources)
    assert sorted(leftovers(f"replaybook-{session}")["volumes"]) == [
        f"replaybook-{session}_bind-0", f"replaybook-{session}_bind-1"]

    down = run("replay-down", session)
    assert down.returncode == 0, down.stderr
    assert leftovers(f"replaybook-{session}") == {}  # the bind volumes too


def test_no_host_variable_reaches_a_container(tmp_path: Path, projects: list[str]) -> None:
    directory = write(tmp_path / "env", {"environment": {
        "FROM_HOME": "${HOME:-none}", "FROM_SECRET": "${PACK_SECRET:-none}", "PASSED_THROUGH": None,
    }})  # fmt: skip
    env = {**os.environ, "HOME": "/home/secret-user", "PACK_SECRET": "hunter2", "PASSED_THROUGH": "leak"}
    session = up(directory, projects, env=env)

    seen = sh(session, "env")
    assert "FROM_HOME=none" in seen and "FROM_SECRET=none" in seen
    assert "PASSED_THROUGH" not in seen and "hunter2" not in seen and "secret-user" not in seen
    assert run("replay-down", session).returncode == 0


def test_an_image_beside_a_build_never_retags_an_image(tmp_path: Path, projects: list[str]) -> None:
    client = docker.from_env()
    before = client.images.get(BASE_IMAGE).id
    directory = write(tmp_path / "retag", {"image": BASE_IMAGE})

    session = up(directory, projects)

    assert client.images.get(BASE_IMAGE).id == before
    assert container(session).image.tags[0].startswith("replaybook/what-runs-box:")
    assert run("replay-down", session).returncode == 0


def test_down_all_finds_a_network_whose_containers_are_gone(tmp_path: Path, projects: list[str]) -> None:
    """Compose labels a network with its project only: the session's model adds the home's label,
    so a stack whose state and containers are lost still leaves nothing behind."""
    import shutil

    session = up(write(tmp_path / "net", {}), projects)
    container(session).remove(force=True)
    shutil.rmtree(paths.session_dir(session))
    assert leftovers(f"replaybook-{session}") == {"networks": [f"replaybook-{session}_default"]}

    result = run("replay-down", "--all")

    assert result.returncode == 0, result.stderr
    assert leftovers(f"replaybook-{session}") == {}
