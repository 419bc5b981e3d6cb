"""The one way a terminal's mode is saved, put in raw mode and restored: the HUD and the
author's console (hud/screen.py), run's one-key question (commands/run.py) and the play's steps
around the shell recorder (libreplay/play/steps.py).

:func:`raw_mode` is the context manager; :func:`saved_mode` and :func:`restore_mode` are its
halves, for a mode kept across calls (the steps save the trainee's terminal once, and restore it
after each child that may have left it raw).
"""

from __future__ import annotations

import contextlib
import termios
import tty
from collections.abc import Iterator
from typing import Any

from libreplay.core.errors import Interrupted
from libreplay.core.signals import STOP_SIGNALS, Handler, handling

Mode = list[Any]  # what termios.tcgetattr gives


def saved_mode(fd: int) -> Mode | None:
    """``fd``'s terminal mode, or None when it is no terminal (or already closed)."""
    try:
        return termios.tcgetattr(fd)
    except (termios.error, ValueError, OSError):
        return None


def restore_mode(fd: int, mode: Mode | None) -> None:
    """Put ``mode`` back on ``fd``, at once: never waiting on output (a terminal that does not
    drain, or a pane gone, must not hang a clean-up), and never failing over a terminal gone."""
    if mode is not None:
        with contextlib.suppress(termios.error, ValueError, OSError):
            termios.tcsetattr(fd, termios.TCSANOW, mode)


@contextlib.contextmanager
def raw_mode(fd: int, *, discard_typed: bool = False, signals_raise: bool = False) -> Iterator[None]:
    """``fd`` in raw mode while the block runs (no line editing, no echo, Ctrl-C a key), and its
    mode as before on leaving it, whatever ends the block.

    ``discard_typed``: keys typed before raw mode are thrown away (they were typed for something
    else: an Enter pressed during a teardown is no answer to the question that follows).
    ``signals_raise``: SIGINT, SIGTERM and SIGHUP raise :class:`Interrupted` in the block, and
    their handler restores the terminal first. A handler runs between any two steps of Python,
    those of the clean-up included, so a signal that came as the block was left could otherwise
    raise before the mode was put back; the handlers are there before raw mode is set and until
    the mode is restored.
    """
    saved = termios.tcgetattr(fd)

    def restore_then_raise(signum: int) -> None:
        restore_mode(fd, saved)
        raise Interrupted(signum)

    handlers: dict[int, Handler] = dict.fromkeys(STOP_SIGNALS, restore_then_raise) if signals_raise else {}
    with handling(handlers):
        try:
            if discard_typed:
                termios.tcflush(fd, termios.TCIFLUSH)
            tty.setraw(fd, termios.TCSANOW)
            yield
        finally:
            restore_mode(fd, saved)
