"""libreplay.core.terminal: raw mode on a real pseudo-terminal, restored on every path; with
``signals_raise``, the stop signals' handler restores the terminal before it raises."""

from __future__ import annotations

import os
import signal
import termios
from collections.abc import Iterator

import pytest

from libreplay.core.errors import Interrupted
from libreplay.core.terminal import raw_mode, restore_mode, saved_mode

LINE_EDITING = termios.ICANON | termios.ECHO | termios.ISIG


@pytest.fixture
def far() -> Iterator[int]:
    """The far end of a pseudo-terminal (what a program's stdin would be)."""
    near, far = os.openpty()
    try:
        yield far
    finally:
        os.close(far)
        os.close(near)


def lflag(fd: int) -> int:
    return int(termios.tcgetattr(fd)[3])


def test_raw_inside_restored_after(far: int) -> None:
    before = termios.tcgetattr(far)
    assert lflag(far) & LINE_EDITING
    with raw_mode(far):
        assert not lflag(far) & LINE_EDITING
    assert termios.tcgetattr(far) == before


def test_restored_when_the_block_fails(far: int) -> None:
    before = termios.tcgetattr(far)
    with pytest.raises(RuntimeError), raw_mode(far):
        raise RuntimeError("boom")
    assert termios.tcgetattr(far) == before


def test_keys_typed_before_are_discarded_only_when_asked() -> None:
    near, far = os.openpty()
    try:
        os.write(near, b"x")  # typed before: thrown away
        with raw_mode(far, discard_typed=True):
            os.write(near, b"y")
            assert os.read(far, 16) == b"y"
        os.write(near, b"z")  # typed before, kept when not asked to discard
        with raw_mode(far):
            assert os.read(far, 16) == b"z"
    finally:
        os.close(far)
        os.close(near)


def test_a_stop_signal_raises_with_the_terminal_already_restored(far: int) -> None:
    before = termios.tcgetattr(far)
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as stopped, raw_mode(far, signals_raise=True):
        handler = signal.getsignal(signal.SIGTERM)
        assert callable(handler)
        try:
            handler(signal.SIGTERM, None)  # as Python runs it, whatever step the block is at
        except Interrupted:
            assert termios.tcgetattr(far) == before  # restored by the handler, before the clean-up
            raise
    assert stopped.value.signum == signal.SIGTERM
    assert termios.tcgetattr(far) == before
    assert signal.getsignal(signal.SIGTERM) == previous


def test_a_real_signal_in_the_block(far: int) -> None:
    before = termios.tcgetattr(far)
    with pytest.raises(Interrupted), raw_mode(far, signals_raise=True):
        os.kill(os.getpid(), signal.SIGHUP)
        signal.sigtimedwait([], 0)  # let the handler run (a step of Python is enough)
    assert termios.tcgetattr(far) == before


def test_saved_and_restored_by_halves(far: int) -> None:
    mode = saved_mode(far)
    assert mode is not None
    with raw_mode(far):
        restore_mode(far, mode)
        assert lflag(far) & LINE_EDITING
    assert saved_mode(-1) is None
    restore_mode(-1, mode)  # no terminal: nothing to do, no error
    restore_mode(far, None)
