"""The trainee's tmux workspace, on a tmux server of its own.

Each session gets a private server (``tmux -L replaybook-<id>``), so a trainee's own tmux
(and its sessions) is never touched, and running ``replaybook run`` from inside tmux works.
The server starts with no configuration file (``-f /dev/null``): the HUD tells the trainee
"C-b 1" and "C-b h", so the prefix and bindings must be tmux's defaults plus ours, whatever
``~/.tmux.conf`` says.

Layout (see docs/terminal.md):
  window 0 "shell": left pane the trainee's shell, right pane the HUD (about 40 columns)
  window 1, 2, …:   one per other service, a shell inside that service
This module builds it through libtmux; attaching is left to the caller, because it needs
the caller's terminal (``attach_argv`` gives the command).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from libreplay.core.errors import EnvironmentProblem

if TYPE_CHECKING:
    import libtmux

SESSION_NAME = "replaybook"
HUD_COLUMNS = 40
MIN_SHELL_COLUMNS = 40
NO_CONFIG = "/dev/null"


def tmux_binary() -> str | None:
    return shutil.which("tmux")


def socket_name(session_id: str) -> str:
    return f"replaybook-{session_id}"


def socket_path(name: str) -> Path:
    """Where ``tmux -L name`` puts its socket."""
    base = os.environ.get("TMUX_TMPDIR") or "/tmp"
    return Path(base) / f"tmux-{os.getuid()}" / name


def install_hint() -> str:
    return (
        "install tmux (Debian/Ubuntu: sudo apt-get install tmux; Fedora: sudo dnf install tmux; "
        "macOS: brew install tmux), or run with --no-split"
    )


def hud_width(columns: int) -> int:
    """About 40 columns for the HUD, but never so many that the shell gets cramped."""
    return max(20, min(HUD_COLUMNS, columns - MIN_SHELL_COLUMNS))


@dataclass(frozen=True)
class ExtraWindow:
    name: str
    command: str


@dataclass(frozen=True)
class WorkspaceSpec:
    """What to lay out. Commands are shell command lines (tmux runs them with ``sh -c``)."""

    socket: str
    shell_command: str
    hud_command: str
    windows: tuple[ExtraWindow, ...] = ()
    key_bindings: dict[str, str] = field(default_factory=dict)  # key -> shell command line
    status_left: str = ""
    status_right: str = ""
    columns: int = 120
    rows: int = 40
    environment: dict[str, str] = field(default_factory=dict)


class Workspace:
    """A running workspace: its server, session and panes."""

    def __init__(self, server: libtmux.Server, session: libtmux.Session, shell_pane: str, hud_pane: str):
        self.server = server
        self.session = session
        self.shell_pane = shell_pane
        self.hud_pane = hud_pane

    @property
    def socket(self) -> str:
        return str(self.server.socket_name)

    def attach_argv(self) -> list[str]:
        return [self.server.tmux_bin or "tmux", "-L", self.socket, "attach-session", "-t", SESSION_NAME]

    def alive(self) -> bool:
        try:
            return bool(self.server.is_alive()) and bool(self.server.has_session(SESSION_NAME))
        except Exception:  # noqa: BLE001 - a server shutting down answers with all sorts of errors
            return False

    def display_message(self, text: str, *, milliseconds: int = 5000) -> None:
        """Show ``text`` for a while over the status line of every attached client.

        Careful: tmux 3.3 does not redraw panes while such a message is up, so the HUD would
        look frozen; for news that the HUD must show at the same time use :meth:`announce`.
        """
        with contextlib.suppress(Exception):
            for client in self._clients():
                self.server.cmd("display-message", "-c", client, "-d", str(milliseconds), text)

    def announce(self, text: str, *, style: str = "bg=green,fg=black,bold") -> None:
        """Put ``text`` in the status line itself, coloured; panes keep updating meanwhile."""
        with contextlib.suppress(Exception):
            self.server.cmd("set-option", "-g", "status-right", f" {text} ")
            self.server.cmd("set-option", "-g", "status-style", style)

    def kill(self) -> None:
        """End the server and everything in it (the shells' docker exec clients get SIGHUP)."""
        _kill_server(self.server)

    def _clients(self) -> list[str]:
        result = self.server.cmd("list-clients", "-F", "#{client_name}")
        return [line for line in result.stdout if line]


def build_workspace(spec: WorkspaceSpec) -> Workspace:
    """Start the private server and lay out the shell, the HUD and one window per other service."""
    binary = tmux_binary()
    if binary is None:
        raise EnvironmentProblem("tmux is not installed", hint=install_hint())
    import libtmux
    from libtmux.constants import PaneDirection
    from libtmux.exc import LibTmuxException

    server = libtmux.Server(socket_name=spec.socket, config_file=NO_CONFIG, tmux_bin=binary)
    if server.is_alive():
        raise EnvironmentProblem(f"a tmux server is already running on socket {spec.socket}")
    saved_tmux = os.environ.pop("TMUX", None)  # a nested server must not think it is nested
    try:
        session = server.new_session(
            session_name=SESSION_NAME,
            window_name="shell",
            window_command=spec.shell_command,
            x=spec.columns,
            y=spec.rows,
            environment=spec.environment or None,
        )
        _configure(server, spec)
        window = session.windows[0]
        shell_pane = window.panes[0]
        hud_pane = window.split(
            direction=PaneDirection.Right,
            shell=spec.hud_command,
            size=hud_width(spec.columns),
            environment=spec.environment or None,
        )
        _keep_hud_width(server, str(hud_pane.pane_id), hud_width(spec.columns))
        for extra in spec.windows:
            session.new_window(window_name=extra.name, window_shell=extra.command, attach=False,
                               environment=spec.environment or None)
        window.select()
        shell_pane.select()
    except BaseException as exc:
        # Whatever stops the layout half-way (a tmux error, a bug, Ctrl-C or SIGTERM turned into an
        # exception), the caller gets no Workspace to kill: the server, already running the shell
        # and the HUD, must go here or it outlives replaybook run.
        _kill_server(server)
        if isinstance(exc, LibTmuxException):
            raise EnvironmentProblem(f"tmux could not lay out the workspace: {exc}") from exc
        raise
    finally:
        if saved_tmux is not None:
            os.environ["TMUX"] = saved_tmux
    return Workspace(server, session, str(shell_pane.pane_id), str(hud_pane.pane_id))


def _kill_server(server: libtmux.Server) -> None:
    with contextlib.suppress(Exception):
        if server.is_alive():
            server.kill()
    # tmux 3.3 leaves its socket file behind when the server goes; nothing answers on it.
    with contextlib.suppress(OSError):
        socket_path(str(server.socket_name)).unlink(missing_ok=True)


def _configure(server: libtmux.Server, spec: WorkspaceSpec) -> None:
    settings = {
        "status-left": spec.status_left,
        "status-left-length": "40",
        "status-right": spec.status_right,
        "status-right-length": "60",
        "escape-time": "10",  # the default 500 ms makes Esc in vi inside the shell feel broken
        "history-limit": "20000",
        "mouse": "on",  # click to focus a pane, scroll the history
        # What runs in a pane is a scenario's container: it must not reach the terminal around
        # tmux, whatever the user's own tmux.conf says. Its OSC 52 never sets the outer
        # clipboard (a paste would run its text on the host; "external" still lets the
        # trainee's own copy-mode selections through), no pass-through of raw sequences, no
        # renaming of windows, no title of the outer terminal.
        "set-clipboard": "external",
        "allow-passthrough": "off",
        "allow-rename": "off",
        "set-titles": "off",
    }
    for option, value in settings.items():
        server.cmd("set-option", "-g", option, value)
    for key, command in spec.key_bindings.items():
        server.cmd("bind-key", key, "run-shell", "-b", command)


def _keep_hud_width(server: libtmux.Server, hud_pane: str, width: int) -> None:
    """tmux shares a resize out among panes; the HUD is put back to its width after each one."""
    resize = f"resize-pane -t {hud_pane} -x {width}"
    for hook in ("client-attached", "client-resized", "window-resized"):
        server.cmd("set-hook", "-g", hook, resize)


def server_command(socket: str, *args: str) -> str:
    """A shell command line that runs a tmux command against ``socket`` (for bindings, panes)."""
    return shlex.join([tmux_binary() or "tmux", "-L", socket, *args])
