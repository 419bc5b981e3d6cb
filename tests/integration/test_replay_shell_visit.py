"""replay-shell, recorded, as a local play's window runs it, on the real engine: a trainee who
leaves the shell after a failing command ends the window at once with status 0 (the shell's
status is the trainee's, not one of ours: the play's pane would stop on it), and a restart of
the container under the shell, however quick, reopens the shell rather than ending the window
(a hold's restart of the shell's container ended a whole local play before)."""

from __future__ import annotations

import os
import pty
import select
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from dockerkit import TESTPACK, exe, leftovers, run, up_and_broken

from libreplay.engine import docker_api
from libreplay.play.shell import STOPPING_GRACE_SECONDS
from libreplay.session.state import load_session

pytestmark = pytest.mark.docker


class Window:
    """replay-shell in a pseudo-terminal: what it showed, and its exit status once it ended."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid, self.fd = pid, fd
        self.shown = b""
        self.status: int | None = None

    def wait_for(self, text: bytes, timeout: float = 60.0, after: int = 0) -> int:
        deadline = time.monotonic() + timeout
        while (found := self.shown.find(text, after)) < 0:
            assert time.monotonic() < deadline, f"never shown: {text!r}; shown: {self.shown[-2000:]!r}"
            self._read(0.1)
        return found + len(text)

    def type(self, line: str) -> None:
        os.write(self.fd, line.encode() + b"\r")

    def exit_status(self, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while self.status is None:
            assert time.monotonic() < deadline, f"replay-shell still runs; shown: {self.shown[-2000:]!r}"
            self._read(0.1)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
        return self.status

    def _read(self, seconds: float) -> None:
        ready, _, _ = select.select([self.fd], [], [], seconds)
        if ready:
            try:
                self.shown += os.read(self.fd, 65536)
            except OSError:
                time.sleep(seconds)  # the window has ended: its status tells


@contextmanager
def window(session: str, record: Path) -> Iterator[Window]:
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(exe("replay-shell"), [exe("replay-shell"), session, "--record", str(record)])
    opened = Window(pid, fd)
    try:
        yield opened
    finally:
        if opened.status is None:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(fd)


def test_leaving_after_a_failing_command_ends_the_window_at_once_and_cleanly(
    projects: list[str], tmp_path: Path,
) -> None:
    session = up_and_broken(TESTPACK / "t-exit", projects)
    with window(session, tmp_path / "shell.cast") as shell:
        seen = shell.wait_for(b"# ")
        shell.type("echo RECORDED-$((6*7)); exit 3")
        shell.wait_for(b"RECORDED-42", after=seen)
        left = time.monotonic()
        assert shell.exit_status() == 0
        assert time.monotonic() - left < STOPPING_GRACE_SECONDS  # the trainee left: not waited on
    assert "RECORDED-42" in (tmp_path / "shell.cast").read_text()
    assert run("replay-down", session).returncode == 0
    assert leftovers(f"replaybook-{session}") == {}


def test_a_quick_restart_under_the_shell_reopens_it(projects: list[str], tmp_path: Path) -> None:
    session = up_and_broken(TESTPACK / "t-exit", projects)
    state = load_session(session)
    with window(session, tmp_path / "shell.cast") as shell:
        seen = shell.wait_for(b"# ")
        container = docker_api.client().containers.list(
            filters=docker_api.label_filter(project=state.project, service=state.shell_service))[0]
        for _ in range(3):  # a race lost once in a while: a few restarts
            container.restart(timeout=0)
            seen = shell.wait_for(b"stopped while you were in it", after=seen)
            seen = shell.wait_for(b"# ", after=seen)
        shell.type("echo AGAIN-$((20+22))")
        seen = shell.wait_for(b"AGAIN-42", after=seen)
        shell.type("exit")
        assert shell.exit_status() == 0
    assert run("replay-down", session).returncode == 0
    assert leftovers(f"replaybook-{session}") == {}
