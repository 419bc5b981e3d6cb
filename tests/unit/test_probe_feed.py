"""Waits on the probe's answers survive a dropped log stream: they follow the probe again."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from libreplay.session import lifecycle
from libreplay.session.checks import ProbeEvent, ProbeFollowerEvent, ProbeStreamEnded


class ScriptedFeed(lifecycle.ProbeFeed):
    """Each follow puts what its stream would have said: one list of events per follow."""

    def __init__(self, streams: list[list[ProbeFollowerEvent]]) -> None:
        super().__init__(SimpleNamespace())  # type: ignore[arg-type]
        self.said = streams
        self.follows = 0

    def follow(self) -> None:
        said = self.said[min(self.follows, len(self.said) - 1)]
        self.follows += 1
        for event in said:
            self.events.put(event)

    def close(self) -> None:
        pass


def wait(feed: ScriptedFeed, monkeypatch: pytest.MonkeyPatch, *, alive: bool, since: float = 100.0) -> Any:
    monkeypatch.setattr(lifecycle, "probe_alive", lambda check: alive)
    monkeypatch.setattr(lifecycle, "EVENT_WAIT_STEP_SECONDS", 0.01)
    feed.follow()
    return lifecycle._wait_for(SimpleNamespace(), feed, fixed=True, since=since,  # type: ignore[arg-type]
                               deadline=lifecycle.Deadline(0.5))


def test_a_stream_that_dropped_while_the_probe_runs_is_followed_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    failing, fixed = ProbeEvent(at=101.0, ok=False, status="502"), ProbeEvent(at=103.0, ok=True, status="200")
    feed = ScriptedFeed([[failing, ProbeStreamEnded()], [failing, fixed]])  # again from the first line
    assert wait(feed, monkeypatch, alive=True) == 103.0
    assert feed.follows == 2


def test_an_answer_older_than_the_wait_read_again_does_not_count(monkeypatch: pytest.MonkeyPatch) -> None:
    feed = ScriptedFeed([
        [ProbeEvent(at=90.0, ok=True, status="200"), ProbeStreamEnded()],
        [ProbeEvent(at=90.0, ok=True, status="200")],  # the same old pass, read again: not a fix
    ])
    assert wait(feed, monkeypatch, alive=True) is None
    assert feed.follows == 2


def test_a_stream_that_ended_with_its_probe_ends_the_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    feed = ScriptedFeed([[ProbeStreamEnded()], [ProbeEvent(at=103.0, ok=True, status="200")]])
    assert wait(feed, monkeypatch, alive=False) is None
    assert feed.follows == 1


class OwnLook(SimpleNamespace):
    def __init__(self, answer: bool) -> None:
        super().__init__(runs=0)
        self.answer = answer

    def once(self) -> bool:
        self.runs += 1
        return self.answer


def test_a_silent_stream_gets_a_check_of_our_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lifecycle, "probe_alive", lambda check: True)
    monkeypatch.setattr(lifecycle, "OWN_LOOK_SECONDS", 0.05)
    monkeypatch.setattr(lifecycle, "EVENT_WAIT_STEP_SECONDS", 0.01)
    feed = ScriptedFeed([[ProbeEvent(at=101.0, ok=False, status="502")]])  # then nothing, for good
    feed.follow()
    check = OwnLook(answer=True)
    seen = lifecycle._wait_for(check, feed, fixed=True, since=100.0,  # type: ignore[arg-type]
                               deadline=lifecycle.Deadline(2.0))
    assert seen is not None and check.runs == 1


def test_a_silent_stream_whose_probe_went_ends_the_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lifecycle, "probe_alive", lambda check: False)
    monkeypatch.setattr(lifecycle, "OWN_LOOK_SECONDS", 0.05)
    monkeypatch.setattr(lifecycle, "EVENT_WAIT_STEP_SECONDS", 0.01)
    feed = ScriptedFeed([[]])
    feed.follow()
    check = OwnLook(answer=True)
    assert lifecycle._wait_for(check, feed, fixed=True, since=100.0,  # type: ignore[arg-type]
                               deadline=lifecycle.Deadline(2.0)) is None
    assert check.runs == 0  # no look into a probe that is gone


def test_the_baseline_wait_takes_no_look_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lifecycle, "OWN_LOOK_SECONDS", 0.05)
    monkeypatch.setattr(lifecycle, "EVENT_WAIT_STEP_SECONDS", 0.01)
    feed = ScriptedFeed([[]])
    feed.follow()
    check = OwnLook(answer=True)
    assert lifecycle._wait_for(check, feed, fixed=True, since=None,  # type: ignore[arg-type]
                               deadline=lifecycle.Deadline(0.3)) is None
    assert check.runs == 0


class RecordedFollower:
    """A ProbeFollower that only notes where it was asked to start."""

    made: ClassVar[list[float | None]] = []

    def __init__(self, check: object, events: object, *, streams: object, since: float | None) -> None:
        self.made.append(since)

    def start(self) -> None:
        pass

    def resume_point(self) -> float:
        return 1234.5  # just before the newest line this one read


def test_following_again_carries_on_from_the_last_line_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lifecycle, "ProbeFollower", RecordedFollower)
    RecordedFollower.made = []
    feed = lifecycle.ProbeFeed(SimpleNamespace())  # type: ignore[arg-type]
    feed.follow()
    feed.follow()
    assert RecordedFollower.made == [None, 1234.5]  # the first from the probe's first line
