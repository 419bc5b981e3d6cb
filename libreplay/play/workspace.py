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

The caller describes what runs where as argv lists (:class:`WorkspaceSpec`); the shell command
lines tmux needs are written here only, each word quoted with :func:`shlex.join`.
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
from libreplay.core.text import inert

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


Argv = tuple[str, ...]

GOOD_NEWS_STYLE = "bg=green,fg=black,bold"
BAD_NEWS_STYLE = "bg=red,fg=white,bold"
REFUSAL_SHOWN_MS = 3000  # a key's refusal stays up long enough to read


@dataclass(frozen=True)
class ExtraWindow:
    """A window of its own, running ``command``; when it ends, Enter runs it again."""

    name: str
    command: Argv


@dataclass(frozen=True)
class WorkspaceSpec:
    """What to lay out; every command is an argv list.

    ``shell`` runs in the left pane of window 0 and leaving it ends the workspace; ``hud`` runs
    in the right pane. ``key_bindings`` maps a key (after the prefix) to a command run in the
    background; when it fails, what it said on stderr is shown as a tmux message.
    """

    socket: str
    shell: Argv
    hud: Argv
    windows: tuple[ExtraWindow, ...] = ()
    key_bindings: dict[str, Argv] = field(default_factory=dict)
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

    def announce(self, text: str, *, style: str = GOOD_NEWS_STYLE) -> None:
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
            window_command=shell_then(spec.shell, end=server_argv(spec.socket, "kill-session", "-t",
                                                                  SESSION_NAME)),
            x=spec.columns,
            y=spec.rows,
            environment=spec.environment or None,
        )
        _configure(server, spec)
        window = session.windows[0]
        shell_pane = window.panes[0]
        hud_pane = window.split(
            direction=PaneDirection.Right,
            shell=shlex.join(spec.hud),
            size=hud_width(spec.columns),
            environment=spec.environment or None,
        )
        _keep_hud_width(server, str(hud_pane.pane_id), hud_width(spec.columns))
        for extra in spec.windows:
            session.new_window(window_name=extra.name, window_shell=reopening(extra.command, extra.name),
                               attach=False, environment=spec.environment or None)
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
    display = server_argv(spec.socket, "display-message", "-d", str(REFUSAL_SHOWN_MS), "--")
    for key, command in spec.key_bindings.items():
        server.cmd("bind-key", key, "run-shell", "-b", refusal_shown(command, display))


def _keep_hud_width(server: libtmux.Server, hud_pane: str, width: int) -> None:
    """tmux shares a resize out among panes; the HUD is put back to its width after each one."""
    resize = f"resize-pane -t {hud_pane} -x {width}"
    for hook in ("client-attached", "client-resized", "window-resized"):
        server.cmd("set-hook", "-g", hook, resize)


def server_argv(socket: str, *args: str) -> Argv:
    """A tmux command against ``socket`` (for the shell pane's end and the key bindings)."""
    return (tmux_binary() or "tmux", "-L", socket, *args)


# -- the command lines tmux runs (with sh -c) -------------------------------------------------


def shell_then(shell: Argv, *, end: Argv) -> str:
    """The shell pane's command: run ``shell``, then ``end`` (which closes the workspace).

    When the shell fails, its error would vanish with the pane at once: the message stays
    on screen until Enter. Run with ``sh -c`` whatever the trainee's login shell (tmux runs a
    pane's command with it). Ctrl-C at the prompt is ignored so it cannot skip ``end``.
    """
    notice = r"\n[replay-shell ended with exit status %s; its message is above. Enter ends the session.]\n"
    script = (
        f"{shlex.join(shell)}; code=$?; "
        f"if [ \"$code\" -ne 0 ]; then trap '' INT; printf {shlex.quote(notice)} \"$code\"; read _; fi; "
        f"{shlex.join(end)}"
    )
    return shlex.join(["sh", "-c", script])


def refusal_shown(command: Argv, display: Argv) -> str:
    """A key's command: run ``command``; when it refuses or fails, show its own words.

    Success says nothing (what ``C-b h`` reveals shows in the HUD, and a tmux message would
    freeze the HUD's redraws while it is up). ``display`` gets the message as its last
    argument; tmux reads ``#`` in it as a format, so each is doubled.
    """
    failed = shlex.quote(f"{Path(command[0]).name} failed")  # when it said nothing at all
    said = r'"$(printf %s "${said:-$failed}" | tr "\n" " " | sed "s/#/##/g")"'
    return f"failed={failed}; said=$({shlex.join(command)} 2>&1 >/dev/null) || {shlex.join(display)} {said}"


def reopening(command: Argv, name: str) -> str:
    """A window's command that offers to run ``command`` again after it ends."""
    prompt = shlex.quote(f"[{inert(name, keep_newlines=False)}: shell ended. Enter reopens it.]")
    return f"while :; do {shlex.join(command)}; printf '%s\\n' {prompt}; read _ || break; done"
