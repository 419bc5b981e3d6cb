"""What wakes the checks between their rounds: the engine's events of the stack (read into
StackEvents, with the engine's time), which of them are worth an exit_zero check run, and the
guards' pace and nudges."""

from __future__ import annotations

import queue
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from libreplay.session import verify, watcher
from libreplay.session.model import PROBE_SERVICE
from libreplay.session.verify import GuardRunner, GuardsChecked
from libreplay.session.vitals import StackEvent, StackFollower
from libreplay.session.watcher import CheckTriggers


def engine_event(
    action: str, service: str = "app", time_nano: int = 1_700_000_000_123_456_789
) -> dict[str, Any]:
    return {
        "Type": "container",
        "Action": action,
        "Actor": {"Attributes": {"com.docker.compose.service": service}},
        "time": time_nano // 10**9,
        "timeNano": time_nano,
    }


def test_an_engine_event_keeps_its_time_and_says_what_it_may_have_changed() -> None:
    events: queue.Queue[StackEvent] = queue.Queue()
    follower = StackFollower("replaybook-x", events, returns=True, execs=True)
    follower._put(engine_event("exec_die"))
    found = events.get_nowait()
    assert (found.service, found.action) == ("app", "exec_die")
    assert found.at == pytest.approx(1_700_000_000.123456789)
    assert found.may_change and not found.changes_containers and not found.settles
    follower._put(engine_event("start", time_nano=0))
    started = events.get_nowait()
    assert started.may_change and started.changes_containers and started.at == 0


def test_the_follower_asks_the_engine_only_for_what_its_watcher_uses() -> None:
    sink: queue.Queue[StackEvent] = queue.Queue()
    assert StackFollower("p", sink).actions == ["die", "destroy"]
    assert StackFollower("p", sink, returns=True).actions == ["die", "destroy", "start", "restart"]
    assert StackFollower("p", sink, returns=True, execs=True).actions[-1] == "exec_die"


def test_a_recheck_and_a_destroy_change_nothing_a_check_sees() -> None:
    assert not StackEvent(service="app", action="recheck").may_change
    assert StackEvent(service="app", action="destroy").changes_containers
    assert not StackEvent(service="app", action="destroy").may_change


class Rounds:
    """Stands in for the guards' scripts: counts rounds, each passing at once."""

    def __init__(self) -> None:
        self.started: list[float] = []

    def __call__(self, _check: object) -> list[object]:
        self.started.append(time.monotonic())
        return []


@pytest.fixture
def rounds(monkeypatch: pytest.MonkeyPatch) -> Rounds:
    counted = Rounds()
    monkeypatch.setattr(verify, "failing_guards", counted)
    return counted


def wait_for(what: Any, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.01)


def test_guards_run_at_once_then_at_their_pace_and_at_once_when_nudged(rounds: Rounds) -> None:
    events: queue.Queue[GuardsChecked] = queue.Queue()
    stop = threading.Event()
    pace = [30.0]
    runner = GuardRunner(object(), events, stop, pace=lambda: pace[0])  # type: ignore[arg-type]
    runner.start()
    try:
        wait_for(lambda: len(rounds.started) == 1)  # the first round at once
        time.sleep(0.3)
        assert len(rounds.started) == 1  # then not before its pace
        runner.nudge()
        wait_for(lambda: len(rounds.started) == 2)  # a nudge: the next round now
        assert rounds.started[1] - rounds.started[0] < 2.0
        pace[0] = 0.2  # quickened (the check passed): noticed within a second
        wait_for(lambda: len(rounds.started) >= 4)
        assert events.qsize() >= 4 and all(not e.failing for e in list(events.queue))
    finally:
        stop.set()
        runner.nudge()
        runner.join(timeout=2)
    assert not runner.is_alive()  # stopped and nudged: it does not sit out its pace


def test_a_check_runs_after_news_not_after_its_own_execs() -> None:
    triggers = CheckTriggers()
    assert triggers.worth_a_run(StackEvent("box", "exec_die", at=5.0))  # before any run: news
    triggers.ran(10.0, 10.4)
    assert triggers.worth_a_run(StackEvent("box", "exec_die", at=10.2))  # the first window teaches
    triggers.ran(11.0, 11.4)
    assert not triggers.worth_a_run(StackEvent("box", "exec_die", at=11.2))  # the check's own
    assert not triggers.worth_a_run(StackEvent("box", "exec_die", at=10.9))  # the run began after it
    assert triggers.worth_a_run(StackEvent("box", "exec_die", at=11.5))  # after the run: news
    assert triggers.worth_a_run(StackEvent("edge", "exec_die", at=11.3))  # another service, meanwhile
    assert triggers.worth_a_run(StackEvent("box", "restart", at=11.3))  # a check restarts nothing
    assert not triggers.worth_a_run(StackEvent(PROBE_SERVICE, "exec_die", at=12.0))  # the guards' fetches
    assert not triggers.worth_a_run(StackEvent("box", "recheck", at=12.0))


def test_runs_events_ask_for_are_spaced_and_coalesced(monkeypatch: pytest.MonkeyPatch) -> None:
    # A healthcheck's exec every interval, or a crash loop, must not run check.sh back to back.
    clock = [100.0]
    monkeypatch.setattr(watcher, "time", SimpleNamespace(monotonic=lambda: clock[0], time=time.time))
    triggers = CheckTriggers()
    assert triggers.earliest_run() < clock[0]  # no run yet: at once
    triggers.ran(10.0, 10.4)
    burst = [StackEvent("box", action, at=10.5 + i / 100) for i, action in enumerate(["die", "start"] * 20)]
    asked = {triggers.earliest_run() for event in burst if triggers.worth_a_run(event)}
    assert asked == {100.0 + watcher.TRIGGERED_RUN_SPACING_SECONDS}  # one run, a spacing after the last
    # The watcher's loop: the run is due then, not at once, however many events came.
    loop: Any = SimpleNamespace(check=SimpleNamespace(http=False), triggers=triggers, next_check=clock[0] + 1,
                                _nudge_guards=lambda: None)
    for event in burst:
        watcher._Watcher._stack_changed(loop, event, SimpleNamespace(shell_service="shell"))  # type: ignore[arg-type]
    assert loop.next_check == 100.0 + watcher.TRIGGERED_RUN_SPACING_SECONDS
