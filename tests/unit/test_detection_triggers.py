"""What wakes the checks between their rounds: the engine's events of the stack (read into
StackEvents, with the engine's time), which of them are worth an exit_zero check run, the
trainee's shell announcing its commands (parsed, paced), and the guards' pace and nudges."""

from __future__ import annotations

import os
import pty
import queue
import select
import shutil
import threading
import time
from collections import deque
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from libreplay.play import shell
from libreplay.session import verify, vitals
from libreplay.session import watcher as watcher_module
from libreplay.session.hints import (
    SHELL_LINES_PER_SECOND,
    SHELL_NEWS_SPACING_SECONDS,
    CommandFinished,
    CommandFollower,
    CommandStarted,
    CommandStreamEnded,
    HintFollower,
    HintRequest,
    RequestGate,
    ShellLineGate,
    ShellPacer,
    parse_shell_line,
)
from libreplay.session.lifecycle import SCRIPT_CHECK_INTERVAL_SECONDS
from libreplay.session.model import PROBE_SERVICE
from libreplay.session.state import STATUS_MEANINGS
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
    follower._put(engine_event("exec_create: sh -c fix"))  # an exec made through the API ...
    follower._put(engine_event("exec_die"))  # ... that ended
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
    assert StackFollower("p", sink, returns=True, execs=True).actions[-2:] == ["exec_create", "exec_die"]


def test_a_recheck_and_a_destroy_change_nothing_a_check_sees() -> None:
    assert not StackEvent(service="app", action="recheck").may_change
    assert StackEvent(service="app", action="destroy").changes_containers
    assert not StackEvent(service="app", action="destroy").may_change


class Rounds:
    """Stands in for the guards' scripts: counts rounds, each passing at once."""

    def __init__(self) -> None:
        self.started: list[float] = []

    def __call__(self, _check: object, _stop: object = None) -> list[object]:
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
    monkeypatch.setattr(watcher_module, "time", SimpleNamespace(monotonic=lambda: clock[0], time=time.time))
    triggers = CheckTriggers()
    assert triggers.earliest_run() < clock[0]  # no run yet: at once
    triggers.ran(10.0, 10.4)
    burst = [StackEvent("box", action, at=10.5 + i / 100) for i, action in enumerate(["die", "start"] * 20)]
    asked = {triggers.earliest_run() for event in burst if triggers.worth_a_run(event)}
    assert asked == {100.0 + watcher_module.TRIGGERED_RUN_SPACING_SECONDS}  # one run, spaced
    # The watcher's loop: the run is due then, not at once, however many events came.
    loop: Any = SimpleNamespace(check=SimpleNamespace(http=False), triggers=triggers, next_check=clock[0] + 1,
                                _nudge_guards=lambda: None, _shells_opened_or_closed=lambda _event: None,
                                _exec_news_for_guards=lambda _event: False)
    for event in burst:
        watcher_module._Watcher._stack_changed(loop, event, SimpleNamespace(shell_service="shell"))  # type: ignore[arg-type]
    assert loop.next_check == 100.0 + watcher_module.TRIGGERED_RUN_SPACING_SECONDS


# -- the trainee's shell announces its commands ---------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("replaybook-prompt", CommandFinished()),
        ("replaybook-busy", CommandStarted()),
        ("replaybook-prompt ", None),  # exactly the marker, nothing more: it carries no data
        (" replaybook-prompt", None),
        ("replaybook-prompt x", None),
        ("replaybook-promptx", None),
        ("echo replaybook-prompt", None),
        ("", None),
    ],
)
def test_only_exact_marker_lines_are_shell_news(line: str, expected: object) -> None:
    assert parse_shell_line(line) == expected


