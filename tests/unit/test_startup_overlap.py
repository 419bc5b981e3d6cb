"""The proofs that overlap replay-up's and replay-break's waits (issue 13), without an engine:
deadlines that start when the stack is up, the break's guard round that must have begun once
the break was seen, and errors handed from the proof's thread to the caller."""

from __future__ import annotations

import io
import os
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from libreplay.core.errors import ScenarioFailure
from libreplay.session import lifecycle


def test_a_deadline_not_started_never_passes_and_counts_from_its_start() -> None:
    deadline = lifecycle.Deadline(0.05, started=False)
    time.sleep(0.1)
    assert not deadline.passed() and deadline.left() == float("inf")
    deadline.start()
    assert 0 < deadline.left() <= 0.05
    time.sleep(0.06)
    assert deadline.passed()


def test_a_cancelled_deadline_has_passed_and_its_pause_returns_at_once() -> None:
    deadline = lifecycle.Deadline(60, started=False)
    deadline.cancel()
    started = time.monotonic()
    deadline.pause(5)
    assert deadline.passed() and time.monotonic() - started < 1


class FakeCheck:
    """A check whose guards answer from a list (True: every guard passes), counting rounds."""

    def __init__(self, answers: list[bool], *, guards: int = 1) -> None:
        self.answers = answers
        self.rounds: list[float] = []
        self.stack: Any = SimpleNamespace(scenario=SimpleNamespace(guards=["g"] * guards, ref="p/s"))


@pytest.fixture
def guards_of(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_guards(check: FakeCheck) -> list[str]:
        check.rounds.append(time.time())
        return [] if check.answers.pop(0) else ["g"]

    monkeypatch.setattr(lifecycle, "failing_guards", failing_guards)
    monkeypatch.setattr(lifecycle, "guard_failure", lambda failing: "guard 'g' fails")
    monkeypatch.setattr(lifecycle, "SCRIPT_CHECK_INTERVAL_SECONDS", 0.01)


@pytest.mark.usefixtures("guards_of")
def test_a_guard_round_begun_after_the_break_was_seen_stands() -> None:
    check = FakeCheck([True])
    seen = time.time()
    with lifecycle._GuardsProof(check, "the broken stack") as guards:  # type: ignore[arg-type]
        guards.result(after=seen)
    assert len(check.rounds) == 1


@pytest.mark.usefixtures("guards_of")
def test_a_guard_round_begun_before_the_break_was_seen_runs_again() -> None:
    check = FakeCheck([True, True])
    with lifecycle._GuardsProof(check, "the broken stack") as guards:  # type: ignore[arg-type]
        guards.join()
        guards.result(after=time.time() + 1)
    assert len(check.rounds) == 2


@pytest.mark.usefixtures("guards_of")
def test_a_guard_failing_past_its_settle_time_fails_the_break_from_the_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lifecycle, "GUARDS_SETTLE_SECONDS", 0.05)
    check = FakeCheck([False] * 1000)
    with (lifecycle._GuardsProof(check, "the broken stack") as guards,  # type: ignore[arg-type]
          pytest.raises(ScenarioFailure, match="on the broken stack, guard 'g' fails")):
        guards.result(after=0.0)


@pytest.mark.usefixtures("guards_of")
def test_a_scenario_without_guards_starts_no_round() -> None:
    check = FakeCheck([], guards=0)
    with lifecycle._GuardsProof(check, "the broken stack") as guards:  # type: ignore[arg-type]
        guards.result(after=time.time())
    assert check.rounds == [] and not guards.is_alive()


@pytest.mark.usefixtures("guards_of")
def test_guards_failing_while_the_stack_starts_are_tried_again_without_a_deadline() -> None:
    # Before the stack is up a failing round only waits: the settle time runs from the start.
    check = FakeCheck([False, False, False, True])
    settle = lifecycle.Deadline(0.0, started=False)
    began = lifecycle._require_guards(check, "the healthy stack", settle)  # type: ignore[arg-type]
    assert len(check.rounds) == 4 and check.rounds[-2] <= began <= check.rounds[-1]


