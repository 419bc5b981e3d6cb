"""One run of ``replaybook serve``: its facilitator token and its training day.

The facilitator token lives only in this process, as its hash (the URL printed once carries
it): it dies with the server, and with it every session the server started (:meth:`stop`).
What a server killed without that clean-up left behind, the next one tears down at its start
(:meth:`tear_down_left_behind`, libreplay/training/leftovers.py).
"""

from __future__ import annotations

from collections.abc import Callable

from libreplay.core.signals import shielded
from libreplay.training.day import DEFAULT_IDLE_MINUTES, TrainingDay
from libreplay.training.engine import LifecycleEngine, SessionEngine
from libreplay.training.leftovers import LeftBehind, tear_down_left_behind
from libreplay.training.model import new_token, token_hash


class Serving:
    def __init__(self, *, max_sessions: int, idle_minutes: int = DEFAULT_IDLE_MINUTES,
                 engine: SessionEngine | None = None, say: Callable[[str], None] | None = None) -> None:
        """``say``: a line for the facilitator at the server's terminal (a session's watcher failed)."""
        self.token = new_token()
        self.token_hash = token_hash(self.token)
        self.day = TrainingDay(engine if engine is not None else LifecycleEngine(say=say),
                               max_sessions=max_sessions, idle_minutes=idle_minutes)

    def tear_down_left_behind(self) -> list[LeftBehind]:
        """The sessions a server that went away (SIGKILL) left on this home, torn down."""
        return tear_down_left_behind()

    def stop(self) -> list[str]:
        """Tear down every session this server started (a second Ctrl-C waits for it)."""
        with shielded():
            return self.day.shutdown()