def test_the_followers_pass_the_markers_on_with_their_service() -> None:
    channel = SimpleNamespace(state=SimpleNamespace(shell_service="app"))
    follower = HintFollower(channel, RequestGate(), queue.Queue(), since=None)  # type: ignore[arg-type]
    assert follower.parse("replaybook-prompt") == CommandFinished("app")
    assert follower.parse("replaybook-busy") == CommandStarted("app")
    request = follower.parse("replaybook-hint-request abc123")
    assert isinstance(request, HintRequest) and request.request_id == "abc123"
    other = CommandFollower(SimpleNamespace(), "db", queue.Queue(), since=None)  # type: ignore[arg-type]
    assert other.parse("replaybook-prompt") == CommandFinished("db")
    assert other.parse("replaybook-hint-request abc123") is None  # requests: the shell's container only
    assert other.end == CommandStreamEnded("db")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_finished_command_is_acted_on_at_once_then_coalesced_within_the_spacing() -> None:
    clock = FakeClock()
    pacer = ShellPacer(clock, spacing=0.5)
    assert pacer.seconds_left() is None and not pacer.take()
    pacer.finished()
    assert pacer.seconds_left() == 0.0 and pacer.take()  # the first: now
    assert not pacer.take()  # once
    clock.now += 0.1
    for _ in range(50):  # a flood (or two quick commands): one action, at the end of the spacing
        pacer.finished()
    assert not pacer.take()
    assert pacer.seconds_left() == pytest.approx(0.4)
    clock.now += 0.4
    assert pacer.take() and not pacer.take()
    clock.now += 2.0
    pacer.finished()
    assert pacer.take()  # after a quiet spell: at once again


def announcements_into(target: Path) -> tuple[str, dict[str, str]]:
    """The shell's command line and environment, appending to ``target`` instead of writing to
    PID 1's stdout (a pipe in a container: ``>`` there does not truncate what was written)."""

    def aimed(text: str) -> str:
        return text.replace(">/proc/1/fd/1", f">>{target}")

    env = {name: aimed(value) for name, value in shell.SHELL_ANNOUNCEMENTS.items()}
    return aimed(shell.SHELL_COMMAND), env


def run_in_pty(command: str, env: dict[str, str], typed: list[bytes]) -> str:
    """Run ``sh -c command`` in a pseudo-terminal, type each line, and return what it printed."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the shell, as docker exec -it would run it
        os.execvpe("sh", ["sh", "-c", command], {**os.environ, "HOME": "/nonexistent", **env})
    output = b""
    try:
        for line in typed:
            time.sleep(0.4)
            os.write(fd, line)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                output += chunk
    finally:
        os.close(fd)
        os.waitpid(pid, 0)
    return output.decode(errors="replace")


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_announces_each_command_silently_and_keeps_the_exit_status(tmp_path: Path) -> None:
    marks = tmp_path / "log"
    marks.touch()
    command, env = announcements_into(marks)
    printed = run_in_pty(command, env, [b"false\n", b"echo status=$?\n", b"exit\n"])
    assert "status=1" in printed  # PROMPT_COMMAND does not change what $? says
    assert "replaybook" not in printed and "No such file" not in printed
    lines = marks.read_text().splitlines()
    # opened (busy), first prompt, then per command: started (PS0) and finished (PROMPT_COMMAND)
    assert lines[:6] == ["replaybook-busy", "replaybook-prompt", "replaybook-busy", "replaybook-prompt",
                         "replaybook-busy", "replaybook-prompt"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_a_log_stream_the_shell_cannot_write_breaks_nothing(tmp_path: Path) -> None:
    command, env = announcements_into(tmp_path)  # a directory: every write fails
    printed = run_in_pty(command, env, [b"echo still=$((40+2))\n", b"exit\n"])
    assert "still=42" in printed
    assert "Is a directory" not in printed and "replaybook" not in printed


def test_the_shell_is_opened_with_its_announcements() -> None:
    container = SimpleNamespace(id="c0ffee", image_path="/usr/bin:/bin")
    argv = shell.shell_argv(container)  # type: ignore[arg-type]
    assert argv[:3] == ["docker", "exec", "-it"]
    assert any(arg.startswith("PROMPT_COMMAND=") and "replaybook-prompt" in arg for arg in argv)
    assert any(arg.startswith("PS0=$(") and "replaybook-busy" in arg for arg in argv)
    assert argv[-3:] == ["sh", "-c", shell.SHELL_COMMAND]
    assert shell.SHELL_COMMAND.startswith("{ printf 'replaybook-busy\\n' >/proc/1/fd/1; } 2>/dev/null;")


# -- what the watcher makes of it -----------------------------------------------------------------


def bare_watcher(*, status: str = "active", check_ok: bool = False, guards_fail: bool = False) -> Any:
    """A watcher's pacing state without a session behind it."""
    found: Any = watcher_module._Watcher.__new__(watcher_module._Watcher)
    found.last_state = SimpleNamespace(status=status, meaning=STATUS_MEANINGS[status])
    found.hold = SimpleNamespace(check_ok=check_ok, guards_fail=guards_fail)
    found.busy_shells = {"app"}  # a shell opened, not yet at its prompt
    found.engine_skew = 0.0
    found.check_windows = deque(maxlen=4)
    found.guard_exec_services = set()
    found.triggers = CheckTriggers()  # no check has run: a check asked for is due at once
    found.channel = SimpleNamespace(is_own_exec=lambda exec_id: exec_id == "reply")
    found.guards = SimpleNamespace(ran_during=lambda moment: 50.0 <= moment <= 51.0)
    return found


