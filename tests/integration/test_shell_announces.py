"""The trainee's shell announces its commands, on the real engine: a command typed in a real
interactive shell (replay-shell's own `docker exec -it`, in a pseudo-terminal) that breaks a
guard is seen within seconds while the check still fails, and a fix typed there is checked at
once, with every periodic pace set far out of reach, so only the shell's announcement can have
set the check or the round off."""

from __future__ import annotations

import os
import pty
import select
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from dockerkit import FIXTURES, TESTPACK, leftovers, run, up_and_broken

from libreplay.play.shell import shell_argv
from libreplay.session import watcher
from libreplay.session.containers import find_container
from libreplay.session.state import SessionState, load_session

pytestmark = pytest.mark.docker

T_HOLD = FIXTURES / "fair" / "t-hold"
FAR = 600.0  # seconds: a pace that never comes within a test


class Terminal:
    """The trainee's shell as replay-shell opens it, in a pseudo-terminal."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.output = b""

    def read_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if ready:
                try:
                    self.output += os.read(self.fd, 4096)
                except OSError:
                    return

    def type(self, line: str) -> float:
        os.write(self.fd, line.encode() + b"\n")
        return time.monotonic()


@contextmanager
def trainee_shell(session: str) -> Iterator[Terminal]:
    state = load_session(session)
    docker = shutil.which("docker") or "docker"
    argv = shell_argv(find_container(state, state.shell_service), docker_bin=docker)
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(argv[0], argv)
    terminal = Terminal(fd)
    try:
        terminal.read_for(2.0)  # the shell opens and shows its first prompt
        yield terminal
    finally:
        terminal.type("exit")
        terminal.read_for(0.5)
        os.close(fd)
        os.waitpid(pid, 0)


def wait_for(
    session: str, what: Callable[[SessionState], bool], timeout: float
) -> tuple[SessionState, float]:
    """The session once ``what`` holds, and when (monotonic)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = load_session(session)
        if what(state):
            return state, time.monotonic()
        time.sleep(0.02)
    raise AssertionError(f"session {session} never got there: {load_session(session)}")


def test_a_guard_broken_in_the_shell_is_seen_at_once_while_the_check_fails(
    projects: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watcher, "GUARD_INTERVAL_SECONDS", FAR)  # no round comes by its pace
    monkeypatch.setattr(watcher, "GUARD_IDLE_INTERVAL_SECONDS", FAR)
    session = up_and_broken(T_HOLD, projects)
    seen: dict[str, object] = {}

    def trainee() -> None:
        time.sleep(2)  # the watcher's first round, at once
        with trainee_shell(session) as shell:
            typed = shell.type("rm /srv/data")
            caught, at = wait_for(session, lambda s: bool(s.guards_failing), timeout=10)
            seen["caught"], seen["latency"] = caught, at - typed
            shell.read_for(1.0)
            shell.type("echo orders > /srv/data; echo up > /etc/app.state; echo up > /srv/state")
            wait_for(session, lambda s: s.status == "verifying", timeout=10)
            # The hold (1 s here) is over once a round that started after it passes: the next
            # command typed sets one off.
            for _ in range(10):
                shell.read_for(1.5)
                shell.type("true")
                if load_session(session).status == "resolved":
                    break
            shell.read_for(1.0)
            seen["printed"] = shell.output.decode(errors="replace")

    acting = threading.Thread(target=trainee, daemon=True)
    acting.start()
    final = watcher.watch(session)
    acting.join(timeout=10)
    caught = seen["caught"]
    assert isinstance(caught, SessionState)
    assert caught.status == "active" and caught.guards_failing == ["the app's data was deleted"]
    assert float(str(seen["latency"])) < 3.0, f"the guard round came {seen['latency']} s after the command"
    assert "replaybook-" not in str(seen["printed"])  # the announcements are silent
    assert final.status == "resolved" and final.guards_tripped == ["data-kept"]
    assert run("replay-down", session).returncode == 0
    assert leftovers(f"replaybook-{session}") == {}


def test_an_exit_zero_fix_typed_in_the_shell_is_checked_at_once(
    projects: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watcher, "SCRIPT_CHECK_INTERVAL_SECONDS", FAR)  # no check comes by its poll
    monkeypatch.setattr(watcher, "SCRIPT_QUIET_INTERVAL_SECONDS", FAR)
    session = up_and_broken(TESTPACK / "t-exit", projects)
    seen: list[float] = []

    def trainee() -> None:
        time.sleep(3)  # the watcher's first check, and what the shell's opening sets off
        with trainee_shell(session) as shell:
            shell.read_for(1.0)
            typed = shell.type("echo up > /srv/state")
            _, at = wait_for(session, lambda s: s.status != "active", timeout=10)
            seen.append(at - typed)

    acting = threading.Thread(target=trainee, daemon=True)
    acting.start()
    final = watcher.watch(session)
    acting.join(timeout=10)
    assert final.status == "resolved"
    assert seen and seen[0] < 1.0, f"the fix was seen {seen} s after it was typed"
    assert run("replay-down", session).returncode == 0
    assert leftovers(f"replaybook-{session}") == {}
