"""`replaybook test -j N`: test cycles side by side, each in a child process of its own.

A cycle in a child (``replay-test DIR --fault F --json``, named by the caller) is the serial
cycle itself (libreplay/session/cycle.py): its own main thread, so its own stop-signal handling
and its own guaranteed teardown; sessions are isolated already (a Compose project and a state
directory each). This module only decides which cycle starts when, collects each child's result,
and, on a stop signal, hands the signal on to every running child and waits for each to tear its
stack down before it re-raises. During that wait (up to TEARDOWN_GRACE_SECONDS) a second Ctrl-C,
or any other stop signal, is held back (core.signals.shielded): cutting the wait short would
leave stacks behind. A child's stdout is read at most OUTPUT_GRACE_SECONDS after it has exited:
something it left running that holds the pipe cannot hold the run.

What two cycles must not do at once is scheduled apart, never raced:

- *Host ports*: cycles whose scenarios publish a common host port never overlap (replay-up would
  refuse the second one: libreplay/session/ports.py).
- *Images*: cycles of one scenario share its images and its build project
  (libreplay/session/stack.py); its first cycle runs alone among them, so a cold build happens
  once, and the later ones build from a warm cache.
- *The probe image*: built once, here, before the first child starts.

The results come back in the order of the serial run, whatever order the cycles end in.
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from libreplay.core.errors import Interrupted, ReplayError
from libreplay.core.proc import CAPTURE, DISCARD, OUTPUT_TAIL_LINES, Child, spawn
from libreplay.core.signals import as_interrupted, shielded, signals_raise
from libreplay.scenario.model import Fault, Scenario
from libreplay.session.cycle import CycleResult

POLL_SECONDS = 0.2
# A child told to stop tears its stack down first (Compose's down has 120 s): then it is killed.
TEARDOWN_GRACE_SECONDS = 180.0
# A child that exited has written its result; its pipe may stay open in what it left running.
OUTPUT_GRACE_SECONDS = 5.0


def auto_jobs() -> int:
    """``-j 0``: one cycle per usable core, and one more (a cycle spends much of its time
    waiting on the engine, on health checks and on the hold, not on a core)."""
    return len(os.sched_getaffinity(0)) + 1


@dataclass(frozen=True)
class PlannedCycle:
    """One cycle to run: its place in the serial order, the scenario and the fault."""

    index: int
    scenario: Scenario
    fault: Fault

    @property
    def host_ports(self) -> frozenset[int]:
        return frozenset(port.host_port for port in self.scenario.published_ports)

    def clashes_with(self, other: PlannedCycle) -> bool:
        return bool(self.host_ports & other.host_ports)


def plan(cycles: Sequence[tuple[Scenario, Fault]]) -> list[PlannedCycle]:
    return [PlannedCycle(index, scenario, fault) for index, (scenario, fault) in enumerate(cycles)]


@dataclass
class _Running:
    cycle: PlannedCycle
    child: Child
    stderr: Path


@dataclass
class _Schedule:
    """Which planned cycle may start next, given those running and those done."""

    pending: list[PlannedCycle]
    running: list[_Running] = field(default_factory=list)
    warm: set[Path] = field(default_factory=set)  # scenarios with a cycle done: images built

    def next_ready(self) -> PlannedCycle | None:
        """The first pending cycle (in serial order) that clashes with nothing running."""
        for cycle in self.pending:
            if self._may_start(cycle):
                self.pending.remove(cycle)
                return cycle
        return None

    def _may_start(self, cycle: PlannedCycle) -> bool:
        for running in self.running:
            other = running.cycle
            if cycle.clashes_with(other):
                return False
            same_scenario = other.scenario.directory == cycle.scenario.directory
            if same_scenario and cycle.scenario.directory not in self.warm:
                return False
        return True


LaunchArgv = Callable[[PlannedCycle], Sequence[str]]


def run_side_by_side(
    cycles: Sequence[PlannedCycle],
    jobs: int,
    argv_of: LaunchArgv,
    *,
    on_start: Callable[[PlannedCycle], None],
    on_result: Callable[[CycleResult], None],
) -> list[CycleResult]:
    """Run ``cycles``, at most ``jobs`` at a time, each as the child ``argv_of(cycle)`` (which
    prints a JSON list of one cycle result on stdout, as ``replay-test --json`` does).

    ``on_start`` is told of each cycle as its child starts, ``on_result`` of each result as it
    comes (in the order the cycles end). The results are returned in the order of ``cycles``.
    A stop signal (SIGINT, SIGTERM, SIGHUP) is handed on to every running child, which tears its
    stack down, and raises Interrupted once every child has ended (up to TEARDOWN_GRACE_SECONDS
    each, then it is killed); a second stop signal meanwhile is held back, not acted on.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    _build_probe_image_once(cycles)
    schedule = _Schedule(pending=list(cycles))
    results: dict[int, CycleResult] = {}
    with tempfile.TemporaryDirectory(prefix="replaybook-test-") as scratch, signals_raise(), \
            _children_stopped_on_exit(schedule):
        while schedule.pending or schedule.running:
            while len(schedule.running) < jobs and (cycle := schedule.next_ready()) is not None:
                with shielded():  # a child started is a child listed, to be stopped on a signal
                    schedule.running.append(_start(cycle, argv_of, Path(scratch)))
                on_start(cycle)
            for done in _wait_for_any(schedule.running):
                schedule.running.remove(done)
                schedule.warm.add(done.cycle.scenario.directory)
                results[done.cycle.index] = _result_of(done)
                on_result(results[done.cycle.index])
    return [results[cycle.index] for cycle in cycles]