def test_guards_are_slow_only_while_the_check_fails_and_the_shell_sits_at_its_prompt() -> None:
    quiet = bare_watcher()
    assert quiet._guard_pace() == verify.GUARD_INTERVAL_SECONDS  # a shell opened, not at its prompt
    quiet.busy_shells.clear()
    assert quiet._guard_pace() == verify.GUARD_IDLE_INTERVAL_SECONDS  # no shell, or all at their prompt
    waiting_on_rounds = (bare_watcher(check_ok=True), bare_watcher(guards_fail=True),
                         bare_watcher(status="verifying"))
    for busy in waiting_on_rounds:
        busy.busy_shells.clear()
        assert busy._guard_pace() == verify.GUARD_INTERVAL_SECONDS


def test_the_shell_saying_busy_and_done_moves_the_paces() -> None:
    watching = bare_watcher()
    watching.next_check = time.monotonic() + 100
    watching.command_news = ShellPacer()
    watching._shell_said(CommandFinished("app"))
    assert not watching.shell_busy and watching.command_news.seconds_left() == 0.0
    watching._shell_said(CommandStarted("db"))  # psql running in the db window
    assert watching.shell_busy
    assert watching.next_check <= time.monotonic() + SCRIPT_CHECK_INTERVAL_SECONDS
    watching._shell_said(CommandStarted("app"))
    watching._shell_said(CommandFinished("app"))
    assert watching.shell_busy  # the db window still runs its command
    watching._shell_said(CommandFinished("db"))
    assert not watching.shell_busy


def news_watcher(**state: Any) -> tuple[Any, list[float]]:
    """A bare watcher whose guard nudges are counted (at their monotonic time)."""
    watching = bare_watcher(**state)
    watching.check = SimpleNamespace(http=False)
    watching.next_check = time.monotonic() + 100
    nudged: list[float] = []
    watching.guards = SimpleNamespace(nudge=lambda: nudged.append(time.monotonic()))
    watching.command_news, watching.exec_news = ShellPacer(), ShellPacer()
    watching.guard_news = ShellPacer()
    return watching, nudged


def test_a_finished_command_asks_for_a_check_and_a_guard_round_now() -> None:
    watching, nudged = news_watcher(check_ok=True)  # a round may start the hold: every command counts
    assert watching._act_on_news() == 3600.0  # nothing pending
    watching._shell_said(CommandFinished())
    watching._act_on_news()
    assert watching.next_check <= time.monotonic() and len(nudged) == 1  # due at once
    watching._shell_said(CommandFinished())  # within the spacing: later, once
    left = watching._act_on_news()
    assert 0.0 < left <= 0.5 and len(nudged) == 1


