"""replaybook serve with the real session engine: the official 001-nginx-502 played through the
app's HTTP and WebSocket API (Starlette's TestClient, no browser): a training, a seat's start
(up and break), the fix typed over the terminal socket into the recorded shell, RESOLVED, the
ledger line with the trainee's name, the transcript (recorded by the server, played by
`replaybook replay`), the end, and nothing left by label. The terminal is an exec of the
engine's API in this process: no docker, replay-shell or asciinema process runs for it; the
fix watcher runs on threads of the server (no `replay-check` child), gone after the end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from dockerkit import leftovers
from servekit import helper_processes
from starlette.testclient import TestClient

from libreplay.core import paths
from libreplay.training.serving import Serving
from replaybook.web.app import create_app

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]

FIX = ('sed -i "s/server app:3001 /server app:3000 /" /etc/nginx/conf.d/checkout.conf '
       "&& nginx -s reload && echo FIX-SENT\r")
ORIGIN = {"origin": "http://testserver"}
# The threads of a session's watcher (session/watcher.py and its followers).
WATCHER_THREADS = ("probe-follower", "stack-follower", "hint-follower", "command-follower-", "guards",
                   "session-files", "docker-tool", "docker-logs-", "survive-restart")


EARLIER_THREADS: set[threading.Thread] = set()


@pytest.fixture(autouse=True)
def earlier_threads() -> None:
    """The threads there before each test: another test's (a follower it left behind) are not
    this session's watcher's."""
    EARLIER_THREADS.clear()
    EARLIER_THREADS.update(threading.enumerate())


def watcher_threads(session: str) -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t not in EARLIER_THREADS
                  and (t.name == f"watch-{session}" or t.name.startswith(WATCHER_THREADS)))


def threads_gone(session: str, timeout: float = 10) -> list[str]:
    """The watcher's threads still there once they ended or ``timeout`` passed."""
    deadline = time.monotonic() + timeout
    while watcher_threads(session) and time.monotonic() < deadline:
        time.sleep(0.2)
    return watcher_threads(session)


def seat_until(client: TestClient, token: str, done: Any, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view: dict[str, Any] = client.get("/api/seat", headers={"Authorization": f"Bearer {token}"}).json()
        assert not view.get("error"), view["error"]
        if done(view):
            return view
        time.sleep(1)
    raise AssertionError(f"the seat never got there; last: {view}")


def test_a_trainee_fixes_001_through_the_app(projects: list[str], replaybook_home: Path) -> None:
    serving = Serving(max_sessions=2)
    facilitator = {"Authorization": f"Bearer {serving.token}"}
    with TestClient(create_app(serving.day, facilitator_hash=serving.token_hash)) as client:
        made = client.post("/api/trainings", headers=facilitator,
                           json={"scenarios": ["001-nginx-502"], "seats": ["dana"], "session_minutes": 30})
        assert made.status_code == 201, made.text
        token = made.json()["invites"][0]["url"].rsplit("/", 1)[1]
        trainee = {"Authorization": f"Bearer {token}"}
        assert client.post("/api/seat/start", headers=trainee, json={}).status_code == 202
        view = seat_until(client, token, lambda v: v.get("session"), timeout=400)
        session = view["session"]
        projects.append(f"replaybook-{session}")
        view = seat_until(client, token, lambda v: v.get("status") == "active", timeout=60)
        assert view["shell_service"] == "web" and view["page"]
        assert f"watch-{session}" in watcher_threads(session)  # watched in this process
        assert helper_processes(os.getpid()) == []  # by no child

        with client.websocket_connect(f"/ws/terminal?token={token}&service=web", headers=ORIGIN) as shell:
            seen = b""
            while b"#" not in seen and b"$" not in seen:  # the prompt
                seen += shell.receive_bytes()
            assert helper_processes(os.getpid()) == []
            shell.send_text(json.dumps({"input": FIX}))
            while b"FIX-SENT\r\n" not in seen:
                seen += shell.receive_bytes()
            view = seat_until(client, token, lambda v: v.get("status") == "resolved", timeout=120)
        assert view["terminal"] and any("debrief" in line for line in view["debrief"])

        board = client.get("/api/board", headers=facilitator).json()
        assert board["sessions"][0]["status"] == "resolved"
        assert board["leaderboard"][0]["trainee"] == "dana"
        assert client.post(f"/api/sessions/{session}/end", headers=facilitator).status_code == 200
        assert threads_gone(session) == []  # every thread of the watcher ended with the session

    lines = [json.loads(line) for line in paths.ledger_path().read_text().splitlines()]
    mine = [line for line in lines if line["session"] == session]
    assert len(mine) == 1
    recorded = (mine[0]["player"], mine[0]["outcome"], mine[0]["scenario"])
    assert recorded == ("dana", "success", "001-nginx-502")
    cast = paths.transcript_path(session)
    assert cast.is_file() and "FIX-SENT" in cast.read_text(errors="replace")
    header = json.loads(cast.read_text().splitlines()[0])
    assert header["version"] == 2 and header["width"] > 0 and header["env"]["TERM"]
    replay = Path(sys.executable).with_name("replay-replay")
    played = subprocess.run([str(replay), session, "--speed", "1000"], capture_output=True, text=True,
                            timeout=120, check=False, stdin=subprocess.DEVNULL)
    assert played.returncode == 0, played.stderr
    assert "FIX-SENT" in played.stdout
    assert leftovers(f"replaybook-{session}") == {}


def test_a_watcher_that_fails_in_the_server_ends_the_session_in_error(projects: list[str]) -> None:
    """The shell container removed under a session of the server's: its watcher (a thread here)
    ends the session in error, as replay-check did, says why on the server's line and in the
    session's .watch.log, and leaves no thread behind; the end tears the stack down."""
    import docker

    from libreplay.session.state import ERROR, load_session
    from libreplay.training.engine import WATCH_LOG, LifecycleEngine

    said: list[str] = []
    engine = LifecycleEngine(say=said.append)
    session = engine.start("001-nginx-502", player="dana", sla_minutes=None)
    projects.append(f"replaybook-{session}")
    labels = [f"com.docker.compose.project=replaybook-{session}", "com.docker.compose.service=web"]
    docker.from_env().containers.list(filters={"label": labels})[0].remove(force=True)
    deadline = time.monotonic() + 30
    while not said and time.monotonic() < deadline:
        time.sleep(0.2)
    assert said and said[0].startswith(f"session {session}: its watcher stopped: "), said
    assert "shell container" in said[0]
    assert load_session(session).status == ERROR
    assert "Error: " in (paths.session_dir(session) / WATCH_LOG).read_text()
    assert threads_gone(session) == []  # a failed watcher leaves nothing running either
    engine.end(session)
    assert leftovers(f"replaybook-{session}") == {}
