"""replaybook next (--show, --json), run --next's argument errors, and run's offer after a miss:
the loop over plays (the plays themselves stood in) and the one-key answer read from a real
pseudo-terminal."""

from __future__ import annotations

import json
import os
import signal
import sys
import termios
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from libreplay.core.errors import Interrupted
from libreplay.packs.catalog import resolve_scenario
from libreplay.play import choice
from libreplay.play.flow import PlayOptions, PlayResult
from libreplay.play.offer import ANSWER_SECONDS, Answer, Offer
from libreplay.progress import campaign
from libreplay.progress.campaign import Suggestion
from libreplay.session.state import ABANDONED, RESOLVED, TIMEOUT, SessionState
from replaybook.commands import main as dispatcher
from replaybook.commands import run as run_command

runner = CliRunner()
SUGGESTED = Suggestion("official/007-redis-oom-eviction", "Cache falls over", 2, "retry",
                       "missed it on Friday",
                       date(2026, 12, 7))


def invoke(*args: str) -> Any:
    return runner.invoke(dispatcher.build(), list(args))


@pytest.fixture
def suggestion(monkeypatch: pytest.MonkeyPatch) -> Suggestion:
    monkeypatch.setattr(campaign, "suggest_next", lambda *_args, **_kwargs: SUGGESTED)
    return SUGGESTED


# -- next --show ------------------------------------------------------------------------------------


def test_show_prints_the_title_and_the_reason(suggestion: Suggestion) -> None:
    result = invoke("next", "--show")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["Cache falls over", "missed it on Friday"]
    assert "redis" not in result.stdout  # blind play: the title, never the id


def test_show_json_gives_the_whole_suggestion(suggestion: Suggestion) -> None:
    for args in (["next", "--show", "--json"], ["next", "--json"]):  # --json implies --show
        result = invoke(*args)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == {
            "ref": "official/007-redis-oom-eviction", "title": "Cache falls over", "difficulty": 2,
            "kind": "retry", "reason": "missed it on Friday", "due": "2026-12-07",
        }


def test_show_makes_the_campaigns_text_inert(monkeypatch: pytest.MonkeyPatch) -> None:
    hostile = Suggestion("p/x", "Title\x1b]0;owned\x07", 1, "new", "why\x1b[2J", date(2026, 12, 7))
    monkeypatch.setattr(campaign, "suggest_next", lambda *_a, **_k: hostile)
    for args in (["next", "--show"], ["next", "--json"]):
        result = invoke(*args)
        assert result.exit_code == 0
        assert "\x1b" not in result.stdout and "\\u001b" not in result.stdout