def _build_probe_image_once(cycles: Sequence[PlannedCycle]) -> None:
    """Two cycles' ups would otherwise build the probe image at the same moment."""
    from libreplay.session.checks import ensure_probe_image

    if any(cycle.scenario.probes_http for cycle in cycles):
        with suppress(ReplayError):  # each cycle then fails at up, naming the problem, as in a serial run
            ensure_probe_image()


def _start(cycle: PlannedCycle, argv_of: LaunchArgv, scratch: Path) -> _Running:
    stderr = scratch / f"{cycle.index}.stderr"
    # stdin empty: a child never asks anything (trust was settled before the first cycle).
    child = spawn(argv_of(cycle), stdin=DISCARD, stdout=CAPTURE, stderr=stderr)
    return _Running(cycle, child, stderr)


def _wait_for_any(running: list[_Running]) -> list[_Running]:
    """Those of ``running`` that have ended, waiting for one (polled: children of one thread)."""
    while True:
        done = [each for each in running if each.child.poll() is not None]
        if done or not running:
            return done
        time.sleep(POLL_SECONDS)


def _result_of(done: _Running) -> CycleResult:
    """The child's one result, named by the planned cycle; a child that gave none (it could not
    start its cycle: a pack no longer trusted, a scenario changed meanwhile) fails the cycle at
    ``start``, with the end of what it said."""
    cycle = done.cycle
    exit_code = done.child.wait()
    try:
        reported = json.loads(done.child.output(OUTPUT_GRACE_SECONDS))[0]
        steps = [(str(name), float(seconds)) for name, seconds in reported["steps"]]
        return CycleResult(
            cycle.scenario.ref, cycle.fault.name, ok=bool(reported["ok"]),
            failed_step=reported["failed_step"], detail=str(reported["detail"]),
            seconds=float(reported["seconds"]), steps=steps,
        )  # fmt: skip
    except (ValueError, LookupError, TypeError):
        said = _tail(done.stderr)
        how = f"was killed by signal {-exit_code}" if exit_code < 0 else f"exited {exit_code}"
        return CycleResult(cycle.scenario.ref, cycle.fault.name, ok=False, failed_step="start",
                           detail=f"{' '.join(done.child.argv)} {how} without a result:\n{said}")


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-OUTPUT_TAIL_LINES:])


@contextmanager
def _children_stopped_on_exit(schedule: _Schedule) -> Iterator[None]:
    """On any way out but the normal one, every running child gets the stop signal we got (or
    SIGTERM), and is waited for while it tears its stack down; then the error goes on. Stop
    signals during that wait (a second Ctrl-C) are held back until it is over."""
    try:
        yield
    except BaseException as exc:  # noqa: BLE001 - every way out stops the children, then re-raises
        error = as_interrupted(exc)
        sig = error.signum if isinstance(error, Interrupted) else signal.SIGTERM
        with shielded():
            _stop_all([each.child for each in schedule.running], sig)
        raise error from None


def _stop_all(children: list[Child], sig: int) -> None:
    """Signal every child at once, then wait for each (a stuck one is killed at the end of the
    grace)."""
    for child in children:
        child.signal(sig)
    deadline = time.monotonic() + TEARDOWN_GRACE_SECONDS
    for child in children:
        if child.wait(max(0.0, deadline - time.monotonic())) is None:
            child.stop(grace=0)
