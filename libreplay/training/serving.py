"""One run of ``replaybook serve``: its facilitator token and its training day.

The facilitator token lives only in this process, as its hash (the URL printed once carries
it): it dies with the server, and with it every session the server started (:meth:`stop`).
"""

from __future__ import annotations

from collections.abc import Callable

from libreplay.core.signals import shielded
from libreplay.training.day import TrainingDay
from libreplay.training.engine import LifecycleEngine, SessionEngine
from libreplay.training.model import new_token, token_hash


class Serving:
    def __init__(self, *, max_sessions: int, engine: SessionEngine | None = None,
                 say: Callable[[str], None] | None = None) -> None:
        """``say``: a line for the facilitator at the server's terminal (a session's watcher failed)."""
        self.token = new_token()
        self.token_hash = token_hash(self.token)
        self.day = TrainingDay(engine if engine is not None else LifecycleEngine(say=say),
                               max_sessions=max_sessions)

    def stop(self) -> list[str]:
        """Tear down every session this server started (a second Ctrl-C waits for it)."""
        with shielded():
            return self.day.shutdown()
