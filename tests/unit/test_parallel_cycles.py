"""`replaybook test -j N`'s scheduler (libreplay/session/parallel.py), with real child processes
standing in for `replay-test` (small Python programs: no engine needed).

What is checked: results in the serial order whatever order the children end in, each named by
its scenario and fault; at most N at a time; cycles sharing a host port, and a scenario's cycles
before its first has ended, never overlap; a child without a result fails its cycle at `start`
with what it said; a stop signal reaches every running child, is waited for, and raises.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from libreplay.core.errors import Interrupted
from libreplay.scenario.model import Fault, PublishedPort, Scenario
from libreplay.session import parallel
from libreplay.session.cycle import CycleResult
from libreplay.session.parallel import PlannedCycle, auto_jobs, plan, run_side_by_side


def scenario(name: str, *ports: int) -> Scenario:
    return Scenario(
        id=name, title=name, page="p", difficulty=1, directory=Path("/packs") / name,
        compose_file=Path("/packs") / name / "docker-compose.yml", services=("box",), shell="box",
        success_condition="exit_zero", success_target=None, faults=(Fault("default"),),
        published_ports=tuple(PublishedPort("box", port, 80) for port in ports), pack="p",
    )  # fmt: skip


def cycles(*pairs: tuple[Scenario, str]) -> list[PlannedCycle]:
    return plan([(found, Fault(fault)) for found, fault in pairs])


def child_argv(seconds: float, *, ok: bool = True, log: Path | None = None) -> list[str]:
    """A stand-in for `replay-test … --json`: waits, then prints one result; notes its start and
    end in ``log`` when given."""
    result = {"scenario": "ignored", "fault": "ignored", "ok": ok, "failed_step": None if ok else "solve",
              "detail": "" if ok else "solve.sh exited 1", "seconds": seconds, "steps": [["up", seconds]]}
    code = (
        "import json, sys, time, os\n"
        f"log = {str(log) if log else None!r}\n"
        "note = lambda what: log and open(log, 'a').write(f'{what} {os.getpid()}\\n')\n"
        "note('start')\n"
        f"time.sleep({seconds})\n"
        "note('end')\n"
        f"print(json.dumps([{result!r}]))\n"
    )
    return [sys.executable, "-c", code]


def collect(planned: Sequence[PlannedCycle], jobs: int, argv_of: parallel.LaunchArgv) -> tuple[
        list[CycleResult], list[str], list[CycleResult]]:
    started: list[str] = []
    arrived: list[CycleResult] = []
    results = run_side_by_side(planned, jobs, argv_of, on_start=lambda c: started.append(c.scenario.id),
                               on_result=arrived.append)
    return results, started, arrived


def test_results_come_back_in_the_serial_order_named_by_scenario_and_fault() -> None:
    a, b, c = scenario("a"), scenario("b"), scenario("c")
    planned = cycles((a, "slow"), (b, "default"), (c, "quick"))
    seconds = {"a": 1.5, "b": 0.8, "c": 0.1}
    results, started, arrived = collect(
        planned, 3, lambda cycle: child_argv(seconds[cycle.scenario.id], ok=cycle.scenario.id != "b")
    )
    assert started == ["a", "b", "c"]
    assert [(r.scenario, r.fault) for r in arrived] == [("p/c", "quick"), ("p/b", "default"), ("p/a", "slow")]
    assert [(r.scenario, r.fault, r.ok) for r in results] == [
        ("p/a", "slow", True), ("p/b", "default", False), ("p/c", "quick", True)
    ]
    assert results[1].failed_step == "solve" and results[1].detail == "solve.sh exited 1"
    assert results[0].steps == [("up", 1.5)]


def test_no_more_than_jobs_children_at_once(tmp_path: Path) -> None:
    log = tmp_path / "log"
    planned = cycles(*((scenario(f"s{n}"), "default") for n in range(5)))
    collect(planned, 2, lambda _cycle: child_argv(0.3, log=log))
    running = peak = 0
    for line in log.read_text().splitlines():
        running += 1 if line.startswith("start") else -1
        peak = max(peak, running)
    assert peak == 2


def overlaps(log: Path) -> bool:
    """Whether two children of ``log`` ever ran at the same time."""
    running = 0
    for line in log.read_text().splitlines():
        running += 1 if line.startswith("start") else -1
        if running > 1:
            return True
    return False


def test_cycles_publishing_one_host_port_never_overlap(tmp_path: Path) -> None:
    logs = {"a": tmp_path / "a", "b": tmp_path / "b", "c": tmp_path / "c"}
    shared = tmp_path / "shared"
    planned = cycles((scenario("a", 18080), "default"), (scenario("b", 9000, 18080), "default"),
                     (scenario("c", 9001), "default"))
    results, started, _ = collect(
        planned, 3, lambda cycle: child_argv(0.5, log=shared if cycle.scenario.id in "ab" else logs["c"])
    )
    assert not overlaps(shared)  # a and b share 18080
    assert started == ["a", "c", "b"]  # c, clashing with nothing, did not wait behind b
    assert all(r.ok for r in results)


def test_a_scenarios_first_cycle_runs_alone_among_its_own(tmp_path: Path) -> None:
    """Its images are built by its first cycle; later ones, from a warm cache, may overlap."""
    log = tmp_path / "log"
    a = scenario("a")
    planned = cycles((a, "one"), (a, "two"), (a, "three"))
    _, started, _ = collect(planned, 3, lambda _cycle: child_argv(0.4, log=log))
    lines = log.read_text().splitlines()
    assert [line.split()[0] for line in lines[:2]] == ["start", "end"]  # the first, alone
    assert overlaps(log)  # two and three, side by side
    assert started == ["a", "a", "a"]


def test_a_child_without_a_result_fails_its_cycle_at_start() -> None:
    planned = cycles((scenario("a"), "default"))
    code = "import sys; print('Error: pack p is not trusted at abc1234', file=sys.stderr); sys.exit(7)"
    results, _, _ = collect(planned, 2, lambda _cycle: [sys.executable, "-c", code])
    assert not results[0].ok and results[0].failed_step == "start"
    assert "exited 7 without a result" in results[0].detail
    assert "Error: pack p is not trusted at abc1234" in results[0].detail


def test_a_child_whose_stdout_stays_open_in_what_it_left_running_does_not_hold_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parallel, "OUTPUT_GRACE_SECONDS", 0.5)
    pid_file = tmp_path / "left"
    result = {"ok": True, "failed_step": None, "detail": "", "seconds": 1.0, "steps": []}
    code = (
        "import json, subprocess\n"
        "left = subprocess.Popen(['sleep', '30'])  # inherits our stdout\n"
        f"open({str(pid_file)!r}, 'w').write(str(left.pid))\n"
        f"print(json.dumps([{result!r}]), flush=True)\n"
    )
    started = time.monotonic()
    try:
        results, _, _ = collect(cycles((scenario("a"), "default")), 1,
                                lambda _cycle: [sys.executable, "-c", code])
    finally:
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
    assert results[0].ok
    assert time.monotonic() - started < 10  # not the 30 s the pipe stays open


TORN_DOWN = """
import os, signal, sys, time
def stop(signum, frame):
    time.sleep(0.5)  # a teardown takes a while: the parent must wait for it
    open(sys.argv[1], 'w').write(str(signum))
    sys.exit(128 + signum)
