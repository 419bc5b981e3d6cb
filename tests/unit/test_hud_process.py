"""The real replay-hud process on a pseudo-terminal: it draws, redraws on a state change,
and leaves cleanly when the session directory disappears or on SIGTERM/SIGHUP."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from libreplay.core import paths
from libreplay.session import state as st

HUD = str(Path(sys.executable).with_name("replay-hud"))


def make_session(session_id: str = "hudproc1") -> st.SessionState:
    state = st.SessionState(
        id=session_id, scenario="demo", pack="official", scenario_dir="/nowhere",
        project=st.project_name(session_id), status=st.ACTIVE, title="Demo outage",
        page="users see 502s", services=["web"], shell_service="web", hints_total=2,
        sla_seconds=600, started_at=st.now(), deadline=st.now() + timedelta(seconds=600),
    )
    st.save_new_session(state)
    return state


class PtyProcess:
    def __init__(self, argv: list[str], columns: int = 40, rows: int = 30) -> None:
        self.master, slave = pty.openpty()
        self.resize(columns, rows)
        env = dict(os.environ, REPLAYBOOK_NO_ORPHAN_NOTICE="1")
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                     start_new_session=True)
        os.close(slave)
        self.output = b""

    def resize(self, columns: int, rows: int) -> None:
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))

    def read_until(self, needle: bytes, timeout: float = 10.0) -> bytes:
        start = len(self.output)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.output[start:]:
                return self.output[start:]
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:
                    break
        raise AssertionError(f"{needle!r} not seen; got {self.output[start:][-2000:]!r}")

    def wait(self, timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            select.select([self.master], [], [], 0.1)
            with contextlib.suppress(OSError):
                self.output += os.read(self.master, 65536)  # drained, so the child never blocks
            code = self.proc.poll()
            if code is not None:
                return code
        raise AssertionError("the HUD did not exit")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


@pytest.fixture
def hud() -> Iterator[PtyProcess]:
    make_session()
    process = PtyProcess([HUD, "hudproc1"])
    yield process
    process.close()


def test_draws_redraws_on_change_and_leaves_when_the_session_goes(hud: PtyProcess) -> None:
    hud.read_until(b"STATUS: ACTIVE")
    changed_at = time.monotonic()
    st.update_session("hudproc1", lambda s: (s.hints_revealed.append("look at the port"),
                                              setattr(s, "hints_used", 1)))
    hud.read_until(b"1. look at the port", timeout=3)
    assert time.monotonic() - changed_at < 1.5  # a change is drawn at once, not on the next poll
    st.update_session("hudproc1", lambda s: setattr(s, "status", st.RESOLVED))
    hud.read_until(b"RESOLVED", timeout=3)
    import shutil

    shutil.rmtree(paths.session_dir("hudproc1"))
    assert hud.wait() == 0
    assert hud.output.rstrip().endswith(b"\x1b[?25h\x1b[?1049l")  # terminal restored


def test_countdown_ticks_every_second(hud: PtyProcess) -> None:
    first = hud.read_until(b"remaining")
    second = hud.read_until(b"remaining", timeout=3)
    assert first != second


def test_resize_is_redrawn_at_the_new_width(hud: PtyProcess) -> None:
    hud.read_until(b"STATUS: ACTIVE")
    hud.resize(16, 30)
    hud.proc.send_signal(signal.SIGWINCH)
    hud.read_until(b"\r\nremaining\x1b[K", timeout=3)  # "SLA: 10:00 remaining" wrapped at 16


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_signals_end_it_cleanly(hud: PtyProcess, signum: int) -> None:
    hud.read_until(b"STATUS: ACTIVE")
    hud.proc.send_signal(signum)
    assert hud.wait() == 0


def test_standalone_q_quits_and_typed_keys_are_not_echoed(hud: PtyProcess) -> None:
    hud.read_until(b"STATUS: ACTIVE")
    os.write(hud.master, b"zz")
    os.write(hud.master, b"q")
    assert hud.wait() == 0
    assert b"zz" not in hud.output


def test_unknown_session_is_a_clear_error() -> None:
    result = subprocess.run([HUD, "nosuch"], check=False, capture_output=True, text=True, timeout=30)
    assert result.returncode == 4
    assert "no session 'nosuch'" in result.stderr
