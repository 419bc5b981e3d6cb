"""Fixtures of the tests that run against the real engine."""

from __future__ import annotations

from collections.abc import Iterator

import forumkit
import pytest
import sessionkit
from dockerkit import remove_project
from enginekit import second_engine
from watchkit import Watched, watched_session

# The second dockerd, one per run: registered here once, so that every module using it shares
# it (a module importing the fixture itself would get an instance of its own, on the same
# bridge name, and the two would collide).
__all__ = ["second_engine"]


@pytest.fixture
def projects() -> Iterator[list[str]]:
    """Projects a test created; removed by label after it, whatever happened."""
    made: list[str] = []
    yield made
    for project in made:
        remove_project(project)


@pytest.fixture
def forum(projects: list[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[forumkit.Opener]:
    """Opens sessions of the forum track's scenarios by directory name (tests/forumkit.py)."""
    with forumkit.sessions(projects, monkeypatch) as open_one:
        yield open_one


@pytest.fixture
def short_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every session's hold cut short: a test about a guard, not about the hold."""
    sessionkit.short_hold(monkeypatch)


@pytest.fixture
def watched() -> Iterator[Watched]:
    """A broken t-name session with its watcher running (tests/watchkit.py)."""
    with watched_session() as session:
        yield session