for sig in (signal.SIGINT, signal.SIGTERM):
    signal.signal(sig, stop)
open(sys.argv[1] + '.ready', 'w').close()
time.sleep(60)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_reaches_every_running_child_and_waits_for_its_teardown(
    tmp_path: Path, sig: signal.Signals
) -> None:
    planned = cycles(*((scenario(f"s{n}"), "default") for n in range(4)))
    marks = {cycle.index: tmp_path / f"torn-down-{cycle.index}" for cycle in planned}
    started: list[int] = []

    def signal_us_once_three_run() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if sum(Path(f"{mark}.ready").exists() for mark in marks.values()) == 3:
                os.kill(os.getpid(), sig)
                return
            time.sleep(0.05)

    threading.Thread(target=signal_us_once_three_run, daemon=True).start()
    with pytest.raises(Interrupted) as stopped:
        run_side_by_side(planned, 3, lambda cycle: [sys.executable, "-c", TORN_DOWN, str(marks[cycle.index])],
                         on_start=lambda cycle: started.append(cycle.index), on_result=lambda _r: None)
    assert stopped.value.signum == sig
    assert started == [0, 1, 2]  # the fourth never started
    assert [marks[n].read_text() for n in started] == [str(int(sig))] * 3  # each was told, and finished
    assert not marks[3].exists()


def test_auto_jobs_is_one_per_core_plus_one() -> None:
    assert auto_jobs() == len(os.sched_getaffinity(0)) + 1


def test_jobs_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        run_side_by_side([], 0, lambda _c: [], on_start=lambda _c: None, on_result=lambda _r: None)


def test_the_result_json_of_a_child_is_the_serial_shape() -> None:
    """What the parent prints with --json is built from the same dataclass as the serial run."""
    result = CycleResult("p/a", "default", steps=[("up", 1.0)])
    assert json.loads(json.dumps(result.__dict__))["steps"] == [["up", 1.0]]
