"""replaybook serve's terminal on the real engine: the trainee's shell as an exec of the engine's
API in this process (ServiceShell behind a TerminalBridge). The watcher's event stream tells it
apart as a trainee's shell (SHELL_OPENED), as it does replay-shell's; a container stopped under
it is said and waited for, and the shell opened again once it runs; `exit` ends the terminal."""

from __future__ import annotations

import queue
import time

import pytest
from dockerkit import TESTPACK, leftovers, run, up_and_broken

from libreplay.engine import docker_api
from libreplay.play.shell import ServiceShell
from libreplay.session.state import CHANNEL_MOUNT, load_session
from libreplay.session.vitals import SHELL_OPENED, StackEvent, StackFollower
from libreplay.training.terminal import TerminalBridge

pytestmark = pytest.mark.docker


class Screen:
    def __init__(self) -> None:
        self.shown = b""

    def __call__(self, chunk: bytes) -> None:
        self.shown += chunk

    def wait_for(self, text: bytes, timeout: float = 30.0, after: int = 0) -> int:
        deadline = time.monotonic() + timeout
        while (found := self.shown.find(text, after)) < 0:
            assert time.monotonic() < deadline, f"never shown: {text!r}; shown: {self.shown[-2000:]!r}"
            time.sleep(0.05)
        return found + len(text)


def test_the_exec_shell_is_recognised_reopened_and_left(projects: list[str]) -> None:
    session = up_and_broken(TESTPACK / "t-exit", projects)
    state = load_session(session)
    events: queue.Queue[StackEvent] = queue.Queue()
    streams = docker_api.Streams()  # closed at the end: the follower's thread ends with the test
    StackFollower(state.project, events, returns=True, execs=True, streams=streams).start()
    time.sleep(1)  # the follower's stream is open
    bridge = TerminalBridge(ServiceShell(session, state.shell_service), rows=30, cols=100)
    screen = Screen()
    bridge.listen(screen)
    bridge.start()
    try:
        seen = screen.wait_for(b"# ")  # the prompt
        opened = [e for e in drain(events, 10, SHELL_OPENED) if e.action == SHELL_OPENED]
        assert opened and opened[0].service == state.shell_service
        bridge.write(b"stty size; echo $PATH\r")
        seen = screen.wait_for(b"30 100", after=seen)
        seen = screen.wait_for(f"{CHANNEL_MOUNT}/bin:".encode(), after=seen)  # the hint channel first

        container = docker_api.client().containers.list(
            filters=docker_api.label_filter(project=state.project, service=state.shell_service))[0]
        container.stop(timeout=2)
        seen = screen.wait_for(b"stopped while you were in it", after=seen)
        seen = screen.wait_for(b"is stopped", after=seen)
        assert not bridge.ended.is_set()
        container.start()
        seen = screen.wait_for(b"is running again", after=seen)
        seen = screen.wait_for(b"# ", after=seen)
        bridge.write(b"echo AGAIN-$((20+22))\r")
        seen = screen.wait_for(b"AGAIN-42", after=seen)
        bridge.write(b"exit\r")
        assert bridge.ended.wait(30)
    finally:
        bridge.close()
        streams.close()
    assert run("replay-down", session).returncode == 0
    assert leftovers(f"replaybook-{session}") == {}


def drain(events: queue.Queue[StackEvent], seconds: float, until: str) -> list[StackEvent]:
    found: list[StackEvent] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            found.append(events.get(timeout=0.2))
        except queue.Empty:
            continue
        if found[-1].action == until:
            break
    return found
