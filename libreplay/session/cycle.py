"""`replaybook test`: prove scenarios work, fault by fault, on the real engine.

One cycle per scenario and fault: up (the healthy baseline passes its check and its guards),
break (the check then fails, the guards still pass), the fault's solve script, the check passes
again within a bounded time, the fix holds (the ``survive_restart`` services restart, the check
keeps passing for the hold, every guard passes), down. A cycle stops at the first failing step
and reports it with its output; the stack is always torn down. This is what a pack's own CI runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from libreplay.core import paths
from libreplay.core.errors import Interrupted, ReplayError, ScenarioFailure, ScenarioInvalid
from libreplay.core.signals import signals_raise
from libreplay.packs.catalog import scenario_dirs_named
from libreplay.scenario.load import load_scenario
from libreplay.scenario.model import Fault, Scenario
from libreplay.session import lifecycle as sessions
from libreplay.session.checks import Check
from libreplay.session.state import load_session
from libreplay.session.verify import prove_holds

SOLVE_TIMEOUT_SECONDS = 120
FIXED_TIMEOUT_SECONDS = 60


@dataclass
class CycleResult:
    scenario: str
    fault: str
    ok: bool = True
    failed_step: str | None = None
    detail: str = ""
    seconds: float = 0.0
    steps: list[tuple[str, float]] = field(default_factory=list)


class _StepFailed(Exception):
    def __init__(self, step: str, detail: str) -> None:
        super().__init__(detail)
        self.step = step
        self.detail = detail


def cycles_of(scenario: Scenario, fault_name: str | None = None) -> list[Fault]:
    if fault_name is None:
        return list(scenario.faults)
    return [sessions.choose_fault(scenario, fault_name, reveal=True)]


def run_cycle(scenario: Scenario, fault: Fault, on_progress: Callable[[str], None]) -> CycleResult:
    """One cycle; any stop signal (SIGINT, SIGTERM, SIGHUP) still tears the stack down."""
    with signals_raise():
        return _cycle(scenario, fault, on_progress)


def _cycle(scenario: Scenario, fault: Fault, on_progress: Callable[[str], None]) -> CycleResult:
    result = CycleResult(scenario.ref, fault.name)
    started = time.monotonic()
    session_id: str | None = None
    try:
        if not scenario.has_solve(fault):
            raise _StepFailed("solve", f"{fault.solve} is missing: `replaybook test` needs the scripted fix")
        with _step(result, "up"):
            session_id = sessions.up(scenario, on_progress=on_progress, reveal=True).id
        with _step(result, "break"):
            sessions.break_session(session_id, fault_name=fault.name, reveal=True)
        with _step(result, "solve"):
            since = time.time()
            solved = sessions.open_stack(load_session(session_id)).run_script(
                fault.solve, timeout=SOLVE_TIMEOUT_SECONDS
            )
            if not solved.ok:
                raise _StepFailed("solve", f"{fault.solve} {solved.how_it_ended}:\n{solved.tail()}")
        with _step(result, "fixed"):
            if not sessions.wait_until_fixed(session_id, since=since, timeout=FIXED_TIMEOUT_SECONDS):
                raise _StepFailed(
                    "fixed", f"the check still fails {FIXED_TIMEOUT_SECONDS} s after {fault.solve}"
                )
        with _step(result, "holds"):
            state = load_session(session_id)
            problem = prove_holds(Check(sessions.open_stack(state)), hold_seconds=state.hold_seconds,
                                  restart=state.survive_restart)
            if problem is not None:
                raise _StepFailed("holds", f"after {fault.solve}, {problem}")
    except _StepFailed as failure:
        result.ok, result.failed_step, result.detail = False, failure.step, failure.detail
    finally:
        if session_id is not None:
            _down(result, session_id)
        result.seconds = time.monotonic() - started
    return result


def _down(result: CycleResult, session_id: str) -> None:
    """Tear down unless a failing step already did; a teardown failure fails the cycle."""
    if not paths.session_dir(session_id).exists():
        return
    try:
        with _step(result, "down"):
            sessions.down(session_id, record=False)
    except _StepFailed as failure:
        if result.ok:
            result.ok, result.failed_step, result.detail = False, failure.step, failure.detail


@contextmanager
def _step(result: CycleResult, name: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    except Interrupted:
        raise
    except _StepFailed:
        raise
    except ReplayError as error:
        raise _StepFailed(name, error.message) from error
    finally:
        result.steps.append((name, time.monotonic() - started))


def scenarios_to_test(pack: str | None) -> list[Scenario]:
    """Every scenario of a pack (a pack name or a directory), all validated before any runs."""
    directories = scenario_dirs_named(pack)
    scenarios: list[Scenario] = []
    problems: list[str] = []
    for directory, name in directories:
        try:
            scenarios.append(load_scenario(directory, pack=name))
        except ScenarioInvalid as exc:
            problems.extend(f"{directory.name}/{p}" for p in exc.problems)
    if problems:
        raise ScenarioInvalid(pack or "all packs", problems)
    if not scenarios:
        raise ScenarioFailure(f"no scenarios found in {pack or 'any pack'}")
    return scenarios
