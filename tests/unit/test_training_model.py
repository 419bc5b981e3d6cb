"""Trainings, seats and tokens (libreplay.training.model) and the day's orchestration
(libreplay.training.day) against the fake engine: no Docker."""

from __future__ import annotations

import threading
import time

import pytest
from servekit import FakeEngine, PtyDoor

from libreplay.core.errors import InvalidInput, NotFound, SessionError
from libreplay.training import model
from libreplay.training.day import MAX_SESSIONS, TrainingDay
from libreplay.training.terminal import TerminalBridge


def test_tokens_are_long_random_and_stored_only_as_their_hash() -> None:
    training, tokens = model.create_training(scenarios=["001-nginx-502"], seats=["alice", "bob"],
                                             session_minutes=30)
    assert len(set(tokens)) == 2
    assert all(len(token) >= 43 for token in tokens)  # 32 random bytes, base64: 256 bits
    stored = model.training_path(training.id).read_text()
    assert not any(token in stored for token in tokens)
    assert model.token_hash(tokens[0]) in stored
    loaded = model.load_training(training.id)
    assert loaded.seat_of(tokens[1]).name == "bob"
    other = "B" if tokens[1].endswith("A") else "A"  # one character changed, whatever it was
    assert loaded.seat_of(tokens[1][:-1] + other) is None
    assert loaded.seat_of("") is None


def test_seats_by_count_and_scenarios_in_turn() -> None:
    training, tokens = model.create_training(scenarios=["a", "b"], seats=3, session_minutes=10)
    assert [seat.name for seat in training.seats] == ["", "", ""]
    assert [training.scenario_for(seat) for seat in training.seats] == ["a", "b", "a"]
    assert len(tokens) == 3


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"scenarios": [], "seats": 1, "session_minutes": 10}, "scenarios"),
    ({"scenarios": ["a"], "seats": 0, "session_minutes": 10}, "seats"),
    ({"scenarios": ["a"], "seats": ["x", "x"], "session_minutes": 10}, "seats"),
    ({"scenarios": ["a"], "seats": ["bad\x1bname"], "session_minutes": 10}, "seats"),
    ({"scenarios": ["a"], "seats": 1, "session_minutes": 0}, "session_minutes"),
    ({"scenarios": ["a"], "seats": 1, "session_minutes": 10, "sla_minutes": -1}, "sla_minutes"),
])
def test_bad_trainings_are_refused_naming_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(InvalidInput, match=field):
        model.create_training(**kwargs)
    assert model.list_trainings() == []


def test_a_training_id_that_is_not_one_is_not_a_path() -> None:
    with pytest.raises(NotFound):
        model.training_path("../../etc/passwd")


def test_tokens_expire_with_their_training() -> None:
    moment = [1_000.0]
    day = TrainingDay(FakeEngine(), max_sessions=2, clock=lambda: moment[0])
    training, tokens = day.create(scenarios=["a"], seats=1, session_minutes=10)
    moment[0] = training.expires_at - 1
    assert day.seat_for(tokens[0]) is not None
    moment[0] = training.expires_at
    assert day.seat_for(tokens[0]) is None


def test_max_sessions_refuses_clearly_and_end_frees_a_place() -> None:
    engine = FakeEngine()
    day = TrainingDay(engine, max_sessions=1)
    _, tokens = day.create(scenarios=["a"], seats=["ann", "ben"], session_minutes=10)
    first = day.start(day.seat_for(tokens[0]))
    with pytest.raises(SessionError, match="--max-sessions"):
        day.start(day.seat_for(tokens[1]))
    day.end(first)
    assert engine.ended == [first]
    assert day.start(day.seat_for(tokens[1]))
    assert [player for _sid, player in engine.started] == ["ann", "ben"]


def test_a_seat_without_a_name_needs_one_and_starts_once() -> None:
    day = TrainingDay(FakeEngine(), max_sessions=3)
    _, tokens = day.create(scenarios=["a"], seats=1, session_minutes=10)
    with pytest.raises(InvalidInput, match="name"):
        day.start(day.seat_for(tokens[0]))
    day.start(day.seat_for(tokens[0]), name="carol")
    ref = day.seat_for(tokens[0])
    assert ref.seat.name == "carol" and ref.seat.session_id
    with pytest.raises(SessionError, match="already started"):
        day.start(ref, name="carol")


