"""The engine's faults, for real: the Docker engine going away in each phase, the shell container
removed, session.toml deleted or damaged, a full disk, a SIGKILLed command's children.

The engine that goes away is a second dockerd of the tests' own (tests/enginekit.py): the
machine's engine keeps running. Sessions reach it through DOCKER_HOST. Every test ends with
nothing labelled in it after `replay-down` (or `--all`, the orphan path) once it is back.

What each fault ends in (docs/architecture.md, "Clean-up is guaranteed"):
- the engine gone: exit 5, one `Error:` line naming the engine; a session already on the
  clock is recorded as ended in error (session status `error`, ledger outcome `abandoned`,
  score 0); before the clock nothing is recorded and the state directory is removed.
- the shell container removed: exit 6, recorded the same way.
- session.toml damaged: exit 3 naming the file (and field); deleted: exit 4 naming it; a
  watcher records the outcome from the state it last read; replay-down removes the stack by
  its project name.
- a full state directory: exit 5 naming the directory, nothing half-written.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from dockerkit import FIXTURES, run, session_from_stderr, start, wait_for_line
from enginekit import SecondEngine, use

from libreplay.core import paths
from libreplay.session.stack import home_id
from libreplay.session.state import load_session, session_file

pytestmark = pytest.mark.docker

QUICK = FIXTURES / "engine" / "quick"
WATCH_END_SECONDS = 30


# -- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture
def engine(second_engine: SecondEngine, monkeypatch: pytest.MonkeyPatch) -> Iterator[SecondEngine]:
    """The second engine, running, with this test's processes pointed at it; emptied after."""
    with use(second_engine, monkeypatch) as ours:
        yield ours


def variant(
    tmp_path: Path, name: str, *, build_step: str = "", before_up: str = "", before_break: str = ""
) -> Path:
    """A copy of the quick scenario: ``build_step`` is one more Dockerfile line (a slow build),
    ``before_up`` runs in the container before its state says up (a slow baseline),
    ``before_break`` on the host before break.sh breaks it (a slow break)."""
    directory = tmp_path / name
    shutil.copytree(QUICK, directory)
    if before_break:
        script = directory / "break.sh"
        script.write_text(script.read_text().replace("docker compose", f"{before_break}\ndocker compose"))
    if build_step:
        with (directory / "Dockerfile").open("a") as dockerfile:
            dockerfile.write(f"{build_step}\n")
    if before_up:
        compose = directory / "docker-compose.yml"
        compose.write_text(compose.read_text().replace("echo up >", f"{before_up}; echo up >"))
    return directory


