"""A recorded shell played back safely: the mentor's terminal gets the picture, not the commands.

A transcript is what a scenario's container printed, so it may carry sequences that act on
the terminal showing it rather than draw on it: OSC 52 (writes the clipboard), OSC 0/2
(titles), OSC 8 (links that say one thing and open another), DCS/SOS/PM/APC strings (terminal
passthroughs) and CSI ``t`` window operations (some report the title back as typed input).
Playback keeps everything that draws — text, colours, cursor movement — and drops those.
:func:`inert` (libreplay/core/text.py) is the wrong tool here: it removes every sequence.

A sequence may be split across two events of the recording, so the filter keeps its state
from one event to the next.

:func:`transcript_for` finds a recording (a window of a session's, or a file named),
:func:`recorded_windows` lists a session's, :func:`play_back` plays one through that filter
with asciinema. Every window of the workspace is recorded (docs/terminal.md): the trainee's
shell (window 0, ``shell``) and each other service's window, named by its service.
"""

from __future__ import annotations

import json
import sys
import tempfile
from enum import Enum, auto
from pathlib import Path

from libreplay.core.errors import InvalidInput, NotFound
from libreplay.core.paths import WINDOW_NAME, transcript_path
from libreplay.core.proc import interactive

ESC = "\x1b"
BEL = "\x07"
STRING_STARTS = "]PX^_"  # after ESC: OSC, DCS, SOS, PM, APC
STRING_STARTS_8BIT = "\x9d\x90\x98\x9e\x9f"
STRING_END_8BIT = "\x9c"
CSI_8BIT = "\x9b"
CANCEL, SUBSTITUTE = "\x18", "\x1a"
ABANDON = ESC + CANCEL + SUBSTITUTE  # they end a control sequence unfinished
# Control sequences that draw: SGR, cursor moves and position, erase, insert and delete,
# scrolling and its region, cursor save/restore and style, modes (alternate screen, cursor
# visibility). Left out: window operations (`t`, which can report the title back as typed
# input), device reports (`n`, `c`) and everything else a recording has no need of.
DRAWING_FINALS = frozenset("mHfABCDEFGdea`JKXP@LMSTrsuhl")
# DEC private modes a recording may switch: alternate screen, cursor keys, autowrap, cursor
# blink and visibility, bracketed paste. Mouse reporting and the like would outlive playback.
DRAWING_PRIVATE_MODES = frozenset({"1", "7", "12", "25", "47", "1047", "1048", "1049", "2004"})


class _State(Enum):
    TEXT = auto()
    ESCAPE = auto()  # after ESC
    STRING = auto()  # inside OSC/DCS/SOS/PM/APC: dropped until BEL or ST
    STRING_ESCAPE = auto()  # ESC inside a string: ST if a backslash follows
    CSI = auto()  # collecting a control sequence to its final byte


class PlaybackFilter:
    """Feed the output of each event in order; each call returns what may reach the terminal."""

    def __init__(self) -> None:
        self.state = _State.TEXT
        self.pending = ""  # an escape or control sequence whose end has not been seen yet

    def feed(self, text: str) -> str:
        kept: list[str] = []
        for char in text:
            kept.append(self._step(char))
        return "".join(kept)

    def _step(self, char: str) -> str:  # noqa: PLR0911 - one return per state and byte
        state = self.state
        if state is _State.STRING:
            if char in (BEL, STRING_END_8BIT, CANCEL, SUBSTITUTE):  # CAN and SUB end it as well
                self.state = _State.TEXT
            elif char == ESC:
                self.state = _State.STRING_ESCAPE
            return ""
        if state is _State.STRING_ESCAPE:
            self.state = _State.TEXT
            return "" if char == "\\" else self._step_text(ESC) + self._step(char)
        if state is _State.ESCAPE:
            if char == ESC:  # a terminal drops the unfinished escape and starts anew
                return ""
            self.state = _State.TEXT
            if char == "\\":  # a string terminator with no string: nothing to draw
                return ""
            if char in STRING_STARTS:
                self.state = _State.STRING
                return ""
            if char == "[":
                self.state, self.pending = _State.CSI, ESC + "["
                return ""
            return ESC + char
        if state is _State.CSI:
            return self._step_csi(char)
        return self._step_text(char)

    def _step_text(self, char: str) -> str:
        if char == ESC:
            self.state = _State.ESCAPE
            return ""
        if char in STRING_STARTS_8BIT:
            self.state = _State.STRING
            return ""
        if char == CSI_8BIT:
            self.state, self.pending = _State.CSI, ESC + "["
            return ""
        return char

    def _step_csi(self, char: str) -> str:
        """A terminal's own parser: ESC, CAN, SUB or a C1 control abandon the sequence (and ESC
        or C1 start a new one); any other C0 control is carried out on the spot while the
        sequence goes on; the final byte decides whether it is kept."""
        code = ord(char)
        if 0x20 <= code <= 0x3F:  # parameter and intermediate bytes
            self.pending += char
            return ""
        if char in ABANDON or 0x80 <= code <= 0x9F:
            self.state, self.pending = _State.TEXT, ""
            return "" if char in ABANDON and char != ESC else self._step_text(char)
        if code < 0x20:
            return char
        self.state = _State.TEXT
        sequence, self.pending = self.pending + char, ""
        return sequence if _draws(sequence) else ""