def test_end_of_data_closes_a_piped_stdout_so_the_reader_sees_the_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from replaybook.commands.common import emit, end_of_data

    read_end, write_end = os.pipe()
    piped = os.fdopen(write_end, "w", encoding="utf-8")  # closed through its descriptor
    monkeypatch.setattr(sys, "stdout", piped)
    emit("abc123")
    end_of_data()
    with os.fdopen(read_end, "rb") as reader:
        assert reader.read() == b"abc123\n"  # the end came with the id: this process still runs
    # Not closed: the descriptor now writes to /dev/null, so no file opened later can become it.
    assert os.path.samestat(os.fstat(piped.fileno()), Path(os.devnull).stat())
    emit("later talk")  # lost, harmlessly
    piped.close()


def test_end_of_data_leaves_a_file_or_a_capture_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from replaybook.commands.common import end_of_data

    with (tmp_path / "out").open("w", encoding="utf-8") as file:
        monkeypatch.setattr(sys, "stdout", file)
        end_of_data()
        file.write("more")  # still open
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    end_of_data()  # no descriptor at all: nothing to do


class FakeScript:
    """An exit_zero check (check.sh) answering from a list, then with its last answer."""

    http = False

    def __init__(self, answers: list[bool]) -> None:
        self.answers = answers
        self.runs = 0
        self.stack: Any = SimpleNamespace(scenario=SimpleNamespace(guards=[], ref="p/s"))

    def once(self) -> bool:
        self.runs += 1
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def baseline_of(script: FakeScript, monkeypatch: pytest.MonkeyPatch) -> lifecycle._BaselineProof:
    monkeypatch.setattr(lifecycle, "Check", lambda stack: script)
    monkeypatch.setattr(lifecycle, "SCRIPT_CHECK_INTERVAL_SECONDS", 0.01)
    monkeypatch.setattr(lifecycle, "BASELINE_TIMEOUT_SECONDS", 0.2)
    return lifecycle._BaselineProof(script.stack, then=lambda: None)


def test_a_check_sh_that_passed_on_a_half_started_stack_must_pass_again_once_it_is_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    script = FakeScript([True, False])  # passes while Compose still starts, then fails for good
    with baseline_of(script, monkeypatch) as proof, pytest.raises(ScenarioFailure, match="fails its own"):
        proof.join()  # proven before the stack is up
        proof.stack_is_up()
        proof.result()
    assert script.runs > 2


def test_a_check_sh_pass_before_the_stack_was_up_is_run_once_more_and_stands(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    script = FakeScript([True])
    with baseline_of(script, monkeypatch) as proof:
        proof.join()
        proof.stack_is_up()
        proof.result()
    assert script.runs == 2


def test_a_check_sh_pass_after_the_stack_was_up_needs_no_other_run(monkeypatch: pytest.MonkeyPatch) -> None:
    script = FakeScript([True])
    proof = baseline_of(script, monkeypatch)
    proof.stack_is_up()  # before the proof's first run
    with proof:
        proof.result()
    assert script.runs == 1


def test_a_bug_in_replay_ups_engine_meeting_reaches_the_main_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    stray: list[object] = []
    monkeypatch.setattr(threading, "excepthook", stray.append)  # a thread's traceback would go here

    def broken() -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(lifecycle, "_meet_engine", broken)
    meeting = lifecycle._EngineMeeting()
    meeting.start()
    with pytest.raises(RuntimeError, match="a bug"):
        meeting.done()
    assert stray == []


def test_a_cp_step_the_engine_refuses_fails_the_break_naming_step_file_and_field(tmp_path: Path) -> None:
    from libreplay.scenario.model import BreakStep, Fault

    (tmp_path / "bad.conf").write_text("x\n")
    stack: Any = SimpleNamespace(
        scenario=SimpleNamespace(ref="p/s"), session_dir=tmp_path,
        scenario_file=lambda name: tmp_path / name,
        copy_into=lambda service, source, dest: f'cannot overwrite directory "{dest}" with non-directory',
    )
    fault = Fault("secret-name", steps=(BreakStep("cp", "web", src="bad.conf", dest="/etc/nginx"),))
    named = r"break\[0\]\.cp of bad\.conf to web:/etc/nginx \(cp\.dest\)"
    with pytest.raises(ScenarioFailure, match=named) as err:
        lifecycle.inject(stack, fault)
    assert "secret-name" not in err.value.message
