"""Issue 15: a session on an engine that does not share this machine's files, for real.

The engine is a second dockerd of the tests' own (tests/enginekit.py): its own socket, data and
exec roots. It is reached through DOCKER_HOST, and through a Docker context made with `docker
context create` in a DOCKER_CONFIG of the test's own. The scenario (tests/fixtures/engine/bound)
binds a directory and a file, the case that used to hand the engine a host path: every mount
of every container of the session must come from the engine's own data root, never from
REPLAYBOOK_HOME (where the session directory is) nor from the pack. Then the whole play runs
there: break, the check failing, a hint asked with get-hint in the container, the trainee's
`docker ps` and `docker logs`, a command typed in the shell serve opens (the engine's exec
API), the fix, resolved, down, and nothing left on the engine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dockerkit import FIXTURES, run, start
from enginekit import SecondEngine, use
from watchkit import TRAINEE_PATH, wait_until_held_by

from libreplay.core import paths
from libreplay.session.stack import home_id
from libreplay.session.state import load_session

pytestmark = pytest.mark.docker

BOUND = FIXTURES / "engine" / "bound"


@pytest.fixture
def engine(second_engine: SecondEngine, monkeypatch: pytest.MonkeyPatch) -> Iterator[SecondEngine]:
    with use(second_engine, monkeypatch) as ours:
        yield ours


def containers_of(engine: SecondEngine, session: str) -> list[Any]:
    project = {"label": f"com.docker.compose.project=replaybook-{session}"}
    return list(engine.client().containers.list(all=True, filters=project))


def in_box(engine: SecondEngine, session: str, script: str) -> tuple[int, str]:
    """A command in the session's box as the trainee's shell runs it (the hint channel first on PATH)."""
    [box] = [c for c in containers_of(engine, session) if c.labels.get("com.docker.compose.service") == "box"]
    result = box.exec_run(["sh", "-c", script], environment={"PATH": TRAINEE_PATH})
    return result.exit_code, result.output.decode()


def left_in(engine: SecondEngine, session: str) -> list[str]:
    return sorted({*engine.labelled(f"org.replaybook.home={home_id()}"),
                   *engine.labelled(f"com.docker.compose.project=replaybook-{session}")})


def assert_no_host_path_is_mounted(engine: SecondEngine, session: str, scenario: Path) -> None:
    """Every mount's source is the engine's own (a volume under its data root): nothing of
    REPLAYBOOK_HOME, where the session directory is, nor of the pack."""
    home = Path(os.environ["REPLAYBOOK_HOME"]).resolve()
    assert paths.session_dir(session).resolve().is_relative_to(home)
    volumes = engine.data_root.resolve() / "volumes"
    sources = [Path(m["Source"]) for c in containers_of(engine, session) for m in c.attrs["Mounts"]]
    assert len(sources) >= 2  # the directory and the file the scenario binds
    for source in sources:
        assert not source.is_relative_to(home), source
        assert not source.is_relative_to(scenario.resolve()), source
        assert source.is_relative_to(volumes), source
    assert not (paths.session_dir(session) / "mounts").exists()
    import docker

    machine = docker.DockerClient(base_url="unix:///var/run/docker.sock")  # the machine's own engine
    project = {"label": f"com.docker.compose.project=replaybook-{session}"}
    assert machine.containers.list(all=True, filters=project) == []
    assert machine.volumes.list(filters=project) == []


def typed_in_served_shell(session: str, service: str, command: str) -> str:
    """``command`` typed in the shell replaybook serve opens (an exec of the engine's API over
    DOCKER_HOST's connection, no docker CLI): the line it printed."""
    from libreplay.play.shell import ServiceShell

    terminal = ServiceShell(session, service).open(24, 80, say=lambda _line: None, stopped=threading.Event())
    assert terminal is not None
    try:
        terminal.write(f"{command}; exit\r".encode())
        seen = b""
        while chunk := terminal.read():
            seen += chunk
    finally:
        terminal.close()
    lines = [line.strip() for line in seen.decode(errors="replace").splitlines()]
    return next(line for line in lines if line.startswith("served-"))


def play_through(engine: SecondEngine, scenario: Path) -> None:
    up = run("replay-up", str(scenario), timeout=300)
    assert up.returncode == 0, up.stderr
    session = up.stdout.strip()
    watcher: subprocess.Popen[str] | None = None
    try:
        assert_no_host_path_is_mounted(engine, session, scenario)
        assert in_box(engine, session, "cat /srv/site/state /etc/app.conf") == (0, "up\nmode = serve\n")
        # The file bind keeps its read_only: the trainee cannot write it.
        assert in_box(engine, session, "echo x > /etc/app.conf")[0] != 0

        broke = run("replay-break", session, timeout=120)
        assert broke.returncode == 0, broke.stderr
        checked = run("replay-check", session)
        assert (checked.returncode, checked.stdout.strip()) == (1, "not fixed")

        watcher = start("replay-check", session, "--watch")
        wait_until_held_by(session, watcher)
        time.sleep(1.0)  # its log followers connect
        status, said = in_box(engine, session, "get-hint")
        assert status == 0 and "cat /srv/site/state" in said, said
        assert load_session(session).hints_revealed == ["cat /srv/site/state"]
        status, listed = in_box(engine, session, "docker ps")
        assert status == 0 and "box" in listed and "running" in listed, listed
        status, logged = in_box(engine, session, "docker logs box")
        assert status == 0 and "box serving up" in logged, logged

        assert typed_in_served_shell(session, "box", "echo served-$((20+22))") == "served-42"
        assert in_box(engine, session, "echo up > /srv/site/state")[0] == 0  # the fix, in the bound copy
        _out, err = watcher.communicate(timeout=60)
        assert watcher.returncode == 0, err
        assert load_session(session).status == "resolved"
        assert (scenario / "site" / "state").read_text() == "up\n"  # the pack was never written
    finally:
        if watcher is not None and watcher.poll() is None:
            watcher.terminate()
            watcher.communicate(timeout=120)
        down = run("replay-down", session, timeout=120)
    assert down.returncode == 0, down.stderr
    assert left_in(engine, session) == []  # the bind volumes and the helper too


def test_a_session_that_binds_files_plays_on_another_engine_from_no_host_path(
    engine: SecondEngine, tmp_path: Path
) -> None:
    scenario = tmp_path / "bound"
    shutil.copytree(BOUND, scenario, symlinks=True)
    play_through(engine, scenario)


def test_a_docker_context_made_by_the_cli_names_the_engine(
    engine: SecondEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`docker context create` in a DOCKER_CONFIG of our own, named by DOCKER_CONTEXT: the SDK
    client, Compose, the scripts and the trainee's shell all reach the second engine."""
    config = tmp_path / "docker-config"
    config.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    created = subprocess.run(
        ["docker", "context", "create", "second", "--docker", f"host={engine.host}"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    monkeypatch.delenv("DOCKER_HOST")
    monkeypatch.setenv("DOCKER_CONTEXT", "second")
    scenario = tmp_path / "bound"
    shutil.copytree(BOUND, scenario, symlinks=True)

    play_through(engine, scenario)
