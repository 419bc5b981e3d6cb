"""The hint channel against the real engine: get-hint in a real shell container, a real watcher.

The trainee is root in the shell container and does what a hostile trainee would: junk and
forged lines on the log stream, floods, symlinks and directories where the channel's files
are, deleting them, restarting the container, another user. Each test checks that only the
container is affected: the host's session directory and ledger stay as they were, the
watcher keeps running and answering, and every revealed hint is counted exactly once.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest
from dockerkit import TESTPACK, remove_project, run, start

from libreplay.core import paths
from libreplay.session.hints import BURST, NO_MORE_HINTS, REFILL_SECONDS
from libreplay.session.state import load_session

pytestmark = pytest.mark.docker

T_NAME = str(TESTPACK / "t-name")  # its shell service is its own container: a restart fixes nothing
HINT_1 = "Hint 1/2: curl app:3000/ok"
HINT_2 = "Hint 2/2: ls /srv/www in the app"
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
        result = self.shell.exec_run(
            ["sh", "-c", script], user=user, environment={"PATH": TRAINEE_PATH, **(env or {})}, demux=True
        )
        out, err = result.output
        return result.exit_code, (out or b"").decode() + (err or b"").decode()

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


@pytest.fixture
def watched() -> Iterator[Watched]:
    up = run("replay-up", T_NAME)
    assert up.returncode == 0, up.stderr
    session = up.stdout.strip()
    project = f"replaybook-{session}"
    watcher = None
    try:
        broke = run("replay-break", session)
        assert broke.returncode == 0, broke.stderr
        watcher = start("replay-check", session, "--watch")
        _wait_until_held_by(session, watcher)
        yield Watched(session, watcher)
    finally:
        if watcher is not None and watcher.poll() is None:
            watcher.send_signal(signal.SIGTERM)  # the watcher of a pipe tears its stack down
            watcher.communicate(timeout=120)
        run("replay-down", session)  # a resolved session's stack is still up
        remove_project(project)  # by label, whatever the test left


def _wait_until_held_by(session: str, watcher: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if load_session(session).holder_pid == watcher.pid:
            return
        assert watcher.poll() is None, watcher.communicate()[1]
        time.sleep(0.1)
    raise AssertionError("the watcher never took the session")


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s: {what}")


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def _settle() -> None:
    """Time for the watcher to read what was written and for its replies to land."""
    time.sleep(1.5)


def test_get_hint_reveals_hints_in_order_and_nothing_else_counts(watched: Watched) -> None:
    forged = [
        "replaybook-hint-request ../../session.toml",  # no path can be named
        "replaybook-hint-request a b",
        " replaybook-hint-request padded",
        "replaybook-hint-request " + "a" * 65,
        "GET /ok 200 replaybook-hint-request inline",  # a service's own log line
        "\x1b]0;title\x07replaybook-hint-request escaped",
        "\x01\x7f binary \u00ff",
    ]
    for line in forged:
        watched.say(line)
    oversized = "{ printf 'replaybook-hint-request '; head -c 200000 /dev/zero | tr '\\0' b; echo; }"
    assert watched.trainee(f"{oversized} > /proc/1/fd/1")[0] == 0  # dropped whole, never parsed
    watched.say("replaybook-hint-request on-stderr", fd=2)  # only stdout carries requests

    # Stream order: these answers come after every line above was read, and none of them counted.
    assert watched.get_hint() == HINT_1
    assert load_session(watched.session).hints_used == 1
    assert watched.get_hint() == HINT_2
    assert watched.get_hint() == NO_MORE_HINTS
    state = load_session(watched.session)
    assert state.hints_used == 2
    assert state.hints_revealed == ["curl app:3000/ok", "ls /srv/www in the app"]

    time.sleep(REFILL_SECONDS)  # three requests in a row spent the burst: wait for one more
    for _ in range(3):
        watched.say("replaybook-hint-request same-id")  # one request read three times
    _settle()
    assert watched.replies() == {"same-id": NO_MORE_HINTS}  # answered once; no forged line was
    assert load_session(watched.session).hints_used == 2
    assert not (paths.session_dir(watched.session) / "channel").exists()  # no host path at all
    watched.assert_watching()


def test_tampering_with_the_channel_touches_only_the_container(watched: Watched) -> None:
    assert watched.get_hint() == HINT_1
    assert watched.get_hint() == HINT_2  # from now on no answer changes the session file
    session_dir = paths.session_dir(watched.session)
    before = _files(session_dir)

    # replies/ a symlink to the root: the answer lands in the container's /, where get-hint finds it.
    watched.trainee(f"rm -rf {REPLIES} && ln -s / {REPLIES}")
    assert watched.get_hint() == NO_MORE_HINTS

    # replies/ a symlink to the host's session directory (as a path inside the container) and a
    # forged request named like a file there: it is written in the container, never on the host.
    watched.trainee(f"rm -f {REPLIES} && mkdir -p '{session_dir}' && ln -s '{session_dir}' {REPLIES}")
    watched.say("replaybook-hint-request compose")
    _settle()
    status, output = watched.trainee(f"cat '{session_dir}/compose'")
    assert status == 0 and output.strip(), output  # the reply (whatever it says) is in the container

    # A directory where the reply goes, then the whole channel deleted: no crash, no answer.
    watched.trainee(f"rm -f {REPLIES} && mkdir -m 1777 {REPLIES} && mkdir {REPLIES}/trap")
    watched.say("replaybook-hint-request trap")
    _settle()
    watched.assert_watching()
    watched.trainee("rm -rf /run/replaybook")
    status, _ = watched.trainee("get-hint")
    assert status == 127  # the trainee's own doing: the command is gone from the container
    watched.say("replaybook-hint-request nothing-to-write-to")
    _settle()
    watched.assert_watching()

    # A restart of the shell container: the watcher follows its log again and puts get-hint back.
    watched.shell.restart(timeout=1)
    _wait_for(lambda: watched.trainee("command -v get-hint")[0] == 0, "get-hint is back after a restart")
    assert watched.get_hint() == NO_MORE_HINTS

    # Another user than PID 1's may not write to the log stream: get-hint says so plainly.
    status, output = watched.trainee("get-hint", user="nobody")
    assert status == 1 and "C-b h" in output and "cannot reach replaybook" in output

    assert _files(session_dir) == before
    assert not paths.ledger_path().exists()
    assert load_session(watched.session).hints_used == 2
    watched.assert_watching()


def test_a_flood_of_requests_counts_nothing_twice_and_the_watcher_keeps_up(watched: Watched) -> None:
    # get-hint asks until it is answered; raw lines are read only once the watcher follows the log.
    assert watched.get_hint() == HINT_1
    time.sleep(REFILL_SECONDS)  # the burst is whole again
    started = time.monotonic()
    status, output = watched.trainee(
        'for i in $(seq 200); do echo "replaybook-hint-request flood$i" > /proc/1/fd/1; done; '
        "head -c 2000000 /dev/zero | tr '\\0' x > /proc/1/fd/1; echo > /proc/1/fd/1"
    )
    assert status == 0, output
    _settle()
    elapsed = time.monotonic() - started
    replies = watched.replies()
    hints = [text for text in replies.values() if text.startswith("Hint ")]
    slow_downs = [text for text in replies.values() if text.startswith("Slow down")]
    windows = 1 + int(elapsed / REFILL_SECONDS)
    assert len(replies) - len(slow_downs) <= BURST + windows  # the bucket, not the flood
    assert 1 <= len(slow_downs) <= windows, replies  # told once per window, the rest dropped
    assert hints == [HINT_2]  # the one hint left, revealed once however many asked for it
    assert load_session(watched.session).hints_used == 2  # each revealed hint counted exactly once
    watched.assert_watching()

    time.sleep(REFILL_SECONDS)
    asked = time.monotonic()
    assert watched.get_hint() == NO_MORE_HINTS
    assert time.monotonic() - asked < 5  # still answering, at once

    # And it still notices the fix: the flood did not stall the watcher's loop.
    assert watched.container("app").exec_run(["touch", "/srv/www/ok"]).exit_code == 0
    out, err = watched.watcher.communicate(timeout=60)
    assert (watched.watcher.returncode, out.strip()) == (0, "resolved"), err
    assert "Traceback" not in err
    assert load_session(watched.session).hints_used == 2

