"""A recorded window's shell status, with real asciinema in a real pseudo-terminal: asciinema
itself exits 0 whatever its command did, so the shell's own status comes back through a file
of ours; asciinema failing before it runs the shell is an environment problem, said as one.
The shell here is a stand-in `docker` that exits with a given status (no engine needed)."""

from __future__ import annotations

import os
import pty
import sys
from pathlib import Path

import pytest

RUN_SHELL = r"""
import sys
from pathlib import Path
from libreplay.core.errors import EnvironmentProblem
from libreplay.play.shell import _run_shell
from libreplay.session.containers import ServiceContainer

container = ServiceContainer(id="c0ffee", name="s-web-1", service="web", status="running",
                             exit_code=None, image_path="/usr/bin:/bin")
try:
    print("STATUS", _run_shell(container, sys.argv[1], Path(sys.argv[2]), append=False))
except EnvironmentProblem as problem:
    print("PROBLEM", problem.message)
"""


def run_shell_in_a_terminal(docker: Path, record: Path) -> str:
    """What _run_shell said, run in a pseudo-terminal as replay-shell runs it."""
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.execv(sys.executable, [sys.executable, "-c", RUN_SHELL, str(docker), str(record)])
    shown = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the child ended: the terminal is gone
            break
        if not chunk:
            break
        shown += chunk
    os.waitpid(pid, 0)
    os.close(fd)
    return shown.decode(errors="replace")


@pytest.fixture
def docker_exiting_3(tmp_path: Path) -> Path:
    stand_in = tmp_path / "docker"
    stand_in.write_text("#!/bin/sh\necho IN-THE-SHELL\nexit 3\n")
    stand_in.chmod(0o755)
    return stand_in


def test_the_shell_s_own_status_comes_back_through_the_recording(
    docker_exiting_3: Path, tmp_path: Path,
) -> None:
    cast = tmp_path / "shell.cast"
    said = run_shell_in_a_terminal(docker_exiting_3, cast)
    assert "STATUS 3" in said, said
    assert "IN-THE-SHELL" in cast.read_text()  # recorded all the same


def test_asciinema_failing_before_the_shell_is_said_as_an_environment_problem(
    docker_exiting_3: Path, tmp_path: Path,
) -> None:
    said = run_shell_in_a_terminal(docker_exiting_3, tmp_path)  # a directory: no cast can be written there
    assert "PROBLEM recording the shell failed: asciinema exited with status 1" in said, said