def up(scenario: Path = QUICK) -> str:
    result = run("replay-up", str(scenario), timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def up_and_break(scenario: Path = QUICK) -> str:
    session = up(scenario)
    broke = run("replay-break", session, timeout=120)
    assert broke.returncode == 0, broke.stderr
    return session


def ledger() -> list[dict[str, object]]:
    path = paths.ledger_path()
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def left_in(engine: SecondEngine, session: str | None = None) -> list[str]:
    """What this home (and ``session``'s project) still has in the engine."""
    found = engine.labelled(f"org.replaybook.home={home_id()}")
    if session is not None:
        found += engine.labelled(f"com.docker.compose.project=replaybook-{session}")
    return sorted(set(found))


def error_line(stderr: str) -> str:
    """The one `Error:` line a failure ends in (a `Hint:` line may follow it)."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    if lines and lines[-1].startswith("Hint: "):
        lines.pop()
    assert lines and lines[-1].startswith("Error: "), stderr
    return lines[-1]


def ended(process: subprocess.Popen[str], timeout: float = WATCH_END_SECONDS) -> tuple[int, str]:
    """Wait for ``process``; its exit status and the rest of its stderr."""
    _out, err = process.communicate(timeout=timeout)
    return process.returncode, err


def watching(session: str) -> subprocess.Popen[str]:
    """`replay-check --watch`, returned once it holds the session and its followers are up."""
    process = start("replay-check", session, "--watch")
    deadline = time.monotonic() + 30
    while load_session(session).holder_pid != process.pid:
        assert process.poll() is None and time.monotonic() < deadline, "the watcher did not start"
        time.sleep(0.1)
    time.sleep(1.0)  # its event streams connect
    return process


def assert_recorded_in_error(session: str, words: str | None) -> None:
    """One ledger line, outcome abandoned (score 0); the session says error and why (``words``;
    None where its file cannot be read)."""
    lines = [line for line in ledger() if line["session"] == session]
    assert [(line["outcome"], line["score"]) for line in lines] == [("abandoned", 0)]
    if words is not None:
        state = load_session(session)
        assert state.status == "error" and state.error is not None and words in state.error


def down_all_after_restart(engine: SecondEngine, session: str) -> None:
    engine.start()
    removed = run("replay-down", "--all", timeout=120)
    assert removed.returncode == 0, removed.stderr
    assert "Traceback" not in removed.stderr
    assert left_in(engine, session) == []
    assert not paths.session_dir(session).exists()


# -- the second engine itself ------------------------------------------------------------------


def test_a_session_plays_on_the_second_engine_and_nowhere_else(engine: SecondEngine) -> None:
    import docker

    session = up_and_break()
    machine = docker.DockerClient(base_url="unix:///var/run/docker.sock")
    project = {"label": f"com.docker.compose.project=replaybook-{session}"}
    assert machine.containers.list(all=True, filters=project) == []  # DOCKER_HOST honoured throughout
    running = [c.name for c in engine.client().containers.list(filters=project)]
    assert running == [f"replaybook-{session}-box-1"]
    assert run("replay-check", session).stdout.strip() == "not fixed"
    assert run("replay-down", session).returncode == 0
    assert left_in(engine, session) == []


def test_a_docker_context_is_followed_by_compose_and_the_sdk_alike(
    engine: SecondEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no DOCKER_HOST, the CLI's current context names the engine (Docker Desktop and
    rootless Docker work so): the stack, the checks and the clean-up all happen there."""
    import hashlib
    import json

    import docker

    config = tmp_path / "docker-config"
    meta = config / "contexts" / "meta" / hashlib.sha256(b"second").hexdigest()
    meta.mkdir(parents=True)
    endpoint = {"Name": "second", "Endpoints": {"docker": {"Host": engine.host}}}
    (meta / "meta.json").write_text(json.dumps(endpoint))
    (config / "config.json").write_text(json.dumps({"currentContext": "second"}))
    monkeypatch.delenv("DOCKER_HOST")
    monkeypatch.setenv("DOCKER_CONFIG", str(config))

    session = up_and_break()

    machine = docker.DockerClient(base_url="unix:///var/run/docker.sock")
    project = {"label": f"com.docker.compose.project=replaybook-{session}"}
    assert machine.containers.list(all=True, filters=project) == []
    running = [c.name for c in engine.client().containers.list(filters=project)]
    assert running == [f"replaybook-{session}-box-1"]
    assert run("replay-check", session).stdout.strip() == "not fixed"
    assert run("replay-down", session).returncode == 0
    assert left_in(engine, session) == []


# -- the engine going away, phase by phase -----------------------------------------------------


def test_engine_stopped_during_the_build(engine: SecondEngine, tmp_path: Path) -> None:
    process = start("replay-up", "--reveal", str(variant(tmp_path, "slowbuild", build_step="RUN sleep 60")))
    seen = wait_for_line(process, r"RUN sleep 60", timeout=120)
    session = session_from_stderr(seen)
    assert session is not None
    engine.stop(signal.SIGTERM)
    status, err = ended(process, timeout=120)
    assert status == 5, err
    assert "Docker engine at unix://" in error_line(err)
    assert ledger() == []  # before the clock: nothing to record
    assert not paths.session_dir(session).exists()
    down_all_after_restart(engine, session)


def test_engine_killed_after_the_build(engine: SecondEngine, tmp_path: Path) -> None:
    process = start("replay-up", "--reveal", str(variant(tmp_path, "slowstart", before_up="sleep 30")))
    seen = wait_for_line(process, r"as session", timeout=60)
    session = session_from_stderr(seen)
    assert session is not None
    wait_for_line(process, r"Started|Healthy", timeout=120)  # the stack is up; the baseline waits
    engine.stop(signal.SIGKILL)
    status, err = ended(process, timeout=60)
    assert status == 5, err
    line = error_line(err)
    assert "did not answer" in line and f"session {session} could not be torn down" in line
    assert "replay-down --all" in err
    assert ledger() == []
    assert not paths.session_dir(session).exists()
    down_all_after_restart(engine, session)  # the orphan path: found by its labels


def test_engine_killed_during_the_break(engine: SecondEngine, tmp_path: Path) -> None:
    session = up(variant(tmp_path, "slowbreak", before_break="echo breaking >&2; sleep 3"))
    process = start("replay-break", session)
    wait_for_line(process, r"injecting the fault", timeout=60)
    engine.stop(signal.SIGKILL)
    status, err = ended(process, timeout=60)
    assert status == 5, err
    assert f"session {session} could not be torn down" in error_line(err)
    assert ledger() == []  # the clock had not started
    assert not paths.session_dir(session).exists()
    down_all_after_restart(engine, session)


def test_engine_stopped_after_the_break(engine: SecondEngine) -> None:
    session = up_and_break()
    engine.stop(signal.SIGTERM)
    watched = run("replay-check", session, "--watch", timeout=60)
    assert watched.returncode == 5, watched.stderr
    assert "did not answer" in error_line(watched.stderr)
    assert f"session {session} ended: recorded as abandoned" in error_line(watched.stderr)
    assert_recorded_in_error(session, "did not answer")
    assert paths.session_dir(session).exists()  # kept: replay-down still knows the stack
    down_all_after_restart(engine, session)
    assert len(ledger()) == 1  # recorded once, not again by replay-down


def test_engine_killed_while_watching(engine: SecondEngine) -> None:
    session = up_and_break()
    watcher = watching(session)
    engine.stop(signal.SIGKILL)
    status, err = ended(watcher)
    assert status == 5, err
    assert "did not answer" in error_line(err) and "recorded as abandoned" in error_line(err)
    assert_recorded_in_error(session, "did not answer")
    engine.start()
    assert run("replay-down", session).returncode == 0
    assert left_in(engine, session) == []


def test_engine_stopped_before_down(engine: SecondEngine) -> None:
    session = up_and_break()
    engine.stop(signal.SIGTERM)
    result = run("replay-down", session, timeout=120)
    assert result.returncode == 5, result.stderr
    assert f"session {session} could not be torn down" in error_line(result.stderr)
    assert [(line["outcome"], line["score"]) for line in ledger()] == [("abandoned", 0)]
    assert not paths.session_dir(session).exists()
    down_all_after_restart(engine, session)


# -- the stack and the state changing under a session ----------------------------------------


def test_shell_container_removed_while_watching(engine: SecondEngine) -> None:
    session = up_and_break()
    watcher = watching(session)
    engine.client().containers.get(f"replaybook-{session}-box-1").remove(force=True)
    status, err = ended(watcher)
    assert status == 6, err
    assert "its shell container (service 'box') was removed" in error_line(err)
    assert "recorded as abandoned" in error_line(err)
    assert_recorded_in_error(session, "was removed")
    assert run("replay-down", session).returncode == 0
    assert left_in(engine, session) == []


def test_state_deleted_under_a_watcher(engine: SecondEngine) -> None:
    session = up_and_break()
    watcher = watching(session)
    state_file = session_file(session)
    state_file.unlink()
    status, err = ended(watcher)
    assert status == 4, err
    assert f"its state file {state_file} was deleted" in error_line(err)
    assert "recorded as abandoned" in error_line(err)
    assert_recorded_in_error(session, None)  # from the state it last read
    hint = run("replay-hint", session)
    assert hint.returncode == 4 and f"{state_file} is missing" in error_line(hint.stderr)
    down = run("replay-down", session)
    assert down.returncode == 4 and "removed by name" in error_line(down.stderr)
    assert left_in(engine, session) == []
    assert not paths.session_dir(session).exists()


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_state_damaged_under_a_watcher_and_for_every_command(engine: SecondEngine, damage: str) -> None:
    session = up_and_break()
    watcher = watching(session)
    state_file = session_file(session)
    good = state_file.read_bytes()
    state_file.write_bytes(b"\x00\xff garbage [[[" if damage == "garbage" else good[: len(good) // 3])
    status, err = ended(watcher)
    assert status == 3, err
    assert str(state_file) in error_line(err) and "recorded as abandoned" in error_line(err)
    assert_recorded_in_error(session, None)

    hint = run("replay-hint", session)
    assert hint.returncode == 3 and str(state_file) in error_line(hint.stderr)
    listed = run("replay-sessions")
    assert listed.returncode == 0 and "Traceback" not in listed.stderr
    assert session not in listed.stdout and str(state_file) in listed.stderr
    down = run("replay-down", session)
    assert down.returncode == 3 and "removed by name" in error_line(down.stderr)
    assert left_in(engine, session) == []
    assert not paths.session_dir(session).exists()
    assert len(ledger()) == 1


# -- a full disk in the state directory --------------------------------------------------------


@pytest.fixture
def small_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """REPLAYBOOK_HOME on a 4 MB tmpfs of its own, unmounted after the test."""
    home = tmp_path / "small-home"
    home.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(home)],
                             capture_output=True, text=True, check=False)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    monkeypatch.setenv("REPLAYBOOK_HOME", str(home))
    try:
        yield home
    finally:
        subprocess.run(["umount", "--lazy", str(home)], check=False)


def fill(directory: Path) -> Path:
    """Write a file until the file system is full; remove it to make room again."""
    filler = directory / "filler"
    chunk = b"\0" * 65536
    with filler.open("wb") as handle:
        try:
            while True:
                handle.write(chunk)
                handle.flush()
        except OSError:
            pass
    return filler


def test_full_disk_during_up(engine: SecondEngine, small_home: Path, tmp_path: Path) -> None:
    process = start("replay-up", "--reveal", str(variant(tmp_path, "slowbuild", build_step="RUN sleep 3")))
    seen = wait_for_line(process, r"RUN sleep 3", timeout=120)
    session = session_from_stderr(seen)
    assert session is not None
    filler = fill(small_home)
    status, err = ended(process, timeout=180)
    assert status == 5, err
    line = error_line(err)
    assert str(paths.sessions_dir()) in line and "no space left" in line
    filler.unlink()
    assert left_in(engine, session) == []  # the teardown ran: the engine was fine
    assert not paths.session_dir(session).exists()


def test_full_disk_during_a_hint(engine: SecondEngine, small_home: Path) -> None:
    session = up_and_break()
    filler = fill(small_home)
    hint = run("replay-hint", session)
    assert hint.returncode == 5, hint.stderr
    assert f"{paths.session_dir(session)}: no space left" in error_line(hint.stderr)
    filler.unlink()
    assert load_session(session).hints_used == 0  # nothing half-counted
    again = run("replay-hint", session)
    assert again.returncode == 0 and again.stdout.startswith("Hint 1/2:"), again.stderr
    assert run("replay-down", session).returncode == 0
    assert left_in(engine, session) == []


# -- a killed command's children ---------------------------------------------------------------


def alive(processes: list[psutil.Process]) -> list[str]:
    found = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                found.append(" ".join(process.cmdline())[:120])
        except psutil.Error:
            continue
    return found


def test_sigkill_of_replay_up_during_the_build_leaves_no_child_running(
    engine: SecondEngine, tmp_path: Path
) -> None:
    process = start("replay-up", "--reveal", str(variant(tmp_path, "slowbuild", build_step="RUN sleep 60")))
    seen = wait_for_line(process, r"RUN sleep 60", timeout=120)
    session = session_from_stderr(seen)
    assert session is not None
    descendants = psutil.Process(process.pid).children(recursive=True)
    assert any("compose" in " ".join(p.cmdline()) for p in descendants)
    process.kill()
    process.wait(timeout=30)
    deadline = time.monotonic() + 5  # the reaper gives a second's grace before SIGKILL
    while alive(descendants) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert alive(descendants) == []
    removed = run("replay-down", "--all", timeout=120)  # the orphan replay-up left behind
    assert removed.returncode == 0, removed.stderr
    assert left_in(engine, session) == [] and not paths.session_dir(session).exists()


def test_sigkill_takes_a_scripts_grandchildren_along(tmp_path: Path) -> None:
    """A script's own children (a `docker compose exec`, here sleeps) are not left running."""
    marker = tmp_path / "started"
    program = textwrap.dedent(f"""
        from libreplay.core.proc import run
        run(["bash", "-c", "(sleep 301; true) & sleep 302 & touch {marker}; wait"], timeout=600)
    """)
    parent = subprocess.Popen([sys.executable, "-c", program], env=os.environ.copy())
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert time.monotonic() < deadline and parent.poll() is None
        time.sleep(0.05)
    descendants = psutil.Process(parent.pid).children(recursive=True)
    assert len([p for p in descendants if p.name() == "sleep"]) == 2
    parent.kill()
    parent.wait(timeout=30)
    deadline = time.monotonic() + 5
    while alive(descendants) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert alive(descendants) == []
