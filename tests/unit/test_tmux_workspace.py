"""The tmux workspace wrapper on a private socket (needs the tmux binary, not Docker)."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from libreplay.play import workspace as tmux
from libreplay.play.workspace import ExtraWindow, Workspace, WorkspaceSpec, build_workspace, hud_width

pytestmark = pytest.mark.skipif(tmux.tmux_binary() is None, reason="tmux is not installed")


def wait_until(predicate, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[tuple[Workspace, Path]]:
    marker = tmp_path / "hint-key-pressed"
    spec = WorkspaceSpec(
        socket=f"rbtest-{uuid.uuid4().hex[:8]}",
        shell=("sh",),
        hud=("sh", "-c", "echo HUD-HERE; sleep 600"),
        windows=(ExtraWindow("db", ("sh", "-c", "echo DB-HERE; sleep 600")),),
        key_bindings={"h": ("touch", str(marker))},
        status_left="[replaybook test] ",
        columns=120,
        rows=30,
    )
    built = build_workspace(spec)
    try:
        yield built, marker
    finally:
        built.kill()


def panes(ws: Workspace) -> list[str]:
    out = ws.server.cmd("list-panes", "-a", "-F", "#{window_index}:#{window_name}:#{pane_width}")
    return list(out.stdout)


def capture(ws: Workspace, pane: str) -> str:
    return "\n".join(ws.server.cmd("capture-pane", "-p", "-t", pane).stdout)


def server_alive(socket: str) -> bool:
    answer = subprocess.run(["tmux", "-L", socket, "has-session"], capture_output=True, check=False)
    return answer.returncode == 0


@pytest.mark.parametrize("failure", [KeyboardInterrupt, RuntimeError], ids=["ctrl-c", "bug"])
def test_a_failure_mid_layout_leaves_no_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, failure: type[BaseException]
) -> None:
    # The failure lands after the shell and the HUD are running, where run has no Workspace
    # yet to kill: build_workspace itself must take the server down.
    started = tmp_path / "hud-started"

    def fail_after_the_split(*_args: object) -> None:
        assert wait_until(started.exists)
        raise failure("stopped mid-layout")

    monkeypatch.setattr(tmux, "_keep_hud_width", fail_after_the_split)
    socket = f"rbtest-{uuid.uuid4().hex[:8]}"
    spec = WorkspaceSpec(socket=socket, shell=("sleep", "600"),
                         hud=("sh", "-c", f"touch {started}; sleep 600"))
    with pytest.raises(failure, match="mid-layout"):
        build_workspace(spec)
    assert not server_alive(socket)
    assert not tmux.socket_path(socket).exists()


def test_layout_is_shell_and_hud_then_one_window_per_service(workspace: tuple[Workspace, Path]) -> None:
    ws, _ = workspace
    layout = panes(ws)
    assert layout[0].startswith("0:shell:")
    assert layout[1] == "0:shell:40"  # the HUD, 40 columns wide
    assert layout[2].startswith("1:db:")
    assert wait_until(lambda: "HUD-HERE" in capture(ws, ws.hud_pane))
    assert wait_until(lambda: "DB-HERE" in capture(ws, "db"))


def test_the_server_is_private_and_killed_whole(workspace: tuple[Workspace, Path]) -> None:
    ws, _ = workspace
    assert ws.alive()
    # The default server (a trainee's own tmux) knows nothing of it.
    default = subprocess.run(["tmux", "-L", ws.socket, "list-sessions", "-F", "#{session_name}"],
                             capture_output=True, text=True, check=False)
    assert default.stdout.split() == ["replaybook"]
    ws.kill()
    assert not ws.alive()
    assert not tmux.socket_path(ws.socket).exists()


def test_key_binding_runs_its_command(workspace: tuple[Workspace, Path]) -> None:
    ws, marker = workspace
    ws.server.cmd("send-keys", "-t", ws.shell_pane, "")  # make sure the session is up
    # A binding runs when the key is pressed in a client; run it as a client would.
    ws.server.cmd("run-shell", "-b", f"touch {marker}")
    assert wait_until(marker.exists)
    keys = "\n".join(ws.server.cmd("list-keys", "-T", "prefix").stdout)
    assert "run-shell -b" in keys and str(marker) in keys


def test_hud_keeps_its_width_when_a_client_attaches_wider(workspace: tuple[Workspace, Path]) -> None:
    ws, _ = workspace
    outer = f"rbouter-{uuid.uuid4().hex[:8]}"
    attach = " ".join(ws.attach_argv())
    subprocess.run(["tmux", "-L", outer, "-f", "/dev/null", "new-session", "-d", "-x", "200", "-y", "50",
                    f"env -u TMUX {attach}"], check=True)
    try:
        assert wait_until(lambda: panes(ws)[0] != "0:shell:79" and panes(ws)[1] == "0:shell:40"
                          and int(panes(ws)[0].split(":")[2]) > 100)
        def outer_screen() -> str:
            return subprocess.run(["tmux", "-L", outer, "capture-pane", "-p"], capture_output=True,
                                  text=True, check=False).stdout

        ws.display_message("hello from the test")
        assert wait_until(lambda: "hello from the test" in outer_screen())
        ws.announce("RESOLVED in the status line")
        assert wait_until(lambda: "RESOLVED in the status line" in outer_screen(), timeout=8)
    finally:
        subprocess.run(["tmux", "-L", outer, "kill-server"], capture_output=True, check=False)
        tmux.socket_path(outer).unlink(missing_ok=True)


def test_a_second_workspace_on_the_same_socket_is_refused(workspace: tuple[Workspace, Path]) -> None:
    ws, _ = workspace
    from libreplay.core.errors import EnvironmentProblem

    with pytest.raises(EnvironmentProblem, match="already running"):
        build_workspace(WorkspaceSpec(socket=ws.socket, shell=("sh",), hud=("sh",)))


@pytest.mark.parametrize(("columns", "width"), [(200, 40), (80, 40), (70, 30), (40, 20)])
def test_hud_width_leaves_the_shell_room(columns: int, width: int) -> None:
    assert hud_width(columns) == width


def test_socket_is_per_session() -> None:
    assert tmux.socket_name("ab12") == "replaybook-ab12"


def _client_output_while(ws: Workspace, command: str) -> bytes:
    """What a real client attached in a pty receives while ``command`` runs in the shell pane."""
    import os
    import select

    main_fd, pty_fd = os.openpty()
    client = subprocess.Popen(
        ["tmux", "-L", ws.socket, "attach"], stdin=pty_fd, stdout=pty_fd, stderr=pty_fd,
        env={**os.environ, "TERM": "xterm-256color"}, close_fds=True,
    )  # fmt: skip
    os.close(pty_fd)
    received = b""
    try:
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:  # let the client draw first
            if select.select([main_fd], [], [], 0.1)[0]:
                received += os.read(main_fd, 65536)
        ws.server.cmd("send-keys", "-t", ws.shell_pane, command, "Enter")
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            if select.select([main_fd], [], [], 0.1)[0]:
                received += os.read(main_fd, 65536)
    finally:
        client.terminate()
        client.wait(timeout=5)
        os.close(main_fd)
    return received


def test_a_pane_cannot_write_the_outer_terminal_s_clipboard(workspace: tuple[Workspace, Path]) -> None:
    """OSC 52 printed by whatever runs in the shell (a container's log, a file the trainee cats)
    never reaches the real terminal's clipboard, where a paste would run it on the host."""
    ws, _ = workspace
    osc52 = r"printf '\033]52;c;ZWNobyBwd25lZA==\007'"
    assert b"\x1b]52;" not in _client_output_while(ws, osc52)
    # The same with a tmux.conf's `set-clipboard on`, to show the check sees a forwarded one.
    ws.server.cmd("set-option", "-g", "set-clipboard", "on")
    assert b"\x1b]52;" in _client_output_while(ws, osc52)
