"""The engine's clock against ours: the watcher places the engine's events (a check's own exec)
in engine time, so a skew read wrong makes a check's own exec seem to come after the check."""

from __future__ import annotations

import time

import pytest

from libreplay.session import checks


def slow_engine(answer_after: float, ahead: float) -> object:
    """An engine whose clock is ``ahead`` s ahead of ours and that takes ``answer_after`` s to
    answer, stamping its time halfway through, as a loaded engine does."""

    def engine_now() -> float:
        time.sleep(answer_after / 2)
        stamped = time.time() + ahead
        time.sleep(answer_after / 2)
        return stamped

    return engine_now


def test_a_slow_engine_on_this_machine_has_no_skew(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checks, "engine_now", slow_engine(answer_after=0.4, ahead=0.0))
    assert checks.engine_skew() == 0.0  # read after the answer, it would have been about -0.2 s


def test_a_slow_engine_stamping_early_is_still_on_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    def stamps_at_once() -> float:
        stamped = time.time()
        time.sleep(0.4)
        return stamped

    monkeypatch.setattr(checks, "engine_now", stamps_at_once)
    assert checks.engine_skew() == 0.0  # within half the round trip: no skew can be told


def test_an_engine_with_a_clock_of_its_own_is_measured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checks, "engine_now", slow_engine(answer_after=0.2, ahead=30.0))
    assert checks.engine_skew() == pytest.approx(30.0, abs=0.05)
    monkeypatch.setattr(checks, "engine_now", slow_engine(answer_after=0.0, ahead=-7.5))
    assert checks.engine_skew() == pytest.approx(-7.5, abs=0.05)
