"""The HUD process: draws :func:`render` full-screen and redraws when something changes.

Three things wake the loop, all through the self-pipe of :class:`~replaybook.hud.screen.FullScreen`
(the terminal side, shared with ``replaybook dev``'s console):
  * the next whole second (the SLA countdown),
  * a change of ``session.toml`` (a watchfiles watcher on the session directory, in a thread),
  * a signal: SIGWINCH (re-measure and redraw), SIGTERM/SIGHUP/SIGINT (leave).
The state file is read only when the watcher says it changed; the per-second tick redraws
from the state already in memory. The loop ends when the session directory disappears.
Plain ANSI, no curses or rich: the process stays small (see docs/terminal.md).
"""

from __future__ import annotations

import shutil
import sys
import threading
from typing import TextIO

from libreplay.core import paths
from libreplay.core.errors import ReplayError
from libreplay.core.watch import WatchEvent, follow_directory
from libreplay.session.state import SESSION_FILE, SessionState, load_session, now

from .render import Layout, render
from .screen import FullScreen, paint

__all__ = ["Hud", "paint", "run_hud"]  # paint: the picture of lines, hud/screen.py's


class Hud:
    def __init__(self, session_id: str, layout: Layout, out: TextIO = sys.stdout) -> None:
        self.session_id = session_id
        self.layout = layout
        self.directory = paths.session_dir(session_id)
        self.screen = FullScreen(out)
        self.stop = self.screen.stop  # a stop signal sets it; also the watcher's stop_event
        self.changed = threading.Event()
        self.state: SessionState | None = None
        self.draws = 0

    # -- the loop ------------------------------------------------------------------------

    def run(self) -> None:
        self.state = load_session(self.session_id)  # NotFound if there is no such session
        watcher = threading.Thread(target=self._watch, name="hud-watch", daemon=True)
        with self.screen.shown():
            watcher.start()
            while not self.stop.is_set():
                # A stat of the directory, not a read of the file: the file is only read when
                # the watcher reports a change. This catches a removal the watcher missed.
                if not self.directory.is_dir():
                    break
                if self.changed.is_set():
                    self.changed.clear()
                    if not self._reload():
                        break
                self.draw()
                self._read_keys(self.screen.wait())
            self.stop.set()
        watcher.join(timeout=2)
        self.screen.close()

    def draw(self) -> None:
        assert self.state is not None
        size = shutil.get_terminal_size(fallback=(40, 24))  # re-measured on every draw
        self.screen.draw(render(self.state, now(), size.columns, size.lines, self.layout), size.columns)
        self.draws += 1

    def _reload(self) -> bool:
        """Read the state again; False once the session is gone."""
        if not self.directory.is_dir():
            return False
        try:
            self.state = load_session(self.session_id)
        except ReplayError:
            return self.directory.is_dir()  # removed between the check and the read, or torn
        return True

    # -- the watcher thread --------------------------------------------------------------

    def _watch(self) -> None:
        def wake(_why: WatchEvent) -> None:
            # The first CHANGED, once the watch is in place, also means "read again": a change
            # made between the first read and the watch being set up is not lost. GONE: the
            # loop finds the directory missing.
            self.changed.set()
            self.screen.ring()

        follow_directory(self.directory, wake, self.stop, names={SESSION_FILE})

    # -- keys ----------------------------------------------------------------------------

    def _read_keys(self, keys: str | None) -> None:
        """Keys typed into the HUD are swallowed; standalone, ``q`` or Ctrl-C leaves."""
        if keys and not self.layout.in_tmux and ("q" in keys or "\x03" in keys):
            self.stop.set()


def run_hud(session_id: str, layout: Layout) -> int:
    """Run until the session directory disappears or a signal asks to stop; returns draws made."""
    hud = Hud(session_id, layout)
    hud.run()
    return hud.draws