def test_a_training_file_is_parsed_again_only_once_it_was_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """The live views ask for the trainings every second: an unchanged file is not parsed
    again; one written since (a seat taken, a session extended) is."""
    day = TrainingDay(FakeEngine(), max_sessions=3)
    training, tokens = day.create(scenarios=["a"], seats=["dora"], session_minutes=10)
    parsed: list[str] = []
    real_load = model.load_training
    monkeypatch.setattr("libreplay.training.day.load_training",
                        lambda tid: parsed.append(tid) or real_load(tid))
    first = day.trainings()
    assert day.trainings()[0] is first[0] and len(parsed) == 1  # unchanged: read once
    day.start(day.seat_for(tokens[0]))  # the seat taken: its file written
    taken = day.seat_for(tokens[0])
    assert taken is not None and taken.seat.session_id and len(parsed) == 2
    model.update_training(training.id, lambda t: setattr(t, "title", "afternoon"))
    assert day.trainings()[0].title == "afternoon" and len(parsed) == 3


def test_expired_sessions_are_torn_down_and_extend_postpones_it() -> None:
    moment = [1_000.0]
    engine = FakeEngine()
    day = TrainingDay(engine, max_sessions=3, clock=lambda: moment[0])
    _, tokens = day.create(scenarios=["a"], seats=["ann", "ben"], session_minutes=10)
    ann = day.start(day.seat_for(tokens[0]))
    ben = day.start(day.seat_for(tokens[1]))
    assert day.extend(ben, 5) == 1_000.0 + 15 * 60
    moment[0] += 10 * 60
    assert day.reap() == [ann]
    assert engine.ended == [ann]
    moment[0] += 5 * 60
    assert day.reap() == [ben]
    with pytest.raises(InvalidInput, match="minutes"):
        day.extend("fake0001", 0)


def test_shutdown_tears_down_every_session_it_started_and_refuses_new_ones() -> None:
    engine = FakeEngine()
    day = TrainingDay(engine, max_sessions=5)
    _, tokens = day.create(scenarios=["a"], seats=3, session_minutes=10)
    started = [day.start(day.seat_for(token), name=f"p{i}") for i, token in enumerate(tokens[:2])]
    late = day.seat_for(tokens[2])  # read before the stop, as a request under way has it
    assert sorted(day.shutdown()) == sorted(started)
    assert sorted(engine.ended) == sorted(started)
    with pytest.raises(SessionError, match="stopping"):
        day.start(late, name="late")
    assert day.seat_for(tokens[2]) is None  # the training ended with its server: its tokens too
    assert model.list_trainings()[0].ended_at


def test_a_failed_start_is_kept_for_the_page_and_frees_the_seat() -> None:
    day = TrainingDay(FakeEngine(fail_start="the engine is away"), max_sessions=2)
    _, tokens = day.create(scenarios=["a"], seats=["ann"], session_minutes=10)
    ref = day.seat_for(tokens[0])
    with pytest.raises(SessionError):
        day.start(ref)
    assert day.seat_view(day.seat_for(tokens[0]))["error"] == "the engine is away"
    assert day.live_count() == 0


def test_the_board_shows_every_seat_and_ranks_the_resolved() -> None:
    engine = FakeEngine()
    day = TrainingDay(engine, max_sessions=5)
    _, tokens = day.create(scenarios=["001-nginx-502"], seats=["ann", "ben", "cy"], session_minutes=10)
    ann = day.start(day.seat_for(tokens[0]))
    day.start(day.seat_for(tokens[1]))
    day.hint(ann)
    engine.resolve(ann)
    board = day.board()
    rows = {row["trainee"]: row for row in board["sessions"]}
    assert rows["ann"]["status"] == "resolved" and rows["ann"]["hints_used"] == 1
    assert rows["ben"]["status"] == "active"
    assert rows["cy"]["status"] == "waiting" and rows["cy"]["session"] == ""
    assert [leader["trainee"] for leader in board["leaderboard"]] == ["ann"]
    assert "\x1b" not in rows["ann"]["title"]  # pack text made inert


