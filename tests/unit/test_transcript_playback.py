"""Playback of a recorded shell: what draws reaches the mentor's terminal, what acts on it does not."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from libreplay.play.transcripts import PlaybackFilter, filtered_copy

RED = "\x1b[31m"
RESET = "\x1b[0m"


@pytest.mark.parametrize(
    ("chunks", "shown"),
    [
        ([f"{RED}error{RESET} at \x1b[2;5Hline"], f"{RED}error{RESET} at \x1b[2;5Hline"),
        (["a\x1b]52;c;ZWNobyBwd25lZA==\x07b"], "ab"),  # clipboard write, BEL-terminated
        (["a\x1b]0;pwned\x1b\\b"], "ab"),  # title, ST-terminated
        (["a\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\b"], "alinkb"),  # a hyperlink's target
        (["a\x1bPtmux;\x1b\x1b]52;c;x\x07\x1b\\b"], "ab"),  # DCS passthrough
        (["a\x9d52;c;x\x9cb", "\x9b31mc"], f"ab{RED}c"),  # 8-bit OSC; 8-bit CSI made 7-bit
        (["a\x1b[21tb", "\x1b[8;100;100t"], "ab"),  # report the title, resize the window
        (["a\x1b]52;c;ZWNo", "byBwd25lZA==\x07b"], "ab"),  # split across two events
        (["a\x1b", "[31mb\x1b", "]0;t\x07c"], f"a{RED}bc"),  # escapes split at their first byte
        (["keep \x1b(B\x1b7 and \x1b8"], "keep \x1b(B\x1b7 and \x1b8"),
        (["a\x1b[\x1b]52;c;eA==\x07b"], "ab"),  # ESC inside a CSI starts a new sequence
        (["a\x1b[\x9d52;c;eA==\x9cb"], "ab"),  # so does a C1 introducer
        (["a\x1b[2\r1tb"], "a\rb"),  # a C0 control inside a CSI runs, the sequence goes on
        (["a\x1b[6n\x1b[cb"], "ab"),  # device reports the terminal would answer as typed input
        (["a\x1b[3\x18m"], "am"),  # CAN abandons the sequence; what follows is text
        (["\x1b[?1049h\x1b[2J\x1b[1;1H\x1b[?25l\x1b[2 q"], "\x1b[?1049h\x1b[2J\x1b[1;1H\x1b[?25l\x1b[2 q"),
        (["a\x1b]0;x\x18 rm -rf /important"], "a rm -rf /important"),  # CAN ends a string: nothing hides
        (["a\x1b]0;x\x1a!b"], "a!b"),  # so does SUB
        (["a\x1b[>q\x1b[?1000h\x1b[>1u\x1b[>4;2m\x1b[?1049;1000hb"], "ab"),  # queries, mouse, keyboard
    ],
)
def test_the_filter_keeps_drawing_and_drops_acting(chunks: list[str], shown: str) -> None:
    playback = PlaybackFilter()
    assert "".join(playback.feed(chunk) for chunk in chunks) == shown


def write_cast(path: Path, outputs: list[str]) -> None:
    header = {"version": 2, "width": 80, "height": 24}
    lines = [json.dumps(header)] + [json.dumps([0.01 * i, "o", text]) for i, text in enumerate(outputs)]
    path.write_text("\n".join(lines) + "\nnot json\n[1, 2]\n", encoding="utf-8")


def test_a_filtered_copy_keeps_timing_and_skips_damaged_lines(tmp_path: Path) -> None:
    source, dest = tmp_path / "s.cast", tmp_path / "d.cast"
    write_cast(source, ["one\x1b]52;c;", "eA==\x07two"])
    filtered_copy(source, dest)
    lines = dest.read_text().splitlines()
    assert json.loads(lines[0])["version"] == 2
    assert [json.loads(line) for line in lines[1:]] == [[0.0, "o", "one"], [0.01, "o", "two"]]


def test_replay_plays_a_transcript_without_its_clipboard_and_title_sequences(tmp_path: Path) -> None:
    """The real executable in a pty, as a mentor runs it."""
    cast = tmp_path / "s.cast"
    write_cast(cast, [f"{RED}red text{RESET}\r\n", "\x1b]52;c;ZWNobyBwd25lZA==\x07",
                      "\x1b]0;pwned\x07done\r\n"])
    main_fd, pty_fd = os.openpty()
    executable = Path(sys.executable).with_name("replay-replay")
    child = subprocess.Popen([str(executable), str(cast), "--speed", "10"], stdin=pty_fd, stdout=pty_fd,
                             stderr=pty_fd, close_fds=True)
    os.close(pty_fd)
    received = b""
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline and child.poll() is None:
            if select.select([main_fd], [], [], 0.1)[0]:
                try:
                    received += os.read(main_fd, 65536)
                except OSError:
                    break
        assert child.wait(timeout=10) == 0
    finally:
        if child.poll() is None:
            child.kill()
        os.close(main_fd)
    assert b"red text" in received and b"done" in received and RED.encode() in received
    assert b"\x1b]52;" not in received and b"\x1b]0;" not in received and b"pwned" not in received
