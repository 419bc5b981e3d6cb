"""`replaybook test -j N` on the real engine: cycles side by side, each in a `replay-test` child.

A pack made of links to fixture scenarios (so their images are the ones the other tests build):
the lines name scenario and fault, the summary and the exit status are the serial run's, the
--json list is in the serial order, and nothing of any cycle's session is left, by label; a stop
signal while cycles run tears every one of them down.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from dockerkit import FAILING, TESTPACK, leftovers, run, start

from libreplay.core import paths
from libreplay.session.stack import home_id
from libreplay.session.state import load_session

pytestmark = pytest.mark.docker


def linked_pack(root: Path, **scenarios: Path) -> Path:
    """A folder of links to scenario directories, named (and so ordered) by the keywords."""
    pack = root / "pack"
    pack.mkdir()
    for name, target in scenarios.items():
        (pack / name).symlink_to(target)
    return pack


class SessionsSeen:
    """Every session directory that appears in this home while a run goes on."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True)

    def _follow(self) -> None:
        root = paths.sessions_dir()
        while not self._done.is_set():
            if root.exists():
                self.ids |= {p.name for p in root.iterdir()}
            time.sleep(0.05)

    def __enter__(self) -> SessionsSeen:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        self._thread.join()

    def statuses(self) -> list[str]:
        found = []
        for session in sorted(self.ids):
            try:
                found.append(load_session(session).status)
            except Exception:  # noqa: BLE001 - a session being made or removed right now
                continue
        return found


@pytest.fixture
def seen(projects: list[str]) -> Iterator[SessionsSeen]:
    with SessionsSeen() as sessions:
        yield sessions
    projects.extend(f"replaybook-{session}" for session in sessions.ids)  # removed by label after


def assert_nothing_left(sessions: SessionsSeen) -> None:
    assert sessions.ids, "no session was seen"
    for session in sessions.ids:
        assert leftovers(f"replaybook-{session}") == {}, session
        assert not paths.session_dir(session).exists(), session
    labelled = docker.from_env().containers.list(
        all=True, filters={"label": f"org.replaybook.home={home_id()}"}
    )
    assert labelled == []


def test_three_cycles_side_by_side_one_failing(tmp_path: Path, seen: SessionsSeen) -> None:
    pack = linked_pack(tmp_path, **{"1-exit": TESTPACK / "t-exit", "2-nofix": FAILING / "nofix",
                                    "3-name": TESTPACK / "t-name"})
    serial = run("replaybook", "test", "--all", str(pack), "--json", timeout=600)
    started = time.monotonic()
    result = run("replaybook", "test", "--all", str(pack), "-j", "3", "--json", timeout=600)
    side_by_side = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    for name in ("local/t-exit [default]", "local/f-nofix [default]", "local/t-name [default]"):
        assert f"testing {name} …" in result.stderr
    assert "PASS local/t-exit [default] " in result.stderr
    assert "PASS local/t-name [default] " in result.stderr
    assert "FAIL local/f-nofix [default] at solve: solve.sh exited 3:\nno fix scripted for f-nofix" \
        in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "2 passed, 1 failed"
    listed = [(r["scenario"], r["fault"], r["ok"], r["failed_step"]) for r in json.loads(result.stdout)]
    assert listed == [("local/t-exit", "default", True, None), ("local/f-nofix", "default", False, "solve"),
                      ("local/t-name", "default", True, None)], result.stderr
    # The same list, in the same order, as one after another.
    assert serial.returncode == 1, serial.stderr
    assert listed == [(r["scenario"], r["fault"], r["ok"], r["failed_step"])
                      for r in json.loads(serial.stdout)], serial.stderr
    assert side_by_side < 120  # bounded; the speed-up itself is measured in benchmarks/parallel_test.py
    assert_nothing_left(seen)


def test_result_lines_on_stdout_name_scenario_and_fault(tmp_path: Path, seen: SessionsSeen) -> None:
    pack = linked_pack(tmp_path, **{"1-exit": TESTPACK / "t-exit", "2-nofix": FAILING / "nofix"})
    result = run("replaybook", "test", "--all", str(pack), "-j", "2", timeout=600)
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert sorted(line.split(" [")[0] for line in lines if line.startswith(("PASS", "FAIL"))) == [
        "FAIL local/f-nofix", "PASS local/t-exit"
    ]
    assert "1 passed, 1 failed" in result.stderr
    assert_nothing_left(seen)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_while_cycles_run_leaves_nothing(
    tmp_path: Path, seen: SessionsSeen, sig: signal.Signals
) -> None:
    pack = linked_pack(tmp_path, **{"1-slowstart": FAILING / "slowstart",
                                    "2-slowbreak": FAILING / "slowbreak", "3-exit": TESTPACK / "t-exit"})
    process = start("replaybook", "test", "--all", str(pack), "-j", "3")
    deadline = time.monotonic() + 300
    while "breaking" not in seen.statuses():  # slowbreak's break takes 60 s, slowstart's up as long
        assert time.monotonic() < deadline, "no cycle reached its break"
        assert process.poll() is None
        time.sleep(0.2)
    time.sleep(1)
    process.send_signal(sig)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 128 + sig, err
    assert "Traceback" not in err
    assert len(seen.ids) >= 2
    assert_nothing_left(seen)
