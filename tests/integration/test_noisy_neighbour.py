"""Issue 15: one trainee's fork bomb, memory hog and CPU burner cannot starve another session.

Two sessions of t-exit on the machine's engine, each container under a small ceiling. In A's
shell container: a memory hog (OOM-killed inside A), then a hog that keeps coming back, CPU
burners and a fork bomb. Meanwhile B's check and a command in B's container still answer
promptly, the engine reports A's cgroup capped, and both sessions tear down to nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import docker
import pytest
from dockerkit import TESTPACK, leftovers, run

from libreplay.core import paths

pytestmark = pytest.mark.docker

T_EXIT = str(TESTPACK / "t-exit")
CEILING = ("--cpus", "0.5", "--memory", "128m", "--pids", "64")
MEMORY = 128 * 1024 * 1024
# B must go on answering while A is under attack. Only loose bounds here, so that a loaded CI
# machine cannot fail the test: how close to idle B stays is measured by
# benchmarks/noisy_neighbour.py (docs/benchmarks.md, Noisy neighbours).
CHECK_BOUND_SECONDS = 30.0
EXEC_BOUND_SECONDS = 15.0
CGROUP_FILE = "cat /sys/fs/cgroup/{name} 2>/dev/null || cat /sys/fs/cgroup/{v1}"
MEMORY_HOG = "tail /dev/zero"  # one line that never ends: tail keeps all of it in memory
CPU_BURNER = "for i in 1 2 3 4; do (while :; do :; done) & done; wait"
FORK_BOMB = "f() { f | f & }; while :; do f; done"


def _up(projects: list[str]) -> str:
    result = run("replay-up", T_EXIT, *CEILING, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "each container limited to 0.5 CPU, 128m memory, 64 processes" in result.stderr
    session = result.stdout.strip()
    projects.append(f"replaybook-{session}")
    return session


def _box(session: str) -> Any:
    client = docker.from_env()
    found = client.containers.list(filters={"label": [f"org.replaybook.session={session}",
                                                      "com.docker.compose.service=box"]})
    assert len(found) == 1
    return found[0]


def _sh(container: Any, command: str) -> tuple[int, str]:
    code, output = container.exec_run(["sh", "-c", command])
    return code, output.decode(errors="replace").strip()


def _timed(action: Any) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def _check_passes(session: str) -> None:
    result = run("replay-check", session, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.fixture
def two_sessions(projects: list[str]) -> Iterator[tuple[str, str]]:
    a, b = _up(projects), _up(projects)
    yield a, b
    for session in (a, b):
        run("replay-down", session, timeout=120)


def test_a_fork_bomb_and_a_memory_hog_in_one_session_leave_the_other_answering(
    two_sessions: tuple[str, str],
) -> None:
    a, b = two_sessions
    box_a, box_b = _box(a), _box(b)

    # The engine set the ceiling on A's container, and its cgroup holds it.
    host_config = box_a.attrs["HostConfig"]
    assert (host_config["NanoCpus"], host_config["Memory"], host_config["PidsLimit"]) == (
        500_000_000, MEMORY, 64)
    if docker.from_env().info().get("SwapLimit"):  # else no swap accounting in the kernel
        assert host_config["MemorySwap"] == MEMORY
    assert _sh(box_a, CGROUP_FILE.format(name="pids.max", v1="pids/pids.max")) == (0, "64")
    memory_max = _sh(box_a, CGROUP_FILE.format(name="memory.max", v1="memory/memory.limit_in_bytes"))
    assert memory_max == (0, str(MEMORY))

    idle_checks = [_timed(lambda: _check_passes(b)) for _ in range(2)]
    idle_execs = [_timed(lambda: box_b.exec_run(["true"])) for _ in range(3)]

    # No real-time scheduling, whose busy loop the CPU quota would not hold back, even for root.
    code, said = _sh(box_a, "chrt -f 1 true")
    assert code != 0 and "not permitted" in said.lower(), said

    # A memory hog in A, as root: the kernel kills it inside A's cgroup.
    code, _ = _sh(box_a, MEMORY_HOG)
    assert code == 137  # SIGKILL
    _, events = _sh(box_a, CGROUP_FILE.format(name="memory.events", v1="memory/memory.oom_control"))
    assert "oom_kill " in events and "oom_kill 0" not in events, events

    # Then all at once, in the background: a hog that comes back, CPU burners, a fork bomb.
    box_a.exec_run(["sh", "-c", f"while :; do {MEMORY_HOG}; done"], detach=True)
    box_a.exec_run(["sh", "-c", CPU_BURNER], detach=True)
    box_a.exec_run(["bash", "-c", FORK_BOMB], detach=True)
    deadline = time.monotonic() + 30
    while box_a.stats(stream=False)["pids_stats"].get("current", 0) < 32 and time.monotonic() < deadline:
        time.sleep(0.5)  # until the bomb has filled a good part of A's process table

    busy_checks = [_timed(lambda: _check_passes(b)) for _ in range(3)]
    busy_execs = [_timed(lambda: box_b.exec_run(["true"])) for _ in range(5)]
    stats = box_a.stats(stream=False)
    assert stats["pids_stats"]["current"] <= 64
    assert stats["pids_stats"]["current"] >= 32, stats["pids_stats"]  # the bomb really ran
    assert stats["memory_stats"]["usage"] <= MEMORY

    assert max(busy_checks) < CHECK_BOUND_SECONDS, (idle_checks, busy_checks)
    assert max(busy_execs) < EXEC_BOUND_SECONDS, (idle_execs, busy_execs)

    for session in (a, b):
        down = run("replay-down", session, timeout=120)
        assert down.returncode == 0, down.stderr
        assert leftovers(f"replaybook-{session}") == {}
        assert not paths.session_dir(session).exists()
