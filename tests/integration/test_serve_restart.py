"""A training server killed with SIGKILL, and the next one's start-up clean-up, against the real
engine: the killed server's session (its watcher, a thread of the server, gone with it) is torn
down, recorded as
abandoned under the trainee's name, nothing of it left by label; the orphan of a local run on
the same home is left alone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from dockerkit import FIXTURES, leftovers, run

from libreplay.core import paths
from libreplay.session.state import list_sessions, load_session
from libreplay.training import model
from libreplay.training.leftovers import LeftBehind, tear_down_left_behind

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]

QUICK = FIXTURES / "engine" / "quick"

# A training server as `replaybook serve` runs one (the day over the real engine), that starts
# one seat's session, says which, and waits to be killed.
SERVER = """
import sys, time
from libreplay.training.day import TrainingDay
from libreplay.training.engine import LifecycleEngine

day = TrainingDay(LifecycleEngine(), max_sessions=1)
training, tokens = day.create(scenarios=[sys.argv[1]], seats=["erin"], session_minutes=30)
print(training.id, day.start(day.seat_for(tokens[0])), flush=True)
time.sleep(600)
"""


def test_a_restart_tears_down_what_a_killed_server_left(projects: list[str]) -> None:
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(QUICK)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    local_owner = subprocess.Popen(["sleep", "600"])  # a `replaybook run` that will be killed too
    try:
        assert server.stdout is not None
        line = server.stdout.readline().split()
        assert len(line) == 2, server.stderr.read() if server.stderr else ""
        training_id, session = line
        projects.append(f"replaybook-{session}")
        local = run("replay-up", str(QUICK), env={**os.environ, "REPLAYBOOK_OWNER_PID": str(local_owner.pid)})
        assert local.returncode == 0, local.stderr
        local_session = local.stdout.strip()
        projects.append(f"replaybook-{local_session}")
        # The watcher is a thread of the server: the server holds the session.
        assert load_session(session).holder_pid == server.pid
    finally:
        server.send_signal(signal.SIGKILL)
        local_owner.send_signal(signal.SIGKILL)
        server.wait(timeout=30)
        local_owner.wait(timeout=30)
    assert leftovers(f"replaybook-{session}")  # what a SIGKILL leaves: the stack

    left = tear_down_left_behind()

    assert left == [LeftBehind(session, training_id, 1, "erin")]
    assert leftovers(f"replaybook-{session}") == {}
    lines = [json.loads(text) for text in paths.ledger_path().read_text().splitlines()]
    mine = [entry for entry in lines if entry["session"] == session]
    assert [(entry["player"], entry["outcome"]) for entry in mine] == [("erin", "abandoned")]
    training = model.load_training(training_id)
    assert training.ended_at and training.seats[0].end_reason == model.ENDED_SERVER_GONE
    # The local run's orphan is not the training's: still up, for `replay-down` to take.
    assert [state.id for state in list_sessions()] == [local_session]
    assert leftovers(f"replaybook-{local_session}")
    assert tear_down_left_behind() == []
    down = run("replay-down", local_session, timeout=120)
    assert down.returncode == 0, down.stderr
    assert leftovers(f"replaybook-{local_session}") == {}
