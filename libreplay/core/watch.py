"""The one watch loop: a directory followed with watchfiles, for the watcher, the HUD and the
run (a session directory) and for ``replaybook dev`` (the author's scenario directory).

:func:`follow_directory` calls ``notify`` with what happened, from the thread it runs in:

- ``CHANGED`` once the watch is in place (so a change made between a caller's first read and
  the watch starting is never lost), then after every change of a file it cares about;
- ``TICK`` when ``tick_seconds`` passed with no change (for callers that also poll something
  no file tells them, such as a child process);
- ``GONE`` once, when the directory is removed (the session was torn down).

It returns when ``stop`` is set or the directory is gone. By default only the directory itself
is watched, never below it: a session's ``scenario/`` copy is the scripts' to change and must not
wake anyone. ``recursive`` follows the whole tree (a scenario's ``faults/``, its build context);
then anything under a dot-directory (``.git``) is ignored too. Dot-files (the atomic writer's
temporary files and the locks, an editor's swap files) never count as changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Container
from enum import Enum
from pathlib import Path


class WatchEvent(Enum):
    CHANGED = "changed"
    TICK = "tick"
    GONE = "gone"


DEBOUNCE_MS = 50  # changes closer than this arrive as one
STEP_MS = 50  # how often the watch looks for a stop between changes
ARMED_AFTER_MS = 1000  # an empty first batch after this long: the watch is in place


def follow_directory(
    directory: Path,
    notify: Callable[[WatchEvent], None],
    stop: threading.Event,
    *,
    names: Container[str] | None = None,
    tick_seconds: float | None = None,
    recursive: bool = False,
) -> None:
    """Follow ``directory`` until ``stop`` is set or it disappears (see the module's text).

    ``names`` limits the files that count (e.g. only ``session.toml``); by default every file
    whose name does not start with a dot. ``recursive``: changes anywhere below count too,
    except under a directory whose name starts with a dot.
    """
    from watchfiles import Change, watch

    def relevant(_change: Change, path: str) -> bool:
        name = Path(path).name
        if recursive and _under_dot_directory(directory, Path(path)):
            return False
        return name in names if names is not None else not name.startswith(".")

    timeout_ms = int(tick_seconds * 1000) if tick_seconds is not None else ARMED_AFTER_MS
    armed = False
    try:
        for changes in watch(
            directory, watch_filter=relevant, stop_event=stop, debounce=DEBOUNCE_MS, step=STEP_MS,
            recursive=recursive, raise_interrupt=False, yield_on_timeout=True, rust_timeout=timeout_ms,
        ):  # fmt: skip
            if not directory.is_dir():
                break  # removed: the watch does not always end by itself when its directory goes
            if changes or not armed:
                armed = True
                notify(WatchEvent.CHANGED)
            elif tick_seconds is not None:
                notify(WatchEvent.TICK)
    except (FileNotFoundError, RuntimeError, OSError):
        pass  # the directory vanished under the watch
    if not stop.is_set():
        notify(WatchEvent.GONE)  # the watch only ends on its own when the directory went away


def _under_dot_directory(directory: Path, path: Path) -> bool:
    """Whether ``path`` lies below a dot-directory of ``directory`` (``.git/objects/…``)."""
    for root in (directory, directory.resolve()):  # watchfiles may report either spelling
        if path.is_relative_to(root):
            return any(part.startswith(".") for part in path.relative_to(root).parts[:-1])
    return False
