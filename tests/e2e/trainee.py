"""Drive `replaybook run` as a trainee would: in a real terminal (an outer tmux server on a
socket of its own per test), typing with send-keys and reading the screen with capture-pane.

Teardown always kills the outer server and the session's own tmux server, takes down any
stack the test left behind (by its Compose project label: only what this test created).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
from dockerkit import leftovers, remove_project

from libreplay.core import paths
from libreplay.play.workspace import socket_path

BIN = Path(sys.executable).parent
SCENARIO = "001-nginx-502"
COLUMNS, ROWS = 160, 45
OFFER_QUIT = "[q] quit"  # the end of the offer after a miss (libreplay/play/offer.py)


class Trainee:
    """One terminal with `replaybook run …` running in it."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.socket = f"rbe2e-{uuid.uuid4().hex[:8]}"
        self.session_id: str | None = None

    # -- the terminal --------------------------------------------------------------------

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True, text=True, timeout=30, check=False,
        )

    def start(self, *run_args: str, env: dict[str, str] | None = None) -> None:
        extra = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
        command = shlex.join([str(BIN / "replaybook"), "run", *run_args])
        # The exit status is printed after run returns, so a test can wait for it on screen.
        line = (f"env -u TMUX REPLAYBOOK_HOME={shlex.quote(str(self.home))} {extra} {command}; "
                f"echo RUN-EXIT=$?; sleep 3600")
        env_for_server = {k: v for k, v in os.environ.items() if k != "TMUX"}
        subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", "new-session", "-d",
             "-x", str(COLUMNS), "-y", str(ROWS), line],
            check=True, timeout=30, env=env_for_server,
        )

    def screen(self) -> str:
        """What the trainee sees, with the scrollback (the debrief may have scrolled)."""
        text = self.tmux("capture-pane", "-p", "-S", "-300").stdout
        if os.environ.get("RB_E2E_TRACE"):
            with Path(os.environ["RB_E2E_TRACE"]).open("a") as trace:  # every screen, to debug a failure
                trace.write(f"==== {time.time():.2f}\n{text}\n")
        return text

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-l", text)
        self.tmux("send-keys", "Enter")

    def press(self, key: str) -> None:
        """One key, no Enter (the offer after a miss reads a single key)."""
        self.tmux("send-keys", "-l", key)

    def wait_for(self, text: str, timeout: float = 60.0, *, after: str | None = None) -> str:
        """The screen once ``text`` shows on it (with ``after``: below the last ``after`` on it,
        so that an earlier ``text`` the scrollback keeps is not taken for this one)."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in _below(screen, after):
                return screen
            time.sleep(0.5)
        where = f" after {after!r}" if after else ""
        raise AssertionError(f"{text!r} did not appear{where} within {timeout:.0f} s; the screen:\n{screen}")

    def quit_the_offer(self, *, session_id: str | None = None) -> None:
        """After a miss run offers to play again: answer q (without it, run waits 60 s).
        ``session_id``: the offer after that session's debrief (which names it in its replay
        line), not one of an earlier play still in the scrollback, however long the output."""
        after = f"replaybook replay {session_id}" if session_id else None
        self.wait_for(OFFER_QUIT, timeout=180, after=after)
        self.press("q")

    def exit_status(self, timeout: float = 120.0) -> int:
        screen = self.wait_for("RUN-EXIT=", timeout)
        return int(screen.split("RUN-EXIT=")[1].split()[0])

    # -- the session ---------------------------------------------------------------------

    def wait_for_session(self, timeout: float = 900.0) -> str:
        """The session id, once replay-up has created it (the first run builds images)."""
        deadline = time.monotonic() + timeout
        sessions = paths.sessions_dir()
        while time.monotonic() < deadline:
            found = sorted(p.name for p in sessions.glob("*")) if sessions.is_dir() else []
            if found:
                self.session_id = found[0]
                return found[0]
            if "RUN-EXIT=" in self.screen():
                raise AssertionError(f"replaybook run ended before a session existed:\n{self.screen()}")
            time.sleep(0.5)
        raise AssertionError("no session was created")

    def run_process(self) -> psutil.Process:
        """The `replaybook run` process inside the outer pane."""
        pane_pid = int(self.tmux("list-panes", "-F", "#{pane_pid}").stdout.split()[0])
        for child in psutil.Process(pane_pid).children(recursive=True):
            try:
                cmdline = child.cmdline()
            except psutil.Error:
                continue
            if any(part.endswith("replaybook") for part in cmdline) and "run" in cmdline:
                return child
        raise AssertionError("the replaybook run process is not running")

    @property
    def project(self) -> str:
        assert self.session_id is not None
        return f"replaybook-{self.session_id}"

    def inner_tmux_alive(self) -> bool:
        assert self.session_id is not None
        result = subprocess.run(["tmux", "-L", f"replaybook-{self.session_id}", "has-session"],
                                capture_output=True, check=False, timeout=30)
        return result.returncode == 0

    def assert_nothing_left(self) -> None:
        assert self.session_id is not None
        assert leftovers(self.project) == {}
        # The same through the CLI a human would use.
        label = f"label=com.docker.compose.project={self.project}"
        for kind in (["ps", "-a"], ["network", "ls"], ["volume", "ls"]):
            out = subprocess.run(["docker", *kind, "-q", "--filter", label], capture_output=True,
                                 text=True, check=True, timeout=60).stdout
            assert out.strip() == "", f"docker {' '.join(kind)} still lists {out!r}"
        assert not self.inner_tmux_alive()
        assert not paths.session_dir(self.session_id).exists()

    # -- teardown ----------------------------------------------------------------------------

    def clean_up(self) -> None:
        self.tmux("kill-server")
        socket_path(self.socket).unlink(missing_ok=True)  # tmux 3.3 leaves it behind
        if self.session_id is None:
            return
        inner = f"replaybook-{self.session_id}"
        subprocess.run(["tmux", "-L", inner, "kill-server"], capture_output=True, check=False, timeout=30)
        socket_path(inner).unlink(missing_ok=True)
        if paths.session_dir(self.session_id).exists():
            subprocess.run([str(BIN / "replay-down"), self.session_id], capture_output=True,
                           check=False, timeout=300)
        remove_project(self.project)


def _below(screen: str, after: str | None) -> str:
    """What the screen shows below the last ``after`` (all of it when None; nothing when
    ``after`` is not on it yet)."""
    if after is None:
        return screen
    _above, found, below = screen.rpartition(after)
    return below if found else ""
