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
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from scenario_kit import use_official_pack
from typer.testing import CliRunner

from libreplay.core import paths
from libreplay.core.errors import Interrupted
from libreplay.packs.catalog import resolve_scenario
from libreplay.play import choice
from libreplay.play.flow import PlayOptions, PlayResult
from libreplay.play.offer import ANSWER_SECONDS, Answer, Offer
from libreplay.progress import campaign
from libreplay.progress.campaign import Suggestion
from libreplay.session import ledger
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
        assert f"replaybook {args[0]} is interactive and needs a terminal" in result.stderr


@pytest.mark.parametrize("option", [["--sla", "5"], ["--keep"], ["--no-split"], ["--yes"]])
def test_show_refuses_the_options_of_a_play(suggestion: Suggestion, option: list[str]) -> None:
    for show in (["--show"], ["--json"]):
        result = invoke("next", *show, *option)
        assert result.exit_code == 2
        assert f"{option[0]}: for playing; --show and --json play nothing" in " ".join(result.stderr.split())
        assert result.stdout == ""


def test_the_command_line_is_checked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str | None] = []
    check = run_command._check_choice
    monkeypatch.setattr(run_command, "_check_choice",
                        lambda scenario, **kwargs: (checked.append(scenario), check(scenario, **kwargs))[1])
    result = invoke("run", "002-postgres-wont-start")  # no terminal: refused after the check
    assert result.exit_code == 5
    assert run_command._choose("002-postgres-wont-start", False, None).name == "002-postgres-wont-start"
    assert checked == ["002-postgres-wont-start"]  # run's own; choosing does not check it again


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
    shows its prompt and takes the next key (an Interrupted: a stop signal while it waits);
    what was played is kept."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, results: list[PlayResult],
                 keys: list[str | Interrupted | None]):
        self.results = iter(results)
        self.keys = iter(keys)
        self.played: list[PlayOptions] = []
        self.admitted: list[str] = []
        monkeypatch.setattr(run_command, "_play_once", self.play)
        monkeypatch.setattr(run_command, "read_key", self.key)
        monkeypatch.setattr(run_command, "admit", lambda scenario, yes: self.admitted.append(scenario.ref))

    def play(self, options: PlayOptions) -> PlayResult:
        self.played.append(options)
        return next(self.results)

    def key(self, timeout: float, *, prompt: str = "") -> str | None:
        sys.stderr.write(prompt)
        key = next(self.keys)
        if isinstance(key, Interrupted):
            raise key
        return key


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
    ([MISS], [Interrupted(signal.SIGTERM)], 143),  # a stop while the question waits: a stop's status
    ([MISS, MISS], ["r", Interrupted(signal.SIGINT)], 130),
])
def test_the_runs_exit_status_is_the_last_plays(
    monkeypatch: pytest.MonkeyPatch, suggestion: Suggestion, results: list[PlayResult],
    keys: list[str | Interrupted | None], status: int,
) -> None:
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


# -- the real campaign: the offer's next, --player, skipped lines -------------------------------------

CAMPAIGN = ["001-web-down", "002-db-down", "003-cache-down"]  # the official pack, as these tests install it


@pytest.fixture
def official(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    use_official_pack(monkeypatch, tmp_path / "official", CAMPAIGN)
    return [f"official/{scenario_id}" for scenario_id in CAMPAIGN]


def missed_session(scenario_id: str, *, player: str, days_ago: int, session: str) -> SessionState:
    started = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=days_ago)
    return SessionState(id=session, scenario=scenario_id, pack="official", scenario_dir="/",
                        project=f"replaybook-{session}", status=ABANDONED, outcome="abandoned",
                        fault="wrong-owner", title=f"Official {scenario_id}", player=player,
                        started_at=started, ended_at=started + timedelta(minutes=3))