def test_hints_and_ends_only_for_sessions_of_this_server() -> None:
    day = TrainingDay(FakeEngine(), max_sessions=5)
    with pytest.raises(NotFound):
        day.hint("deadbeef")
    with pytest.raises(NotFound):
        day.end("deadbeef")


def test_a_session_over_for_a_while_frees_its_place() -> None:
    from datetime import UTC, datetime

    from libreplay.training.day import OVER_KEPT_SECONDS

    moment = [datetime.now(UTC).timestamp()]
    engine = FakeEngine()
    day = TrainingDay(engine, max_sessions=3, clock=lambda: moment[0])
    _, tokens = day.create(scenarios=["a"], seats=["ann"], session_minutes=600)
    session = day.start(day.seat_for(tokens[0]))
    engine.resolve(session)
    engine.states[session].ended_at = datetime.fromtimestamp(moment[0], UTC)
    assert day.reap() == []  # the debrief and the shells stay a while
    moment[0] += OVER_KEPT_SECONDS
    assert day.reap() == [session]


class FlakyEngine(FakeEngine):
    """Its first teardown fails (the engine was busy); the next ones work."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    def end(self, session_id: str) -> None:
        if self.failures:
            self.failures -= 1
            raise SessionError("docker compose down failed")
        super().end(session_id)


def test_a_failed_teardown_keeps_the_session_live_and_shutdown_retries_it() -> None:
    engine = FlakyEngine()
    day = TrainingDay(engine, max_sessions=3)
    _, tokens = day.create(scenarios=["a"], seats=["ann"], session_minutes=10)
    session = day.start(day.seat_for(tokens[0]))
    with pytest.raises(SessionError, match="compose down"):
        day.end(session)
    assert day.live_sessions() == [session] and engine.ended == []
    assert day.shutdown() == [session]
    assert engine.ended == [session] and day.live_sessions() == []


class SlowEngine(FakeEngine):
    def __init__(self) -> None:
        super().__init__()
        self.ending, self.release = threading.Event(), threading.Event()

    def end(self, session_id: str) -> None:
        self.ending.set()
        self.release.wait(10)
        super().end(session_id)


def test_shutdown_waits_for_an_end_already_under_way() -> None:
    engine = SlowEngine()
    day = TrainingDay(engine, max_sessions=3)
    _, tokens = day.create(scenarios=["a"], seats=["ann"], session_minutes=10)
    session = day.start(day.seat_for(tokens[0]))
    reaping = threading.Thread(target=day.end, args=(session,))
    reaping.start()
    assert engine.ending.wait(5)
    stopping = threading.Thread(target=day.shutdown)
    stopping.start()
    stopping.join(0.5)
    assert stopping.is_alive()  # the teardown in progress is not forgotten
    engine.release.set()
    stopping.join(5)
    reaping.join(5)
    assert not stopping.is_alive() and engine.ended == [session] and day.live_sessions() == []


def test_a_shell_reopened_after_it_ended_releases_the_old_terminal() -> None:
    day = TrainingDay(FakeEngine(shell=["true"]), max_sessions=3)  # a shell that ends at once
    _, tokens = day.create(scenarios=["a"], seats=["ann"], session_minutes=10)
    session = day.start(day.seat_for(tokens[0]))
    first = day.terminal(session, "proxy", create=True)
    assert first is not None and first.ended.wait(5)
    second = day.terminal(session, "proxy", create=True)
    assert second is not first and first.closed and not second.closed
    day.shutdown()
    assert second.closed


def test_a_stale_seat_never_starts_a_second_session() -> None:
    engine = FakeEngine()
    day = TrainingDay(engine, max_sessions=3)
    _, tokens = day.create(scenarios=["a"], seats=["ann"], session_minutes=10)
    stale = day.seat_for(tokens[0])  # read before the seat was taken, as two quick clicks do
    first = day.start(stale)
    with pytest.raises(SessionError, match="already started"):
        day.start(stale)
    assert [sid for sid, _player in engine.started] == [first] and engine.ended == []


class SlowStartEngine(FakeEngine):
    def start(self, scenario: str, *, player: str, sla_minutes: int | None) -> str:
        time.sleep(0.2)
        return super().start(scenario, player=player, sla_minutes=sla_minutes)


def test_two_concurrent_starts_of_one_seat_make_one_session() -> None:
    engine = SlowStartEngine()
    day = TrainingDay(engine, max_sessions=3)
    _, tokens = day.create(scenarios=["a"], seats=["ann"], session_minutes=10)
    refs = [day.seat_for(tokens[0]), day.seat_for(tokens[0])]
    results: list[str] = []
    barrier = threading.Barrier(2)

    def click(ref: object) -> None:
        barrier.wait()
        try:
            results.append(day.start(ref))  # type: ignore[arg-type]
        except SessionError as refused:
            results.append(f"refused: {refused.message}")

    clicks = [threading.Thread(target=click, args=(ref,)) for ref in refs]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join(10)
    started = [sid for sid, _player in engine.started]
    refused = "refused: this seat's session has already started"
    assert len(started) == 1 and sorted(results) == sorted([started[0], refused])
    assert day.seat_for(tokens[0]).seat.session_id == started[0] and day.live_sessions() == started


class LoudEngine(FakeEngine):
    """Its failures and debriefs carry terminal escapes, as container text may."""

    def debrief(self, session_id: str) -> list[str]:
        return ["== debrief ==", "log: \x1b]0;owned\x07 \x1b[2J done"]


def test_the_seat_view_makes_the_error_and_the_debrief_inert() -> None:
    failing = TrainingDay(LoudEngine(fail_start="compose: \x1b[31mred\x1b[0m\x07"), max_sessions=2)
    _, tokens = failing.create(scenarios=["a"], seats=["ann"], session_minutes=10)
    with pytest.raises(SessionError):
        failing.start(failing.seat_for(tokens[0]))
    assert failing.seat_view(failing.seat_for(tokens[0]))["error"] == "compose: red?"
    engine = LoudEngine()
    day = TrainingDay(engine, max_sessions=2)
    _, tokens = day.create(scenarios=["a"], seats=["ann"], session_minutes=10)
    session = day.start(day.seat_for(tokens[0]))
    engine.resolve(session)
    debrief = day.seat_view(day.seat_for(tokens[0]))["debrief"]
    assert debrief == ["== debrief ==", "log:   done"]


def test_a_terminal_closed_before_it_started_never_starts() -> None:
    door = PtyDoor(["sleep", "60"])
    bridge = TerminalBridge(door)  # as when end() takes it before terminal() starts it
    began = time.monotonic()
    bridge.close()
    bridge.start()
    assert bridge.closed and bridge.ended.is_set() and time.monotonic() - began < 1.0


# -- idleness ---------------------------------------------------------------------------------


def idle_day(idle_minutes: int = 20) -> tuple[TrainingDay, FakeEngine, list[float], list[str]]:
    """A day on a clock the test moves, with two named seats (ann, ben) and a long lifetime."""
    moment = [1_000.0]
    engine = FakeEngine()
    day = TrainingDay(engine, max_sessions=3, idle_minutes=idle_minutes, clock=lambda: moment[0])
    _, tokens = day.create(scenarios=["a"], seats=["ann", "ben"], session_minutes=600)
    return day, engine, moment, tokens


def test_an_idle_session_is_ended_as_abandoned_and_its_seat_says_why() -> None:
    day, engine, moment, tokens = idle_day()
    ann = day.start(day.seat_for(tokens[0]))  # the start is the first activity
    assert day.seat_view(day.seat_for(tokens[0]))["idle_ends_at"] == 1_000 + 20 * 60
    moment[0] += 20 * 60 - 1
    assert day.reap() == []
    moment[0] += 1
    assert day.reap() == [ann]
    assert engine.ended == [ann] and day.live_sessions() == []
    seat = day.seat_for(tokens[0]).seat
    assert (seat.end_reason, seat.ended_at) == (model.ENDED_IDLE, moment[0])
    view = day.seat_view(day.seat_for(tokens[0]))
    assert view["status"] == "ended" and "idleness" in view["ended_because"]
    assert "20 minutes" in view["ended_because"]
    row = next(row for row in day.board()["sessions"] if row["trainee"] == "ann")
    assert row["status"] == "ended" and row["end_reason"] == model.ENDED_IDLE


def test_keys_hints_and_extend_restart_the_idle_clock() -> None:
    day, _engine, moment, tokens = idle_day()
    ann = day.start(day.seat_for(tokens[0]))
    moment[0] += 15 * 60
    day.activity(ann)  # a key typed
    moment[0] += 15 * 60
    day.hint(ann)
    moment[0] += 15 * 60
    day.extend(ann, 15)  # the facilitator chose to keep it
    moment[0] += 19 * 60
    assert day.reap() == [] and day.live_sessions() == [ann]
    moment[0] += 60
    assert day.reap() == [ann]


def test_idleness_off_and_over_sessions_are_left_to_the_other_rules() -> None:
    day, _engine, moment, tokens = idle_day(idle_minutes=0)
    ann = day.start(day.seat_for(tokens[0]))
    moment[0] += 500 * 60
    assert day.reap() == [] and day.idle_ends_at(ann) is None

    day, engine, moment, tokens = idle_day()
    ann = day.start(day.seat_for(tokens[0]))
    engine.resolve(ann)  # over: it goes OVER_KEPT_SECONDS after its end, not for idleness
    assert day.idle_ends_at(ann) is None
    moment[0] += 60 * 60  # the fake's resolve leaves no end time: only idleness could end it
    assert day.reap() == [] and day.live_sessions() == [ann]


def test_other_ends_say_why_on_the_seat() -> None:
    day, _engine, moment, tokens = idle_day(idle_minutes=0)
    ann = day.start(day.seat_for(tokens[0]))
    ben = day.start(day.seat_for(tokens[1]))
    day.end(ann)
    moment[0] += 600 * 60
    assert day.reap() == [ben]
    seats = day.trainings()[0].seats
    assert [seat.end_reason for seat in seats] == [model.ENDED_BY_FACILITATOR, model.ENDED_LIFETIME]
    assert day.ended_because(seats[0]) == "ended by the facilitator"


def test_the_idle_limit_is_checked() -> None:
    with pytest.raises(InvalidInput, match="--idle-minutes"):
        TrainingDay(FakeEngine(), max_sessions=1, idle_minutes=-1)


def test_shutdown_marks_the_seats_ended_by_the_stop() -> None:
    day, _engine, _moment, tokens = idle_day()
    day.start(day.seat_for(tokens[0]))
    day.shutdown()
    assert model.list_trainings()[0].seats[0].end_reason == model.ENDED_SERVER_STOPPED


# -- a campaign as the scenario list ----------------------------------------------------------


def test_a_campaign_seat_plays_the_campaign_s_next_for_its_trainee() -> None:
    asked: list[str] = []

    def campaign(player: str) -> str | None:
        asked.append(player)
        return {"ann": "official/002-postgres"}.get(player, "official/001-nginx-502")

    engine = FakeEngine()
    day = TrainingDay(engine, max_sessions=3, campaign=campaign)
    training, tokens = day.create(scenarios=[], seats=2, session_minutes=30, campaign=True)
    assert training.campaign and training.scenarios == []
    assert [training.scenario_for(seat) for seat in training.seats] == [model.CAMPAIGN] * 2
    day.start(day.seat_for(tokens[0]), name="ann")
    day.start(day.seat_for(tokens[1]), name="newcomer")
    assert asked == ["ann", "newcomer"]
    assert [engine.states[session].scenario for session, _player in engine.started] == [
        "official/002-postgres", "official/001-nginx-502"]
    rows = day.board()["sessions"]
    assert [row["scenario"] for row in rows] == ["official/002-postgres", "official/001-nginx-502"]
    loaded = model.load_training(training.id)
    assert [seat.scenario for seat in loaded.seats] == ["official/002-postgres", "official/001-nginx-502"]


def test_a_campaign_with_nothing_installed_fails_the_start_clearly() -> None:
    day = TrainingDay(FakeEngine(), max_sessions=3, campaign=lambda _player: None)
    _, tokens = day.create(scenarios=[], seats=["ann"], session_minutes=30, campaign=True)
    with pytest.raises(SessionError, match="no pack is installed"):
        day.start(day.seat_for(tokens[0]))
    assert "no pack" in day.seat_view(day.seat_for(tokens[0]))["error"]


def test_a_campaign_training_names_no_scenarios_and_a_list_one_needs_them() -> None:
    with pytest.raises(InvalidInput, match="scenarios: a campaign"):
        model.create_training(scenarios=["a"], seats=1, session_minutes=10, campaign=True)
    with pytest.raises(InvalidInput, match="or choose the campaign"):
        model.create_training(scenarios=[" "], seats=1, session_minutes=10)


def test_the_default_campaign_reads_this_host_s_ledger_for_that_trainee() -> None:
    import json
    from datetime import UTC, datetime

    from libreplay.core import paths
    from libreplay.training.day import campaign_next

    played = datetime.now(UTC).isoformat()
    clean_win = {"session": "0000beef", "scenario": "001-nginx-502", "pack": "official", "player": "ann",
                 "started_at": played, "ended_at": played, "outcome": "success", "elapsed_seconds": 60,
                 "sla_seconds": 900, "hints_used": 0, "hints_total": 3, "score": 950}
    paths.ledger_path().parent.mkdir(parents=True, exist_ok=True)
    paths.ledger_path().write_text(json.dumps(clean_win) + "\n")
    assert campaign_next("zed") == "official/001-nginx-502"  # a new name: the easiest first
    assert campaign_next("ann") not in (None, "official/001-nginx-502")  # hers rests after a clean win


def test_a_training_file_from_before_the_new_fields_loads_as_it_was() -> None:
    from libreplay.core import store

    training, _tokens = model.create_training(scenarios=["a", "b"], seats=["ann"], session_minutes=10)
    data = store.read_toml(model.training_path(training.id))
    for added in ("campaign", "server_pid", "server_started", "ended_at"):
        data.pop(added, None)
    for seat in data["seats"]:
        seat.pop("ended_at"), seat.pop("end_reason")
    store.write_toml(model.training_path(training.id), data)
    loaded = model.load_training(training.id)
    assert not loaded.campaign and loaded.server_pid is None and not loaded.expired(training.created_at)
    assert loaded.scenario_for(loaded.seats[0]) == "a" and loaded.seats[0].end_reason == ""


@pytest.mark.parametrize("count", [0, MAX_SESSIONS + 1])
def test_max_sessions_is_bounded_naming_the_option(count: int) -> None:
    with pytest.raises(InvalidInput, match=f"--max-sessions: must be from 1 to {MAX_SESSIONS}"):
        TrainingDay(FakeEngine(), max_sessions=count)
    assert TrainingDay(FakeEngine(), max_sessions=MAX_SESSIONS).max_sessions == MAX_SESSIONS


def test_the_engine_s_pools_hold_the_streams_of_the_most_sessions() -> None:
    from libreplay.engine import docker_api

    assert docker_api.POOL_SIZE >= MAX_SESSIONS * docker_api.STREAMS_PER_SESSION


def test_activity_racing_an_end_leaves_no_stale_entry() -> None:
    """A key typed as the session is ended: the end runs between activity()'s look at the live
    sessions and its write (here inside the clock activity() reads)."""
    racing: list[threading.Thread] = []

    def clock() -> float:
        if racing and threading.current_thread() is threading.main_thread():
            ender = racing.pop()
            ender.start()
            ender.join(0.5)  # the end is done by now, unless activity() holds the day's lock
        return 1_000.0

    day = TrainingDay(FakeEngine(), max_sessions=2, clock=clock)
    _, tokens = day.create(scenarios=["a"], seats=["ann"], session_minutes=10)
    session = day.start(day.seat_for(tokens[0]))
    ender = threading.Thread(target=day.end, args=(session,))
    racing.append(ender)
    day.activity(session)
    ender.join(5)
    assert session not in day.live_sessions() and session not in day._last_activity