def test_show_of_the_real_campaign_names_an_installed_scenario() -> None:
    result = invoke("next", "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert resolve_scenario(shown["ref"]).title == shown["title"]
    assert date.fromisoformat(shown["due"])


def test_no_scenario_installed_is_exit_4(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(campaign, "suggest_next", lambda *_a, **_k: None)
    for args in (["next", "--show"], ["next", "--json"]):
        result = invoke(*args)
        assert result.exit_code == 4
        assert "Error: no scenario is installed" in result.stderr
        assert result.stdout == ""


def test_the_suggestion_unplayable_without_a_terminal() -> None:
    for args in (["next"], ["run", "--next"]):
        result = invoke(*args)
        assert result.exit_code == 5
        assert "needs a terminal" in result.stderr


def test_next_and_run_next_choose_alike(suggestion: Suggestion, capsys: pytest.CaptureFixture[str]) -> None:
    """Both play through suggested_choice: the suggestion's ref, announced by title and reason."""
    chosen = run_command._choose(None, False, None, next_=True)
    assert chosen.name == "official/007-redis-oom-eviction"
    assert chosen.scenario == resolve_scenario("official/007-redis-oom-eviction")
    assert chosen.reason == "missed it on Friday"
    said = capsys.readouterr().err
    assert f"Next: {chosen.scenario.title} (missed it on Friday)" in said
    assert "007" not in said and "redis" not in said  # blind play
    from replaybook.commands import next_ as next_command

    assert next_command.suggested_choice is run_command.suggested_choice


# -- run --next's argument errors ----------------------------------------------------------------------


@pytest.mark.parametrize(("args", "said"), [
    (["--next", "001-nginx-502"], "--next plays the campaign's suggestion: name no SCENARIO"),
    (["--next", "--random"], "leave out --random"),
    (["--next", "--tag", "nginx"], "--tag and --fault go with --random or a SCENARIO"),
    (["--next", "--fault", "default"], "--tag and --fault go with --random or a SCENARIO"),
    (["001-nginx-502", "--random"], "name a SCENARIO or use --random, not both"),
    ([], "or use --random or --next"),
])
def test_run_refuses_two_ways_of_choosing(args: list[str], said: str) -> None:
    result = invoke("run", *args)
    assert result.exit_code == 2
    assert said in " ".join(result.stderr.split())


# -- the loop over plays ---------------------------------------------------------------------------------


def final(status: str, outcome: str, fault: str | None) -> SessionState:
    return SessionState(id="s1", scenario="x", pack="official", scenario_dir="/", project="replaybook-s1",
                        status=status, outcome=outcome, fault=fault, started_at=datetime.now(UTC))


MISS = PlayResult(final(ABANDONED, "abandoned", "wrong-owner"), ["== debrief =="])
TIMED_OUT = PlayResult(final(TIMEOUT, "timeout", "oom"), ["== debrief =="])
WIN = PlayResult(final(RESOLVED, "success", "oom"), ["== debrief =="])


class Scripted:
    """Stands in for the plays and the keys: each play returns the next result, each question
    the next key; what was played is kept."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, results: list[PlayResult], keys: list[str | None]):
        self.results = iter(results)
        self.keys = iter(keys)
        self.played: list[PlayOptions] = []
        self.admitted: list[str] = []
        monkeypatch.setattr(run_command, "_play_once", self.play)
        monkeypatch.setattr(run_command, "read_key", lambda timeout: next(self.keys))
        monkeypatch.setattr(run_command, "admit", lambda scenario, yes: self.admitted.append(scenario.ref))

    def play(self, options: PlayOptions) -> PlayResult:
        self.played.append(options)
        return next(self.results)


FIRST = PlayOptions("official/002-postgres-wont-start", sla=5, split=False, title="Postgres will not start",
                    player="alice")


def test_r_plays_the_same_fault_again_and_n_the_suggestion(
    monkeypatch: pytest.MonkeyPatch, suggestion: Suggestion, capsys: pytest.CaptureFixture[str]
) -> None:
    scripted = Scripted(monkeypatch, [MISS, MISS, TIMED_OUT, WIN], ["r", "n", "r"])
    last = run_command._play_until_quit(FIRST, yes=False)
    assert last is WIN
    first, retried, suggested, again = scripted.played
    assert first == FIRST
    assert retried == PlayOptions(FIRST.scenario, sla=5, fault="wrong-owner", split=False,
                                  title="Postgres will not start", player="alice")
    assert suggested.scenario == "official/007-redis-oom-eviction" and suggested.fault is None
    assert (suggested.sla, suggested.player, suggested.split) == (5, "alice", False)  # the run's options kept
    assert again.scenario == "official/007-redis-oom-eviction" and again.fault == "oom"
    assert scripted.admitted == ["official/007-redis-oom-eviction"]  # its pack's trust, asked once
    err = capsys.readouterr().err
    assert err.count("[r] retry now (same fault)  [n] next: Cache falls over  [q] quit") == 3
    title = resolve_scenario("official/007-redis-oom-eviction").title
    assert f"Next: {title} (missed it on Friday)" in err


@pytest.mark.parametrize("key", ["q", "\r", "\x1b", "\x03", "x", None])
def test_anything_but_r_or_n_quits_with_the_last_play(monkeypatch: pytest.MonkeyPatch,
                                                      suggestion: Suggestion, key: str | None,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    scripted = Scripted(monkeypatch, [TIMED_OUT], [key])
    assert run_command._play_until_quit(FIRST, yes=False) is TIMED_OUT
    assert len(scripted.played) == 1
    if key is None:
        assert "(no answer: quitting)" in capsys.readouterr().err


def test_no_suggestion_no_n(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(campaign, "suggest_next", lambda *_a, **_k: None)
    scripted = Scripted(monkeypatch, [MISS], ["n"])
    assert run_command._play_until_quit(FIRST, yes=False) is MISS
    assert len(scripted.played) == 1
    assert "[r] retry now (same fault)  [q] quit" in capsys.readouterr().err


def test_a_win_or_a_stop_asks_nothing(monkeypatch: pytest.MonkeyPatch, suggestion: Suggestion,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    stopped = PlayResult(final(ABANDONED, "abandoned", "x"), [], signum=signal.SIGINT)
    for result in (WIN, stopped):
        Scripted(monkeypatch, [result], [])  # a question would find no key: StopIteration
        assert run_command._play_until_quit(FIRST, yes=False) is result
    assert "retry" not in capsys.readouterr().err


class Terminal:
    """Stands in for stdin and stdout being terminals, for play's check."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("results", "keys", "status"), [
    ([WIN], [], 0),
    ([MISS], ["q"], 1),
    ([MISS, WIN], ["r"], 0),
    ([MISS, MISS], ["r", None], 1),
    ([MISS, PlayResult(final(ABANDONED, "abandoned", "x"), [], signum=signal.SIGTERM)], ["r"], 143),
])
def test_the_runs_exit_status_is_the_last_plays(monkeypatch: pytest.MonkeyPatch, suggestion: Suggestion,
                                                results: list[PlayResult], keys: list[str | None],
                                                status: int) -> None:
    Scripted(monkeypatch, results, keys)
    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr(sys, "stdout", Terminal())
    chosen = choice.named("002-postgres-wont-start")
    try:
        run_command.play(lambda: chosen, sla=None, fault=None, keep=False, no_split=True, yes=False,
                         player=None)
        code = 0
    except typer.Exit as exit_:
        code = exit_.exit_code
    except Interrupted as stop:
        code = stop.exit_code
    assert code == status