def test_while_no_round_can_matter_commands_ask_for_guard_rounds_at_a_slower_spacing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The check fails, no guard fails: the first command's round at once, the next ones'
    coalesced into one GUARD_NEWS_QUIET_SPACING_SECONDS later (a check is still asked at once)."""
    monkeypatch.setattr(watcher_module, "GUARD_NEWS_QUIET_SPACING_SECONDS", 0.3)
    watching, nudged = news_watcher()
    watching._shell_said(CommandFinished())
    watching._act_on_news()
    assert len(nudged) == 1
    time.sleep(0.06)  # past the shell's own spacing (patched below), within the quiet one
    monkeypatch.setattr(watching.command_news, "spacing", 0.05)
    watching.next_check = time.monotonic() + 100
    watching._shell_said(CommandFinished())
    left = watching._act_on_news()
    assert watching.next_check <= time.monotonic()  # the check: at once, as ever
    assert len(nudged) == 1 and 0.1 < left <= 0.3  # the round: once the quiet spacing has passed
    time.sleep(left)
    watching._act_on_news()
    assert len(nudged) == 2 and nudged[1] - nudged[0] >= 0.3


def test_news_driven_rounds_are_quick_whenever_a_round_can_start_suspend_or_end_a_hold() -> None:
    for waiting in (news_watcher(check_ok=True)[0], news_watcher(guards_fail=True)[0],
                    news_watcher(status="verifying")[0]):
        assert waiting._guard_news_spacing() == SHELL_NEWS_SPACING_SECONDS
    assert news_watcher()[0]._guard_news_spacing() == watcher_module.GUARD_NEWS_QUIET_SPACING_SECONDS


def test_an_exec_that_ended_nudges_the_guards_unless_it_was_ours() -> None:
    watching = bare_watcher()
    watching.check_windows.extend([(40.0, 41.0), (42.0, 43.0)])
    assert watching._exec_news_for_guards(StackEvent("db", "exec_die", at=60.0, exec_id="x"))  # the trainee's
    assert not watching._exec_news_for_guards(StackEvent("db", "exec_die", at=60.0, exec_id="reply"))
    assert not watching._exec_news_for_guards(StackEvent(PROBE_SERVICE, "exec_die", at=60.0))
    assert not watching._exec_news_for_guards(StackEvent("db", "exec_die", at=40.5))  # check.sh's own
    assert not watching._exec_news_for_guards(StackEvent("db", "exec_die", at=42.5))  # an older run
    assert not watching._exec_news_for_guards(StackEvent("db", "start", at=60.0))  # not an exec
    # During a round: the first in a service teaches where the guards' execs go (one more round).
    assert watching._exec_news_for_guards(StackEvent("db", "exec_die", at=50.5))
    assert not watching._exec_news_for_guards(StackEvent("db", "exec_die", at=50.6))
    assert watching._exec_news_for_guards(StackEvent("web", "exec_die", at=50.7))
    watching.guards = None
    assert not watching._exec_news_for_guards(StackEvent("db", "exec_die", at=60.0))  # no guards


def test_a_health_checks_exec_is_no_news_but_another_exec_is(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def health_of(container_id: str) -> str:
        asked.append(container_id)
        return "/bin/sh -c pg_isready -q"

    monkeypatch.setattr(vitals, "health_command", health_of)
    events: queue.Queue[StackEvent] = queue.Queue()
    follower = StackFollower("replaybook-x", events, returns=True, execs=True)
    assert "exec_create" in follower.actions

    def exec_event(action: str, exec_id: str) -> dict[str, Any]:
        event = engine_event(action, service="db")
        event["id"] = "c1"
        event["Actor"]["Attributes"]["execID"] = exec_id
        return event

    follower._put(exec_event("exec_create: psql -c select ", "e1"))
    assert events.empty()  # a creation is no news by itself
    follower._put(exec_event("exec_die", "e1"))
    assert events.get_nowait().exec_id == "e1"
    follower._put(exec_event("exec_create: /bin/sh -c pg_isready -q", "h1"))  # the health test
    follower._put(exec_event("exec_die", "h1"))
    follower._put(exec_event("exec_die", "never-seen"))  # created before the follower: not known
    assert events.empty()
    assert asked == ["c1"]  # the container's health test, asked once
    follower._put(engine_event("die"))
    assert events.get_nowait().action == "die"


def test_the_health_test_is_the_command_line_the_engine_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    configs = {
        "shell": {"Healthcheck": {"Test": ["CMD-SHELL", "curl -fs http://localhost/ || exit 1"]}},
        "exec": {"Healthcheck": {"Test": ["CMD", "pg_isready", "-q"]}},
        "none": {"Healthcheck": {"Test": ["NONE"]}},
        "bare": {},
        "own-shell": {"Shell": ["/bin/bash", "-c"], "Healthcheck": {"Test": ["CMD-SHELL", "true"]}},
    }
    api = SimpleNamespace(inspect_container=lambda cid: {"Config": configs[cid]})
    monkeypatch.setattr(vitals.docker_api, "client", lambda: SimpleNamespace(api=api))
    assert vitals.health_command("shell") == "/bin/sh -c curl -fs http://localhost/ || exit 1"
    assert vitals.health_command("exec") == "pg_isready -q"
    assert vitals.health_command("none") is None and vitals.health_command("bare") is None
    assert vitals.health_command("own-shell") == "/bin/bash -c true"


def test_a_round_remembers_when_it_ran(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow_round(_check: object, _stop: object = None) -> list[object]:
        time.sleep(0.3)
        return []

    monkeypatch.setattr(verify, "failing_guards", slow_round)
    events: queue.Queue[GuardsChecked] = queue.Queue()
    stop = threading.Event()
    runner = GuardRunner(object(), events, stop, pace=lambda: 30.0)  # type: ignore[arg-type]
    before = time.time()
    runner.start()
    try:
        time.sleep(0.1)
        assert runner.ran_during(time.time())  # the round running now
        wait_for(lambda: events.qsize() == 1)
        assert runner.ran_during(before + 0.2)  # the round that ended
        assert not runner.ran_during(before - 10)
        assert not runner.ran_during(time.time() + 10)
    finally:
        stop.set()
        runner.nudge()
        runner.join(timeout=2)


def test_a_shell_opening_is_busy_until_its_prompt_and_its_end_clears_it() -> None:
    events: queue.Queue[StackEvent] = queue.Queue()
    follower = StackFollower("replaybook-x", events, returns=True, execs=True)
    created = engine_event(f"exec_create: sh -c {shell.SHELL_COMMAND}", service="db")
    created["Actor"]["Attributes"]["execID"] = "s1"
    follower._put(created)
    opened = events.get_nowait()
    assert (opened.service, opened.action, opened.exec_id) == ("db", "shell_opened", "s1")
    assert not opened.may_change and not opened.changes_containers
    assert events.empty()
    watching = bare_watcher()
    watching.busy_shells.clear()
    watching.open_shells = {}
    watching._shells_opened_or_closed(opened)
    assert watching.shell_busy  # a shell that cannot write the log never says it is at its prompt
    watching._shells_opened_or_closed(StackEvent("db", "exec_die", exec_id="s1"))
    assert not watching.shell_busy  # the window was left


def test_a_flood_of_shell_lines_reaches_the_queue_bounded_and_leaves_the_shell_busy() -> None:
    # `yes replaybook-prompt >/proc/1/fd/1`: unbounded, the queue would hold the probe's and
    # the guards' answers back behind it (a relapse read after the hold's end).
    clock = [100.0]
    gate = ShellLineGate(lambda: clock[0], rate=10)
    admitted = [gate.admit(CommandFinished("app")) for _ in range(10_000)]
    passed = [event for event in admitted if event is not None]
    assert passed == [CommandFinished("app")] * 10 + [CommandStarted("app")]  # then busy: quick paces
    clock[0] += 1.0
    assert gate.admit(CommandFinished("app")) == CommandFinished("app")  # a new second: heard again


def test_the_command_follower_gates_its_lines() -> None:
    follower = CommandFollower(SimpleNamespace(), "db", queue.Queue(), since=None)  # type: ignore[arg-type]
    parsed = [follower.parse("replaybook-prompt") for _ in range(1000)]
    assert sum(event is not None for event in parsed) <= SHELL_LINES_PER_SECOND + 1


def test_a_timed_out_session_runs_its_guards_slowly_and_no_news_asks_for_one() -> None:
    """Watched through its deadline for a late fix, which needs only the check: a round would
    count for nothing."""
    watching, nudged = news_watcher(status="timeout")
    assert watching._guard_pace() == verify.GUARD_IDLE_INTERVAL_SECONDS
    watching._shell_said(CommandFinished())
    watching._act_on_news()
    assert nudged == []
