"""Guards of a session that need no engine: trust in the library, one watcher at a time (the
snapshot taken only at the admitted commit: tests/unit/test_snapshot.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from scenario_kit import make_pack_repo, write_scenario

from libreplay.core import paths
from libreplay.core.errors import PackUntrusted, SessionError
from libreplay.packs import catalog as packs
from libreplay.scenario.load import load_scenario
from libreplay.session import lifecycle as sessions
from libreplay.session import state, watcher
from libreplay.session.owners import start_time
from libreplay.session.snapshot import write_snapshot


@pytest.fixture(autouse=True)
def official(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "official"
    write_scenario(root / "001-nginx-502", meta={"id": "001-nginx-502"})
    monkeypatch.setattr(paths, "official_pack_dir", lambda: root)


def added_scenario(tmp_path: Path) -> tuple[packs.Pack, object, Path]:
    repo = make_pack_repo(tmp_path / "drills", ["900-dns"])
    pack = packs.add_pack(str(tmp_path / "drills"))
    return pack, repo, pack.directory / "900-dns"


def test_the_library_refuses_an_untrusted_pack_before_anything_is_made(tmp_path: Path) -> None:
    pack, _, directory = added_scenario(tmp_path)
    with pytest.raises(PackUntrusted):
        sessions.up(load_scenario(directory, pack=pack.name))
    assert not paths.sessions_dir().exists() or list(paths.sessions_dir().iterdir()) == []


def test_a_second_watcher_of_one_session_is_refused(tmp_path: Path) -> None:
    directory = write_scenario(tmp_path / "s")
    parent = os.getppid()  # a live process that is not this one
    record = state.SessionState(
        id="watched1", scenario="demo-502", pack="local", scenario_dir=str(directory),
        project="replaybook-watched1", status=state.ACTIVE, holder_pid=parent,
        holder_started=start_time(parent), started_at=state.now(),
    )  # fmt: skip
    state.save_new_session(record)
    write_snapshot(load_scenario(directory), record.directory)  # what replay-up leaves
    with pytest.raises(SessionError, match=f"already watched by process {parent}"):
        watcher.watch("watched1")
    after = state.load_session("watched1")
    assert (after.holder_pid, after.status, after.outcome) == (parent, state.ACTIVE, None)  # left alone
    assert not paths.ledger_path().exists()


@pytest.mark.parametrize(
    "damage",
    ['sla_seconds = ' + "9" * 5000, "owner_pid = -1", "hints_used = " + "[" * 3000 + "]" * 3000],
    ids=["huge-integer", "negative-pid", "deep-array"],
)
def test_a_damaged_number_in_a_session_file_is_named_not_a_traceback(damage: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from replaybook.commands import list_ as list_command
    from replaybook.commands import sessions as sessions_command

    directory = write_scenario(tmp_path / "s")
    record = state.SessionState(id="damaged1", scenario="demo-502", pack="local",
                                scenario_dir=str(directory), project="replaybook-damaged1")
    state.save_new_session(record)
    path = state.session_file("damaged1")
    field = damage.partition(" ")[0]
    text = "\n".join(line for line in path.read_text().splitlines() if not line.startswith(field))
    path.write_text(f"{damage}\n{text}\n")

    listed = CliRunner().invoke(sessions_command.app, [])
    assert listed.exception is None or isinstance(listed.exception, SystemExit), listed.exception
    assert "Traceback" not in listed.output and "damaged1" in listed.stderr
    catalogue = CliRunner().invoke(list_command.app, [])
    assert catalogue.exit_code == 0 and "001-nginx-502" in catalogue.stdout


def test_the_engine_is_the_docker_cli_s_current_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Compose and scripts follow the CLI's context: the SDK's clean-up must reach the same engine."""
    import hashlib
    import json

    from libreplay.core.errors import EnvironmentProblem
    from libreplay.engine import docker_api

    config = tmp_path / "docker-config"
    meta = config / "contexts" / "meta" / hashlib.sha256(b"desktop").hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps(
        {"Name": "desktop", "Endpoints": {"docker": {"Host": "unix:///run/desktop/docker.sock"}}}))
    (config / "config.json").write_text(json.dumps({"currentContext": "desktop"}))
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)

    assert docker_api.engine_address() == "unix:///run/desktop/docker.sock"
    with pytest.raises(EnvironmentProblem, match=r"at unix:///run/desktop/docker\.sock did not answer"):
        docker_api.client()  # the SDK goes to the context's engine, not the local socket
    monkeypatch.setenv("DOCKER_CONTEXT", "default")
    assert docker_api.engine_address() == docker_api.DEFAULT_ENGINE
    monkeypatch.setenv("DOCKER_HOST", "unix:///elsewhere.sock")
    assert docker_api.engine_address() == "unix:///elsewhere.sock"
    monkeypatch.delenv("DOCKER_HOST")
    monkeypatch.setenv("DOCKER_CONTEXT", "gone")
    with pytest.raises(EnvironmentProblem, match="the docker context 'gone' cannot be read"):
        docker_api.engine_address()


