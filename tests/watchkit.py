"""A broken session with its watcher running, and the trainee's shell in it: what the tests of
the hint channel and of the docker tools drive, as a trainee would."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import docker
from dockerkit import TESTPACK, remove_project, run, start

from libreplay.session.state import load_session

T_NAME = str(TESTPACK / "t-name")  # its shell service is its own container: a restart fixes nothing
TRAINEE_PATH = "/run/replaybook/bin:/usr/local/bin:/usr/bin:/bin"
REPLIES = "/run/replaybook/replies"


@dataclass
class Watched:
    """A broken session, its watcher (replay-check --watch) and its shell container."""

    session: str
    watcher: subprocess.Popen[str]

    def container(self, service: str) -> Any:
        project = f"replaybook-{self.session}"
        labels = [f"com.docker.compose.project={project}", f"com.docker.compose.service={service}"]
        return docker.from_env().containers.list(filters={"label": labels})[0]

    @property
    def shell(self) -> Any:
        return self.container("shell")

    def trainee(self, script: str, *, user: str = "", env: dict[str, str] | None = None) -> tuple[int, str]:
        """A command in the shell container, as the trainee's shell runs it (PATH included)."""
        status, out, err = self.trainee_apart(script, user=user, env=env)
        return status, out + err

    def trainee_apart(
        self, script: str, *, user: str = "", env: dict[str, str] | None = None
    ) -> tuple[int, str, str]:
        """The same, its stdout and stderr apart."""
        result = self.shell.exec_run(
            ["sh", "-c", script], user=user, environment={"PATH": TRAINEE_PATH, **(env or {})}, demux=True
        )
        out, err = result.output
        return result.exit_code, (out or b"").decode(), (err or b"").decode()

    def get_hint(self) -> str:
        status, output = self.trainee("get-hint")
        assert status == 0, output
        return output.strip()

    def say(self, line: str, *, fd: int = 1) -> None:
        """Write one line to the container's log stream exactly as given."""
        status, output = self.trainee(f'printf "%s\\n" "$LINE" > /proc/1/fd/{fd}', env={"LINE": line})
        assert status == 0, output

    def replies(self) -> dict[str, str]:
        listing = 'for f in *; do [ -f "$f" ] && printf "%s\\t%s\\n" "$f" "$(cat "$f")"; done; true'
        status, output = self.trainee(f"cd {REPLIES} && {listing}")
        assert status == 0, output
        return dict(line.split("\t", 1) for line in output.splitlines() if "\t" in line)

    def assert_watching(self) -> None:
        assert self.watcher.poll() is None, self.watcher.communicate()[1]


@contextmanager
def watched_session() -> Iterator[Watched]:
    """replay-up t-name, replay-break, replay-check --watch; everything removed afterwards."""
    up = run("replay-up", T_NAME)
    assert up.returncode == 0, up.stderr
    session = up.stdout.strip()
    project = f"replaybook-{session}"
    watcher = None
    try:
        broke = run("replay-break", session)
        assert broke.returncode == 0, broke.stderr
        watcher = start("replay-check", session, "--watch")
        wait_until_held_by(session, watcher)
        yield Watched(session, watcher)
    finally:
        if watcher is not None and watcher.poll() is None:
            watcher.send_signal(signal.SIGTERM)  # the watcher of a pipe tears its stack down
            watcher.communicate(timeout=120)
        run("replay-down", session)  # a resolved session's stack is still up
        remove_project(project)  # by label, whatever the test left


def wait_until_held_by(session: str, watcher: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if load_session(session).holder_pid == watcher.pid:
            return
        assert watcher.poll() is None, watcher.communicate()[1]
        time.sleep(0.1)
    raise AssertionError("the watcher never took the session")


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s: {what}")
