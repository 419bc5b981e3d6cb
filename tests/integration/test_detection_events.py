"""An exit_zero check runs right after the engine reports a change in the stack, on the real
engine: a fix made with `docker compose exec` is seen long before the periodic check would run,
and the check's own execs do not make it run again and again."""

from __future__ import annotations

import subprocess
import threading
import time

import pytest
from dockerkit import TESTPACK, leftovers, run

from libreplay.session import watcher
from libreplay.session.checks import Check
from libreplay.session.state import load_session

pytestmark = pytest.mark.docker


def test_an_exec_fix_is_checked_at_once_and_the_checks_own_execs_are_not_news(
    projects: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watcher, "SCRIPT_CHECK_INTERVAL_SECONDS", 120.0)  # only events can be quick
    monkeypatch.setattr(watcher, "SCRIPT_QUIET_INTERVAL_SECONDS", 120.0)  # no shell open: the quiet poll
    runs: list[float] = []
    original = Check.once

    def counted(check: Check) -> bool:
        runs.append(time.monotonic())
        return original(check)

    monkeypatch.setattr(Check, "once", counted)
    result = run("replay-up", str(TESTPACK / "t-exit"))
    assert result.returncode == 0, result.stderr
    session = result.stdout.strip()
    projects.append(f"replaybook-{session}")
    assert run("replay-break", session).returncode == 0
    seen: list[float] = []

    def trainee() -> None:
        time.sleep(4)  # the watcher's first check and whatever its execs would set off
        idle_runs = len(runs)
        subprocess.run(
            ["docker", "compose", "-p", f"replaybook-{session}", "exec", "-T", "box", "sh", "-c",
             "echo up > /srv/state"],
            check=True, capture_output=True,
        )  # fmt: skip
        landed = time.monotonic()
        while load_session(session).status == "active" and time.monotonic() - landed < 20:
            time.sleep(0.02)
        seen.extend([idle_runs, time.monotonic() - landed])

    acting = threading.Thread(target=trainee, daemon=True)
    acting.start()
    final = watcher.watch(session)
    acting.join(timeout=5)
    idle_runs, latency = seen
    # The first run, and one more while the first taught where the check's own execs go.
    assert idle_runs <= 2, f"check.sh ran {idle_runs} times while nothing changed"
    assert final.status == "resolved"
    assert latency < 3.0, f"the fix was seen after {latency:.2f} s"
    assert run("replay-down", session).returncode == 0
    assert leftovers(f"replaybook-{session}") == {}
