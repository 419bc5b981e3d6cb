"""One clean-up path for every way a user stops us: Ctrl-C, SIGTERM, closing the terminal.

Inside :func:`signals_raise`, SIGTERM and SIGHUP raise :class:`Interrupted` (SIGINT raises
KeyboardInterrupt as usual), so ``except BaseException`` clean-up blocks run for all of them.
:func:`shielded` defers those signals while clean-up itself runs, so a second Ctrl-C cannot
cut a teardown in half; a deferred signal is re-raised once the shield lifts.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from libreplay.core.errors import Interrupted

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _raise_interrupted(signum: int, _frame: FrameType | None) -> None:
    raise Interrupted(signum)


@contextmanager
def signals_raise() -> Iterator[None]:
    """Turn SIGINT/SIGTERM/SIGHUP into Interrupted while the block runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig in STOP_SIGNALS:
        signal.signal(sig, _raise_interrupted)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def shielded() -> Iterator[None]:
    """Defer stop signals until the block is done (used around teardown)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig in STOP_SIGNALS:
        signal.signal(sig, lambda signum, _frame: received.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if received:
            raise Interrupted(received[0])


def as_interrupted(exc: BaseException) -> BaseException:
    """KeyboardInterrupt becomes Interrupted(SIGINT); anything else is returned unchanged."""
    if isinstance(exc, KeyboardInterrupt):
        return Interrupted(signal.SIGINT)
    return exc