def test_the_offers_next_is_the_campaigns_first_other_than_the_miss(
    official: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """The miss is in the ledger when the offer asks the campaign (replay-down wrote it): a first
    miss is a retry due at once, the campaign's first; n must not be r with another fault."""
    miss = missed_session("002-db-down", player="alice", days_ago=0, session="5e55a001")
    ledger.record(miss)
    with paths.ledger_path().open("a") as ledger_file:
        ledger_file.write("{not json\n")  # a damaged line: skipped, with a warning
    ordered = campaign.plan(ledger.read_ledgers().entries, campaign.installed_scenarios(), date.today())
    assert ordered[0].ref == "official/002-db-down"  # what the campaign as a whole says first
    expected = next(item for item in ordered if item.ref != "official/002-db-down")

    first = PlayOptions("002-db-down", split=False, title="Official 002-db-down", player="alice")
    scripted = Scripted(monkeypatch, [PlayResult(miss, ["== debrief =="]), WIN], ["n"])
    run_command._play_until_quit(first, yes=False)
    assert [options.scenario for options in scripted.played] == ["002-db-down", expected.ref]
    err = capsys.readouterr().err
    assert f"[n] next: {expected.title}  [q] quit" in err
    assert "line 2: skipped" in err  # the offer read the ledger through read_ledgers


def test_with_only_the_missed_scenario_installed_n_is_not_offered(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    use_official_pack(monkeypatch, tmp_path / "official", ["002-db-down"])
    miss = missed_session("002-db-down", player="alice", days_ago=0, session="5e55a002")
    ledger.record(miss)
    scripted = Scripted(monkeypatch, [PlayResult(miss, ["== debrief =="])], ["n"])
    first = PlayOptions("002-db-down", split=False, player="alice")
    run_command._play_until_quit(first, yes=False)
    assert len(scripted.played) == 1
    assert "[r] retry now (same fault)  [q] quit" in capsys.readouterr().err


def two_players() -> None:
    """alice missed 002 yesterday; bob missed 003 three days ago (due first, over everyone's)."""
    ledger.record(missed_session("003-cache-down", player="bob", days_ago=3, session="5e55b003"))
    ledger.record(missed_session("002-db-down", player="alice", days_ago=1, session="5e55a004"))


@pytest.mark.parametrize(("player", "ref"), [
    (None, "official/003-cache-down"),  # no --player: every line, as stats counts them
    ("alice", "official/002-db-down"),
    ("bob", "official/003-cache-down"),
    ("carol", "official/001-web-down"),  # no session of hers: the easiest new one
])
def test_stats_and_next_suggest_alike_with_and_without_player(official: list[str], player: str | None,
                                                               ref: str) -> None:
    two_players()
    chosen = ["--player", player] if player else []
    by_stats = json.loads(invoke("stats", "--json", *chosen).stdout)["next"]
    shown = invoke("next", "--json", *chosen)
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout) == by_stats
    assert by_stats["ref"] == ref
    next_line = invoke("stats", *chosen).stdout.split("Next: ")[1]
    stats_text = " ".join(line.strip() for line in next_line.splitlines())  # its wrapped lines joined
    assert stats_text == " — ".join(invoke("next", "--show", *chosen).stdout.splitlines())


def test_run_next_plays_the_players_suggestion(official: list[str]) -> None:
    two_players()
    assert run_command._choose(None, False, None, next_=True, player="alice").name == "official/002-db-down"
    assert run_command._choose(None, False, None, next_=True).name == "official/003-cache-down"


def test_next_warns_of_the_ledgers_skipped_lines(official: list[str]) -> None:
    two_players()
    with paths.ledger_path().open("a") as ledger_file:
        ledger_file.write("{not json\n")
    result = invoke("next", "--show")
    assert result.exit_code == 0
    assert f"warning: {paths.ledger_path()}: line 3: skipped" in result.stderr
    assert result.stdout.splitlines()[0] == "Official 003-cache-down"


def test_a_bad_player_name_is_refused_by_show() -> None:
    result = invoke("next", "--show", "--player", " x")
    assert result.exit_code == 3
    assert "--player" in result.stderr


# -- the key, from a real pseudo-terminal ---------------------------------------------------------------


BACKGROUND: list[threading.Thread] = []  # what a test does meanwhile, done before its terminal closes
RAW_WITHIN_SECONDS = 10.0


def is_raw(far: int) -> bool:
    return not termios.tcgetattr(far)[3] & (termios.ICANON | termios.ECHO | termios.ISIG)


def once_raw(far: int, action: Any, *args: Any) -> None:
    """In the background: ``action(*args)`` as soon as the terminal is raw (the question is up),
    polled rather than guessed with a sleep."""

    def wait_then_act() -> None:
        deadline = time.monotonic() + RAW_WITHIN_SECONDS
        while not is_raw(far):
            if time.monotonic() > deadline:
                return  # the test's own assertion says what went wrong
            time.sleep(0.002)
        action(*args)

    thread = threading.Thread(target=wait_then_act)
    BACKGROUND.append(thread)
    thread.start()


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """stdin is the far end of a pseudo-terminal; yields the near end, where keys are typed."""
    near, far = os.openpty()
    stdin = os.fdopen(far, "r")
    monkeypatch.setattr(sys, "stdin", stdin)
    try:
        yield near
    finally:
        while BACKGROUND:
            BACKGROUND.pop().join()
        stdin.close()
        os.close(near)


def test_one_key_is_read_without_enter_and_the_terminal_restored(terminal: int) -> None:
    far = sys.stdin.fileno()
    before = termios.tcgetattr(far)
    assert before[3] & termios.ICANON and before[3] & termios.ECHO
    while_asked: list[int] = []

    def look_then_type() -> None:
        while_asked.append(termios.tcgetattr(far)[3])
        os.write(terminal, b"r")

    once_raw(far, look_then_type)
    assert run_command.read_key(10) == "r"
    assert not while_asked[0] & (termios.ICANON | termios.ECHO | termios.ISIG)  # raw: no Enter, no echo
    assert termios.tcgetattr(far) == before


def test_keys_typed_before_the_question_are_not_answers(terminal: int) -> None:
    os.write(terminal, b"\r")  # an Enter pressed during the teardown
    once_raw(sys.stdin.fileno(), os.write, terminal, b"n")
    assert run_command.read_key(10) == "n"


def test_the_prompt_shows_once_everything_is_ready_for_the_key(
    terminal: int, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A key sent the moment the prompt shows is the answer (it is not flushed away by raw mode
    set afterwards, nor left to a 60 s wait), and a stop signal then is caught, not fatal."""
    far = sys.stdin.fileno()
    before = termios.tcgetattr(far)
    seen: list[tuple[str, bool, Any]] = []

    def prompt_then_key(text: str) -> None:
        seen.append((text, is_raw(far), signal.getsignal(signal.SIGTERM)))
        if text:
            os.write(terminal, b"r")  # at once, as a script or a quick trainee does

    monkeypatch.setattr(run_command, "_talk", prompt_then_key)
    started = time.monotonic()
    assert run_command.read_key(5, prompt="[r] retry  [q] quit ") == "r"
    assert time.monotonic() - started < 4  # read at once, well before read_key's 5 s timeout
    [(text, raw, handler)] = seen
    assert text == "[r] retry  [q] quit " and raw
    assert handler not in (signal.SIG_DFL, signal.SIG_IGN, None)  # SIGTERM handled before the prompt
    assert termios.tcgetattr(far) == before


def test_a_stop_signal_as_the_prompt_shows_raises_and_restores(
    terminal: int, monkeypatch: pytest.MonkeyPatch,
) -> None:
    far = sys.stdin.fileno()
    before = termios.tcgetattr(far)

    def prompt_then_stop(text: str) -> None:
        if text:
            # Sent only when handled: an unhandled SIGTERM would end the test run itself.
            assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, signal.SIG_IGN, None)
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(run_command, "_talk", prompt_then_stop)
    with pytest.raises(Interrupted) as stopped:
        run_command.read_key(10, prompt="[q] quit ")
    assert stopped.value.signum == signal.SIGTERM
    assert termios.tcgetattr(far) == before


def test_no_answer_in_time_is_none(terminal: int) -> None:
    far = sys.stdin.fileno()
    before = termios.tcgetattr(far)
    started = time.monotonic()
    assert run_command.read_key(0.3) is None
    assert 0.25 < time.monotonic() - started < 5
    assert termios.tcgetattr(far) == before


def test_an_arrow_key_comes_whole_and_quits(terminal: int) -> None:
    once_raw(sys.stdin.fileno(), os.write, terminal, b"\x1b[A")
    key = run_command.read_key(10)
    assert key == "\x1b[A"
    assert Offer(FIRST, None).answer(key) is Answer.QUIT


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_while_asking_ends_the_run_as_a_stop(
    terminal: int, capfd: pytest.CaptureFixture[str], signum: int,
) -> None:
    far = sys.stdin.fileno()
    before = termios.tcgetattr(far)
    once_raw(far, os.kill, os.getpid(), signum)
    with pytest.raises(Interrupted) as stopped:  # not Answer.QUIT: the run exits 128 + n
        run_command._ask(Offer(FIRST, SUGGESTED))
    assert stopped.value.signum == signum
    assert stopped.value.exit_code == 128 + signum
    assert termios.tcgetattr(far) == before
    if signum == signal.SIGTERM:
        assert "[r] retry now (same fault)" in capfd.readouterr().err


def test_no_terminal_on_stdin_is_no_answer(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    with (tmp_path / "keys").open("w+") as not_a_terminal:
        monkeypatch.setattr(sys, "stdin", not_a_terminal)
        started = time.monotonic()
        assert run_command.read_key(ANSWER_SECONDS) is None
        assert time.monotonic() - started < 1


def test_today_is_the_utc_date_wherever_the_machine_is() -> None:
    """A miss a minute ago is "today" whatever the zone: at UTC+14 the local date is already
    tomorrow (or, near UTC midnight, at UTC-12 still yesterday), which a campaign counting local
    days against the ledger's UTC days would call "yesterday"."""
    import subprocess

    moment = datetime.now(UTC) - timedelta(minutes=1)
    if moment.date() != datetime.now(UTC).date():
        moment = datetime.now(UTC)  # just after UTC midnight: the miss is from this UTC day too
    line = {"session": "z1", "scenario": "001-nginx-502", "pack": "official", "outcome": "timeout",
            "started_at": moment.isoformat(), "player": "zoe"}
    paths.ledger_path().parent.mkdir(parents=True, exist_ok=True)
    paths.ledger_path().write_text(json.dumps(line) + "\n")
    for zone in ("Etc/GMT-14", "Etc/GMT+12"):
        shown = subprocess.run([str(Path(sys.executable).parent / "replay-next"), "--json"],
                               capture_output=True, text=True, check=True, env={**os.environ, "TZ": zone})
        suggestion = json.loads(shown.stdout)
        assert (suggestion["ref"], suggestion["kind"]) == ("official/001-nginx-502", "retry"), zone
        assert "today" in suggestion["reason"], (zone, suggestion["reason"])
