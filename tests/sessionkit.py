"""A session of a scenario driven from the library, as a trainee and the engine would drive it:
what the integration tests of fair wins (test_fair_wins.py) and of the forum track (forumkit.py)
share, with the fixture that opens such sessions and takes them down. A subclass adds what its
scenarios need (their tools, their shortcuts)."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

from dockerkit import leftovers, run, start
from watchkit import wait_until_held_by

from libreplay.core.errors import NotFound
from libreplay.scenario.load import load_scenario
from libreplay.session import lifecycle
from libreplay.session.stack import Stack
from libreplay.session.state import RESOLVED, SessionState, load_session
from libreplay.session.verify import RESTART_GRACE_SECONDS, RETURN_TIMEOUT_SECONDS

TRAINEE_SECONDS = 90
SHORT_HOLD_SECONDS = 5  # where a guard, not the hold, is what the test is about


def short_hold(monkeypatch: Any) -> None:
    """Every session's hold cut to SHORT_HOLD_SECONDS (a test about a guard, not the hold)."""
    monkeypatch.setenv("REPLAYBOOK_HOLD_SECONDS", str(SHORT_HOLD_SECONDS))


class DrivenSession:
    """One session of the scenario in ``directory``: up at once; taken down by the test's fixture."""

    def __init__(self, directory: Path, pack: str, projects: list[str]) -> None:
        self.scenario = load_scenario(directory, pack=pack)
        state = lifecycle.up(self.scenario)
        projects.append(state.project)
        self.project = state.project
        self.id = state.id

    @property
    def stack(self) -> Stack:
        return lifecycle.open_stack(load_session(self.id))

    def break_it(self, fault: str | None = None) -> None:
        lifecycle.break_session(self.id, fault_name=fault)

    def shell(self, service: str, script: str) -> subprocess.CompletedProcess[str]:
        """What a trainee types in the service's shell (as root), sent over stdin."""
        stack = self.stack
        return subprocess.run(
            ["docker", "compose", "exec", "-T", service, "sh", "-s"],
            input=script, capture_output=True, text=True, check=False,
            env=stack.env(), cwd=stack.files_dir, timeout=TRAINEE_SECONDS,
        )  # fmt: skip

    def guard_passes(self, name: str) -> bool:
        """The guard's script, run as the engine runs it (bash on the host, the session's copy)."""
        guard = next(g for g in self.scenario.guards if g.name == name)
        assert guard.script is not None
        ran = self.stack.run_script(guard.script, timeout=20)
        print(f"guard {name}: {'passes' if ran.ok else 'fails'}: {ran.tail(3)}")  # shown on failure
        return ran.ok

    def failing_guards(self) -> list[str]:
        return [g.name for g in self.scenario.guards if not self.guard_passes(g.name)]

    def solve(self, script: str = "solve.sh") -> None:
        solved = self.stack.run_script(script)
        assert solved.ok, solved.tail()

    def fixed(self) -> bool:
        """The success check, once (replay-check: exit 0 fixed, 1 not fixed)."""
        checked = run("replay-check", self.id, timeout=120)
        assert checked.returncode in (0, 1), checked.stderr
        print(f"check: {checked.stdout.strip()}")  # shown on failure, with the guards' output
        return checked.returncode == 0

    def fixed_within(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.fixed():
                return True
            time.sleep(0.5)
        return False

    @contextmanager
    def watching(self) -> Iterator[None]:
        """The session's watcher (replay-check --watch) runs in the block, as under `replaybook run`."""
        watcher = start("replay-check", self.id, "--watch")
        try:
            wait_until_held_by(self.id, watcher)
            yield
        finally:
            if watcher.poll() is None:
                watcher.send_signal(signal.SIGTERM)  # a watched session goes down with it
                watcher.communicate(timeout=120)

    def state_once(self, done: Callable[[SessionState], bool], within: float) -> SessionState:
        """The session's state as soon as ``done`` says so, or as it is after ``within`` s."""
        deadline = time.monotonic() + within
        state = load_session(self.id)
        while not done(state) and time.monotonic() < deadline:
            time.sleep(0.5)
            state = load_session(self.id)
        return state

    def held_back_by(self, guard: str, hold: float = SHORT_HOLD_SECONDS) -> SessionState:
        """The guard tripped, and the session still has not resolved once a hold would be over.
        The watcher's first round may come only after a hold began and restarted the box: its
        stop, the box's start and the check passing again are waited for too."""
        trip_within = hold + RESTART_GRACE_SECONDS + RETURN_TIMEOUT_SECONDS + 20
        state = self.state_once(lambda s: guard in s.guards_tripped, within=trip_within)
        assert guard in state.guards_tripped, state
        state = self.state_once(lambda s: s.status == RESOLVED, within=hold + 8)
        assert state.status != RESOLVED, state
        return state

    def down(self) -> dict[str, list[str]]:
        """Takes the session down; what the engine still holds of its project (nothing, if all went)."""
        with suppress(NotFound):  # a stopped watcher took its session down already
            lifecycle.down(self.id, record=False)
        return leftovers(self.project)


Driven = TypeVar("Driven", bound=DrivenSession)


@contextmanager
def opened_sessions(make: Callable[[str], Driven], monkeypatch: Any, *,
                    sla_seconds: int) -> Iterator[Callable[[str], Driven]]:
    """Opens sessions by scenario name with ``make`` (each with an SLA of ``sla_seconds`` from
    its break) and takes every one of them down at the end."""
    monkeypatch.setenv("REPLAYBOOK_SLA_SECONDS", str(sla_seconds))
    opened: list[Driven] = []

    def open_one(name: str) -> Driven:
        made = make(name)
        opened.append(made)
        return made

    try:
        yield open_one
    finally:
        for made in opened:
            made.down()
