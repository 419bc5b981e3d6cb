"""One clean-up path for every way a user stops us: Ctrl-C, SIGTERM, closing the terminal.

:func:`handling` is the one place a signal handler is installed and the previous one put back;
everything below, and every process that reacts to signals (the HUD, the run), goes through it.

Inside :func:`signals_raise`, SIGTERM and SIGHUP raise :class:`Interrupted` (SIGINT raises
KeyboardInterrupt as usual), so ``except BaseException`` clean-up blocks run for all of them.
:func:`shielded` defers those signals while clean-up itself runs, so a second Ctrl-C cannot
cut a teardown in half; a deferred signal is re-raised once the shield lifts.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import FrameType
from typing import Any

from libreplay.core.errors import Interrupted

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


Handler = Callable[[int], None] | signal.Handlers  # a function of the signal, or SIG_IGN / SIG_DFL


@contextmanager
def handling(handlers: Mapping[int, Handler]) -> Iterator[None]:
    """Install ``handlers`` (signal -> function of the signal number) while the block runs, and put
    back what was there before. Python runs handlers in the main thread only: elsewhere this is
    a no-op, and the main thread keeps its own."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _python_handler(handler)) for sig, handler in handlers.items()}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _python_handler(handler: Handler) -> Any:
    if isinstance(handler, signal.Handlers):
        return handler

    def call(signum: int, _frame: FrameType | None) -> None:
        handler(signum)

    return call


def _raise_interrupted(signum: int) -> None:
    raise Interrupted(signum)


@contextmanager
def signals_raise() -> Iterator[None]:
    """Turn SIGINT/SIGTERM/SIGHUP into Interrupted while the block runs (main thread only)."""
    with handling(dict.fromkeys(STOP_SIGNALS, _raise_interrupted)):
        yield


@contextmanager
def shielded() -> Iterator[None]:
    """Defer stop signals until the block is done (used around teardown)."""
    received: list[int] = []
    try:
        with handling(dict.fromkeys(STOP_SIGNALS, received.append)):
            yield
    finally:
        if received:
            raise Interrupted(received[0])


def as_interrupted(exc: BaseException) -> BaseException:
    """KeyboardInterrupt becomes Interrupted(SIGINT); anything else is returned unchanged."""
    if isinstance(exc, KeyboardInterrupt):
        return Interrupted(signal.SIGINT)
    return exc