def test_guard_scripts_of_every_session_run_a_few_at_a_time() -> None:
    """A dozen sessions' rounds at once (trainees typing in step on a training host): no more
    than GUARD_SCRIPTS_AT_ONCE guard scripts run together in the process; every round runs."""
    import threading
    import time
    from types import SimpleNamespace

    from libreplay.scenario.model import Guard
    from libreplay.session import verify

    running, most, lock = [0], [0], threading.Lock()

    def run_script(_name: str, timeout: float) -> SimpleNamespace:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return SimpleNamespace(ok=True)

    check: Any = SimpleNamespace(stack=SimpleNamespace(run_script=run_script))
    guard = Guard(name="kept", condition="exit_zero", script="guards/kept.sh", message="gone")
    answers: list[bool] = []
    rounds = [threading.Thread(target=lambda: answers.append(verify.guard_passes(check, guard)))
              for _ in range(12)]
    for round_ in rounds:
        round_.start()
    for round_ in rounds:
        round_.join(timeout=10)
    assert answers == [True] * 12
    assert most[0] == verify.GUARD_SCRIPTS_AT_ONCE


def test_a_guard_script_waits_for_a_place_only_so_long_and_a_stopped_round_runs_no_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Places held for good (two sessions' guards hanging): a third session's script runs once
    its wait is over. A round whose watch ended runs no further guard."""
    import threading
    import time
    from types import SimpleNamespace

    from libreplay.scenario.model import Guard
    from libreplay.session import verify

    monkeypatch.setattr(verify, "GUARD_PLACE_WAIT_SECONDS", 0.2)
    ran: list[str] = []
    check: Any = SimpleNamespace(stack=SimpleNamespace(
        run_script=lambda name, timeout: ran.append(name) or SimpleNamespace(ok=True),
        scenario=SimpleNamespace(guards=[
            Guard(name=n, condition="exit_zero", script=f"guards/{n}.sh", message="gone") for n in ("a", "b")
        ]),
    ))  # fmt: skip
    held = [verify._guard_script_places.acquire(timeout=1) for _ in range(verify.GUARD_SCRIPTS_AT_ONCE)]
    try:
        began = time.monotonic()
        assert verify.guard_passes(check, check.stack.scenario.guards[0])
        assert 0.2 <= time.monotonic() - began < 2.0 and ran == ["guards/a.sh"]
    finally:
        for taken in held:
            if taken:
                verify._guard_script_places.release()
    stop = threading.Event()
    stop.set()
    assert verify.failing_guards(check, stop) == [] and ran == ["guards/a.sh"]  # nothing more ran
    assert verify.failing_guards(check) == [] and ran == ["guards/a.sh", "guards/a.sh", "guards/b.sh"]