# -- the key, from a real pseudo-terminal ---------------------------------------------------------------


LATER: list[threading.Timer] = []  # what a test does on a timer, done before its terminal closes


def later(delay: float, function: Any, *args: Any) -> None:
    timer = threading.Timer(delay, function, args)
    LATER.append(timer)
    timer.start()


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """stdin is the far end of a pseudo-terminal; yields the near end, where keys are typed."""
    near, far = os.openpty()
    stdin = os.fdopen(far, "r")
    monkeypatch.setattr(sys, "stdin", stdin)
    try:
        yield near
    finally:
        while LATER:
            LATER.pop().join()
        stdin.close()
        os.close(near)


def type_later(near: int, keys: bytes, delay: float = 0.3) -> None:
    later(delay, os.write, near, keys)


def test_one_key_is_read_without_enter_and_the_terminal_restored(terminal: int) -> None:
    far = sys.stdin.fileno()
    before = termios.tcgetattr(far)
    assert before[3] & termios.ICANON and before[3] & termios.ECHO
    while_asked: list[int] = []

    def look_then_type() -> None:
        while_asked.append(termios.tcgetattr(far)[3])
        os.write(terminal, b"r")

    later(0.3, look_then_type)
    assert run_command.read_key(10) == "r"
    assert not while_asked[0] & (termios.ICANON | termios.ECHO | termios.ISIG)  # raw: no Enter, no echo
    assert termios.tcgetattr(far) == before


def test_keys_typed_before_the_question_are_not_answers(terminal: int) -> None:
    os.write(terminal, b"\r")  # an Enter pressed during the teardown
    type_later(terminal, b"n")
    assert run_command.read_key(10) == "n"


def test_no_answer_in_time_is_none(terminal: int) -> None:
    far = sys.stdin.fileno()
    before = termios.tcgetattr(far)
    started = time.monotonic()
    assert run_command.read_key(0.3) is None
    assert 0.25 < time.monotonic() - started < 5
    assert termios.tcgetattr(far) == before


def test_an_arrow_key_comes_whole_and_quits(terminal: int) -> None:
    type_later(terminal, b"\x1b[A")
    key = run_command.read_key(10)
    assert key == "\x1b[A"
    assert Offer(FIRST, None).answer(key) is Answer.QUIT


def test_a_stop_signal_while_asking_quits_and_restores_the_terminal(terminal: int) -> None:
    far = sys.stdin.fileno()
    before = termios.tcgetattr(far)
    later(0.3, os.kill, os.getpid(), signal.SIGTERM)
    assert run_command._ask(Offer(FIRST, SUGGESTED)) is Answer.QUIT
    assert termios.tcgetattr(far) == before
    with pytest.raises(Interrupted):  # read_key itself raises it
        later(0.3, os.kill, os.getpid(), signal.SIGTERM)
        run_command.read_key(10)
    assert termios.tcgetattr(far) == before


def test_no_terminal_on_stdin_is_no_answer(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    with (tmp_path / "keys").open("w+") as not_a_terminal:
        monkeypatch.setattr(sys, "stdin", not_a_terminal)
        started = time.monotonic()
        assert run_command.read_key(ANSWER_SECONDS) is None
        assert time.monotonic() - started < 1