def _draws(sequence: str) -> bool:
    """A whole CSI sequence (``ESC [`` … final) that only draws."""
    body, final = sequence[2:-1], sequence[-1]
    if body.endswith(" ") and final == "q":
        return body[:-1].isdigit() or body == " "
    if any(c in body for c in "<=>") or any(0x20 <= ord(c) <= 0x2F for c in body):
        return False  # private markers and intermediates: queries, keyboard and mode protocols
    if body.startswith("?"):
        return final in "hl" and all(mode in DRAWING_PRIVATE_MODES for mode in body[1:].split(";"))
    return final in DRAWING_FINALS


def filtered_copy(source: Path, dest: Path) -> None:
    """Write ``source`` (asciicast v2) to ``dest`` with every output event filtered."""
    playback = PlaybackFilter()
    with (
        source.open(encoding="utf-8", errors="replace") as reader,
        dest.open("w", encoding="utf-8") as writer,
    ):
        writer.write(reader.readline())  # the header, checked by the caller
        for line in reader:
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a damaged line (a recording cut off mid-write) is skipped
            if not (isinstance(event, list) and len(event) == 3 and isinstance(event[2], str)):
                continue
            if event[1] == "o":
                event[2] = playback.feed(event[2])
            writer.write(json.dumps(event) + "\n")


# -- finding and playing a recording ----------------------------------------------------------


MAIN_WINDOW = "shell"  # window 0, the trainee's shell, as tmux names it


def transcript_for(name: str, window: str = MAIN_WINDOW) -> Path:
    """A .cast path as given, else the recording of one window of the session with that id:
    the trainee's shell, or the window of the service called ``window``."""
    given = Path(name).expanduser()
    if name.endswith(".cast") or given.is_file():
        if window != MAIN_WINDOW:
            raise InvalidInput("--window: only with a session id (a .cast file is one recording)")
        if not given.is_file():
            raise NotFound(f"{given}: no such transcript file")
        check_asciicast(given)
        return given
    cast = _window_path(name, window)
    if not cast.is_file():
        if window != MAIN_WINDOW and transcript_path(name).is_file():
            raise NotFound(f"session {name!r} has no recorded window {window!r}",
                           hint=f"`replaybook replay {name} --list` names its windows")
        raise NotFound(
            f"no transcript for session {name!r} (looked for {cast})",
            hint="only sessions started with `replaybook run` are recorded",
        )
    check_asciicast(cast)
    return cast


def _window_path(session_id: str, window: str) -> Path:
    return transcript_path(session_id) if window == MAIN_WINDOW else transcript_path(session_id, window)


def recorded_windows(session_id: str) -> dict[str, Path]:
    """Every recorded window of a session, by name: ``shell`` first, then the services' windows
    in name order. Empty when the session was not recorded."""
    found: dict[str, Path] = {}
    main = transcript_path(session_id)
    if main.is_file():
        found[MAIN_WINDOW] = main
    prefix = f"{session_id}."
    directory = main.parent
    names = sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []
    for file_name in names:
        if file_name == main.name or not (file_name.startswith(prefix) and file_name.endswith(".cast")):
            continue
        window = file_name.removeprefix(prefix).removesuffix(".cast")
        if window != MAIN_WINDOW and WINDOW_NAME.fullmatch(window):
            found[window] = directory / file_name
    return found


def check_asciicast(path: Path) -> None:
    """InvalidInput unless the file starts with an asciicast v2 header."""
    try:
        with path.open(encoding="utf-8") as handle:
            header = json.loads(handle.readline() or "null")
    except (UnicodeDecodeError, json.JSONDecodeError):
        header = None
    if not isinstance(header, dict) or header.get("version") != 2:
        raise InvalidInput(f"{path}: not an asciicast v2 recording (first line must be its JSON header)")


def play_back(cast: Path, *, speed: float, idle_limit: float | None) -> int:
    """Play ``cast`` in this terminal (asciinema play) and return its exit status."""
    argv = [sys.executable, "-m", "asciinema", "play", "-s", str(speed)]
    if idle_limit is not None:
        argv += ["-i", str(idle_limit)]
    with tempfile.TemporaryDirectory(prefix="replaybook-replay-") as scratch:
        # What the container printed may act on this terminal (clipboard, title): played filtered.
        safe = Path(scratch) / cast.name
        filtered_copy(cast, safe)
        return interactive([*argv, str(safe)])
