"""The one watch loop (libreplay/core/watch.py) on a real directory: a session directory is
followed flat (what a trainee puts in mounts/ wakes nobody), a scenario directory for
replaybook dev as a whole tree (but never what lies under a dot-directory such as .git)."""

from __future__ import annotations

import queue
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from libreplay.core.watch import WatchEvent, follow_directory

QUIET_SECONDS = 0.6  # far above the loop's debounce and step (50 ms each)


@contextmanager
def following(directory: Path, **options: object) -> Iterator[queue.Queue[WatchEvent]]:
    events: queue.Queue[WatchEvent] = queue.Queue()
    stop = threading.Event()
    thread = threading.Thread(target=follow_directory, args=(directory, events.put, stop),
                              kwargs=options, daemon=True)
    thread.start()
    assert events.get(timeout=10) is WatchEvent.CHANGED  # the watch is in place
    try:
        yield events
    finally:
        stop.set()
        thread.join(timeout=10)
        assert not thread.is_alive()


def next_event(events: queue.Queue[WatchEvent], timeout: float = 5.0) -> WatchEvent | None:
    try:
        return events.get(timeout=timeout)
    except queue.Empty:
        return None


def test_flat_by_default_only_the_directory_itself_counts(tmp_path: Path) -> None:
    (tmp_path / "mounts").mkdir()
    with following(tmp_path) as events:
        (tmp_path / "mounts" / "trainee-file").write_text("x")
        (tmp_path / ".session.toml.tmp").write_text("x")
        assert next_event(events, QUIET_SECONDS) is None
        (tmp_path / "session.toml").write_text("status = 'active'\n")
        assert next_event(events) is WatchEvent.CHANGED


def test_recursive_a_change_anywhere_below_counts_within_a_fraction_of_a_second(tmp_path: Path) -> None:
    (tmp_path / "faults" / "deep").mkdir(parents=True)
    with following(tmp_path, recursive=True) as events:
        written = time.monotonic()
        (tmp_path / "faults" / "deep" / "broken.conf").write_text("listen 81;\n")
        assert next_event(events) is WatchEvent.CHANGED
        assert time.monotonic() - written < 0.5


def test_recursive_what_is_under_a_dot_directory_or_a_dot_file_does_not_count(tmp_path: Path) -> None:
    (tmp_path / ".git" / "objects").mkdir(parents=True)
    (tmp_path / "faults").mkdir()
    with following(tmp_path, recursive=True) as events:
        (tmp_path / ".git" / "objects" / "ab12").write_text("blob")
        (tmp_path / ".git" / "index").write_text("index")
        (tmp_path / "faults" / ".broken.conf.swp").write_text("vim")
        assert next_event(events, QUIET_SECONDS) is None
        (tmp_path / "meta.json").write_text("{}")
        assert next_event(events) is WatchEvent.CHANGED


def test_recursive_names_still_limit_what_counts(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    with following(tmp_path, recursive=True, names={"meta.json"}) as events:
        (tmp_path / "sub" / "other.txt").write_text("x")
        assert next_event(events, QUIET_SECONDS) is None
        (tmp_path / "sub" / "meta.json").write_text("{}")
        assert next_event(events) is WatchEvent.CHANGED


def test_the_directory_going_away_ends_the_watch_with_gone(tmp_path: Path) -> None:
    watched = tmp_path / "scenario"
    (watched / "faults").mkdir(parents=True)
    events: queue.Queue[WatchEvent] = queue.Queue()
    thread = threading.Thread(target=follow_directory, args=(watched, events.put, threading.Event()),
                              kwargs={"recursive": True}, daemon=True)
    thread.start()
    assert events.get(timeout=10) is WatchEvent.CHANGED
    shutil.rmtree(watched)
    event = next_event(events)
    while event is WatchEvent.CHANGED:  # the removal of what was inside may come first
        event = next_event(events)
    assert event is WatchEvent.GONE
    thread.join(timeout=10)
    assert not thread.is_alive()  # ended by itself: nobody set the stop
