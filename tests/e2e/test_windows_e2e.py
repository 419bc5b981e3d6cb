"""The other windows of `replaybook run 001-nginx-502`, end to end in a real terminal: each is
recorded to its own transcript, and a window whose service is stopped says so, waits, and
opens again once the service runs. The workspace names neither the scenario nor the fault.
"""

from __future__ import annotations

import subprocess

import docker
import pytest
from test_run_e2e import FIX, ledger_line, start_and_wait_until_active
from trainee import BIN, Trainee

from libreplay.core import paths
from libreplay.session.containers import find_container
from libreplay.session.state import load_session

pytestmark = [pytest.mark.e2e, pytest.mark.docker, pytest.mark.timeout(1500)]


def type_until_seen(trainee: Trainee, command: str, shown: str, tries: int = 3) -> None:
    """Type ``command`` until ``shown`` is on screen: keys typed while a shell is still being
    opened are discarded, as in any terminal program that flushes input when it starts."""
    for attempt in range(tries):
        trainee.type(command)
        try:
            trainee.wait_for(shown, timeout=10)
            return
        except AssertionError:
            if attempt == tries - 1:
                raise


def replay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "replaybook"), "replay", *args], capture_output=True, text=True,
                          timeout=120, check=False, stdin=subprocess.DEVNULL)


def test_windows_are_recorded_and_a_stopped_service_s_window_says_so(trainee: Trainee) -> None:
    start_and_wait_until_active(trainee)
    workspace = trainee.screen()
    assert "nginx-502" not in workspace and "001-" not in workspace  # blind: title and page only
    assert trainee.session_id is not None
    session = trainee.session_id

    trainee.tmux("send-keys", "C-b", "1")  # the app service's window
    type_until_seen(trainee, "echo WINDOW-$((6*7))", "WINDOW-42")

    app = docker.from_env().containers.get(find_container(load_session(session), "app").id)
    app.stop(timeout=2)
    trainee.wait_for("The app container stopped while you were in it.", timeout=60)
    screen = trainee.wait_for("`docker start app` in the main shell", timeout=30)
    assert "Service app is stopped (exited with code" in screen

    app.start()
    trainee.wait_for("Service app is running again: opening its shell.", timeout=60)
    type_until_seen(trainee, "echo BACK-$((2*3))", "BACK-6")

    trainee.tmux("send-keys", "C-b", "0")
    trainee.type(FIX)
    trainee.wait_for("STATUS: RESOLVED", timeout=60)
    trainee.type("exit")  # the workspace stays open after a win until the trainee leaves
    assert trainee.exit_status(timeout=120) == 0
    trainee.assert_nothing_left()
    assert ledger_line(session)["transcript"] == str(paths.transcript_path(session))

    window = paths.transcript_path(session, "app")
    recorded = window.read_text()
    assert "WINDOW-42" in recorded and "BACK-6" in recorded  # one file, across the reconnection
    listed = replay(session, "--list")
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[0] for line in listed.stdout.splitlines()[2:]] == ["shell", "app"]
    played = replay(session, "--window", "app", "--speed", "100")
    assert played.returncode == 0, played.stderr
    assert "WINDOW-42" in played.stdout and "BACK-6" in played.stdout
    assert "WINDOW-42" not in replay(session, "--speed", "100").stdout  # the shell's is its own
