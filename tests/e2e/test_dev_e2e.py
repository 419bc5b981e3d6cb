"""`replaybook dev` end to end: an author's loop in a real terminal (an outer tmux server of the
test's own), against real containers, on a copy of a scenario that builds from the Debian base
alone (tests/fixtures/engine/quick: a file says down; check.sh greps it).

What the author sees is read from the screen: the console pane of the workspace
(`capture-pane` on replaybook dev's own tmux server) and the outer terminal. Keys are typed
with `send-keys` as a person types them: `C-b s` from the shell, `b` and Ctrl-C in the console.
Each test ends asserting that nothing of the session's Compose project is left (containers,
networks, volumes, its tmux server, its directory) and that no ledger line was written.
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from dockerkit import FIXTURES, run
from trainee import BIN, COLUMNS, ROWS, Trainee

from libreplay.play.workspace import SESSION_NAME, socket_name
from libreplay.session.ledger import read_ledger

pytestmark = [pytest.mark.e2e, pytest.mark.docker, pytest.mark.timeout(900)]

QUICK = FIXTURES / "engine" / "quick"
PROMPT = "root@"
PROBLEM_SHOWN_WITHIN_SECONDS = 1.0  # the user's bar: an edit that breaks meta.json shows at once
POLL_SECONDS = 0.02


class Author(Trainee):
    """One terminal with `replaybook dev DIR` running in it."""

    def start_dev(self, directory: Path) -> None:
        command = shlex.join([str(BIN / "replaybook"), "dev", str(directory)])
        line = (f"env -u TMUX REPLAYBOOK_HOME={shlex.quote(str(self.home))} {command}; "
                f"echo RUN-EXIT=$?; sleep 3600")
        self.tmux("new-session", "-d", "-x", str(COLUMNS), "-y", str(ROWS), line)

    def console(self) -> str:
        """The dev console pane as it is drawn now."""
        assert self.session_id is not None
        return subprocess.run(
            ["tmux", "-L", socket_name(self.session_id), "capture-pane", "-p", "-t", f"{SESSION_NAME}:0.1"],
            capture_output=True, text=True, timeout=30, check=False,
        ).stdout

    def wait_in_console(self, *texts: str, absent: str = "", timeout: float = 60.0) -> tuple[str, float]:
        """The console once it shows every one of ``texts`` (and not ``absent``), and how long that took."""
        started = time.monotonic()
        screen = ""
        while time.monotonic() - started < timeout:
            screen = self.console()
            if all(text in screen for text in texts) and not (absent and absent in screen):
                return screen, time.monotonic() - started
            time.sleep(POLL_SECONDS)
        wanted = f"{texts} (without {absent!r})"
        raise AssertionError(f"{wanted} not in the console within {timeout:.0f} s:\n{screen}")

    def dev_process(self) -> psutil.Process:
        """The `replaybook dev` process inside the outer pane."""
        pane_pid = int(self.tmux("list-panes", "-F", "#{pane_pid}").stdout.split()[0])
        for child in psutil.Process(pane_pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                cmdline = child.cmdline()
                if any(part.endswith("replaybook") for part in cmdline) and "dev" in cmdline:
                    return child
        raise AssertionError("the replaybook dev process is not running")

    def assert_nothing_recorded(self) -> None:
        assert [line for line in read_ledger() if line.get("session") == self.session_id] == []


def prompts(screen: str) -> list[str]:
    """The containers the shell pane has prompted in (bash shows the container id as hostname)."""
    return re.findall(r"root@([0-9a-f]{12})", screen)


@pytest.fixture
def author(replaybook_home: Path) -> Iterator[Author]:
    person = Author(replaybook_home)
    try:
        yield person
    finally:
        person.clean_up()


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    """The author's own copy: dev watches it and the test edits it."""
    return Path(shutil.copytree(QUICK, tmp_path / "quick"))


def start_broken(author: Author, scenario: Path) -> None:
    author.start_dev(scenario)
    author.wait_for_session(timeout=600)
    author.wait_in_console("CHECK: FAILING", "BREAK: done", timeout=600)  # a cold build included
    # Nothing edited yet: nothing needs a rebuild (the session's copy holds its model, not the
    # pack's compose file, and is no measure of what the stack was built from).
    screen, _ = author.wait_in_console("SOURCE: valid", timeout=10)
    assert "REBUILD NEEDED" not in screen, screen
    author.wait_for(PROMPT, timeout=60)


