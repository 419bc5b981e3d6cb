"""A browser terminal's transcript, recorded by the server itself as asciicast v2 (what
``asciinema rec`` writes for a local window, and ``replaybook replay`` plays).

The file is written with the installed asciinema package's own v2 writer (its header, its JSON
lines, its incremental UTF-8 decoding of output split mid-character): the format is asciinema's,
so asciinema writes it. A shell opened again on a later visit appends, its events going on from
the recording's last moment, as ``asciinema rec --append`` does.
"""

from __future__ import annotations

import time
from contextlib import suppress
from pathlib import Path
from typing import Any

from asciinema.asciicast import v2

# The shell's terminal as the engine makes it (docker exec -t sets TERM=xterm).
RECORDED_ENV = {"SHELL": "sh", "TERM": "xterm"}


class CastRecorder:
    """Output events into ``path``; a write that fails ends the recording, never the terminal."""

    def __init__(self, path: Path, *, cols: int, rows: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        appending = path.is_file() and path.stat().st_size > 0
        self._offset = _duration(path) if appending else 0.0
        metadata = {"timestamp": int(time.time()), "env": dict(RECORDED_ENV)}
        self._writer: Any = v2.writer(str(path), metadata, appending, width=cols, height=rows)
        self._writer.__enter__()
        self._began = time.monotonic()

    def output(self, data: bytes) -> None:
        if self._writer is None:
            return
        try:
            self._writer.write_stdout(self._offset + time.monotonic() - self._began, data)
        except (OSError, ValueError):
            self.close()

    def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            with suppress(OSError, ValueError):
                writer.__exit__(None, None, None)


def _duration(path: Path) -> float:
    """The recording's last moment (its last output event), 0 when it cannot be read."""
    try:
        return float(v2.get_duration(str(path)) or 0.0)
    except Exception:  # noqa: BLE001 - a damaged recording is appended to from 0
        return 0.0