def test_an_edit_shows_at_once_solve_heals_break_breaks_and_ctrl_c_leaves_nothing(
    author: Author, scenario: Path
) -> None:
    start_broken(author, scenario)
    meta = scenario / "meta.json"
    good = meta.read_text()

    broken = json.loads(good)
    broken["difficulty"] = 9
    meta.write_text(json.dumps(broken))
    screen, seconds = author.wait_in_console("SOURCE: INVALID", "meta.json: difficulty",
                                             timeout=PROBLEM_SHOWN_WITHIN_SECONDS)
    assert seconds < PROBLEM_SHOWN_WITHIN_SECONDS, screen

    meta.write_text(good)
    _, seconds = author.wait_in_console("SOURCE: valid", absent="meta.json: difficulty",
                                        timeout=PROBLEM_SHOWN_WITHIN_SECONDS)
    assert seconds < PROBLEM_SHOWN_WITHIN_SECONDS

    author.tmux("send-keys", "C-b", "s")  # from the shell: the prefix binding sends s to the console
    screen, _ = author.wait_in_console("CHECK: PASSING", "SOLVE: done", timeout=60)
    assert "solve.sh exited 0; the check passes" in screen

    author.tmux("send-keys", "C-b", "Right")  # into the console pane
    author.tmux("send-keys", "b")
    screen, _ = author.wait_in_console("CHECK: FAILING", "BREAK: done", timeout=60)
    assert "the check fails, as it" in screen  # (wrapped in the 40 columns)

    author.tmux("send-keys", "C-c")  # Ctrl-C in the console: the same as to replaybook dev
    assert author.exit_status(timeout=180) == 130
    assert "nothing was recorded" in author.screen()
    author.assert_nothing_left()
    author.assert_nothing_recorded()


def test_a_dockerfile_edit_asks_for_a_rebuild_which_restarts_the_stack_and_breaks_it_again(
    author: Author, scenario: Path
) -> None:
    # A bind mount: the rebuild copies it for the session again, over the first up's copy.
    (scenario / "site").mkdir()
    (scenario / "site" / "index.html").write_text("bound\n")
    compose = scenario / "docker-compose.yml"
    compose.write_text(compose.read_text() + '    volumes: ["./site:/srv/site"]\n')
    start_broken(author, scenario)
    with (scenario / "Dockerfile").open("a") as dockerfile:
        dockerfile.write("RUN echo rebuilt > /etc/replaybook-rebuilt\n")
    author.wait_in_console("REBUILD NEEDED (r): changed", "Dockerfile", timeout=5)
    (scenario / "break.sh").write_text("#!/usr/bin/env bash\nset -euo pipefail\n"
                                       "docker compose exec -T box sh -c 'echo broken > /srv/state'\n")
    time.sleep(0.5)  # validated again by then (within a second, as the first test measures)
    screen = author.console()
    assert "REBUILD NEEDED (r): changed\n  Dockerfile\n" in screen  # a script needs no rebuild

    shells_before = set(prompts(author.screen()))
    author.tmux("send-keys", "C-b", "r")
    author.wait_in_console("REBUILD: running", timeout=10)
    author.wait_in_console("REBUILD: done", "CHECK: FAILING", absent="REBUILD NEEDED", timeout=300)
    # The new image runs, and the edited break.sh is the one that broke it.
    labels = [f"label=com.docker.compose.project={author.project}", "label=com.docker.compose.service=box"]
    box = subprocess.run(["docker", "ps", "-q", "--filter", labels[0], "--filter", labels[1]],
                         capture_output=True, text=True, check=True, timeout=30).stdout.split()
    assert len(box) == 1
    inside = subprocess.run(["docker", "exec", box[0], "cat", "/etc/replaybook-rebuilt", "/srv/state",
                             "/srv/site/index.html"],
                            capture_output=True, text=True, check=True, timeout=30).stdout
    assert inside.split() == ["rebuilt", "broken", "bound"]

    # The shell pane comes back by itself, in the new container (its hostname is the container's).
    author.wait_for("opens again once it runs.", timeout=10)
    deadline = time.monotonic() + 60
    while set(prompts(author.screen())) <= shells_before:
        assert time.monotonic() < deadline, author.screen()
        time.sleep(0.2)
    author.type('echo "state=$(cat /srv/state)"')
    author.wait_for("state=broken", timeout=30)
    author.type("exit")  # leaving the shell ends the loop
    assert author.exit_status(timeout=180) == 0
    author.assert_nothing_left()
    author.assert_nothing_recorded()


def test_a_killed_loop_leaves_an_orphan_that_down_all_removes_without_a_ledger_line(
    author: Author, scenario: Path
) -> None:
    start_broken(author, scenario)
    author.dev_process().kill()  # SIGKILL: no clean-up of its own
    sessions = run("replay-sessions")
    assert author.session_id in sessions.stdout
    assert "orphan" in (sessions.stdout + sessions.stderr)
    down = run("replay-down", "--all")
    assert down.returncode == 0, down.stderr
    deadline = time.monotonic() + 30
    while author.inner_tmux_alive():  # the console sees its session gone and closes the workspace
        assert time.monotonic() < deadline, "the workspace outlived its session"
        time.sleep(0.2)
    author.assert_nothing_left()
    author.assert_nothing_recorded()
