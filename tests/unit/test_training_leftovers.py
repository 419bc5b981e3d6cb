"""What a gone server left (libreplay/training/leftovers.py), with session state files on disk
owned by processes that are alive or dead and a teardown that records what it is asked: no
Docker. Sessions of a local run and of a live server are never touched."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from libreplay.core import paths
from libreplay.core.errors import SessionError
from libreplay.session.owners import start_time
from libreplay.session.state import ACTIVE, SessionState, list_sessions, save_new_session
from libreplay.training import model
from libreplay.training.leftovers import LeftBehind, tear_down_left_behind

ME = (os.getpid(), start_time(os.getpid()))


@pytest.fixture
def dead() -> Iterator[tuple[int, float]]:
    """A process that was (its pid and start time) and is no more."""
    child = subprocess.Popen(["sleep", "60"])
    started = start_time(child.pid)
    assert started is not None
    child.kill()
    child.wait()
    yield child.pid, started


def session(session_id: str, *, owner: tuple[int, float | None] | None = None,
            holder: tuple[int, float | None] | None = None, player: str = "ann") -> str:
    save_new_session(SessionState(
        id=session_id, scenario="001-nginx-502", pack="official", scenario_dir="/nowhere",
        project=f"replaybook-{session_id}", status=ACTIVE, player=player,
        owner_pid=owner[0] if owner else None, owner_started=owner[1] if owner else None,
        holder_pid=holder[0] if holder else None, holder_started=holder[1] if holder else None,
    ))
    return session_id


def training_with(sessions: dict[str, str], server: tuple[int, float | None] | None) -> model.Training:
    """A training made by ``server`` whose seats (named by the keys) run these sessions."""
    training, _tokens = model.create_training(scenarios=["001-nginx-502"], seats=list(sessions),
                                              session_minutes=60, server=server)

    def taken(t: model.Training) -> None:
        for seat, session_id in zip(t.seats, sessions.values(), strict=True):
            seat.session_id, seat.scenario, seat.session_expires_at = session_id, "001-nginx-502", 1.0

    return model.update_training(training.id, taken)


class Downs:
    """The teardown: records each session asked and removes its state, as lifecycle.down does."""

    def __init__(self, failing: frozenset[str] = frozenset()) -> None:
        self.asked: list[str] = []
        self.failing = failing

    def __call__(self, session_id: str) -> None:
        self.asked.append(session_id)
        if session_id in self.failing:
            raise SessionError("docker compose down failed")
        shutil.rmtree(paths.session_dir(session_id))


def test_a_gone_server_s_sessions_go_and_its_files_say_so(dead: tuple[int, float]) -> None:
    gone = training_with({"ann": session("aaaa0001", owner=dead), "ben": session("aaaa0002", owner=dead),
                          "cy": ""}, server=dead)
    coming_up = session("aaaa0003", holder=dead, player="dee")  # killed while it came up: no seat yet
    down = Downs()
    left = tear_down_left_behind(down)
    assert sorted(down.asked) == ["aaaa0001", "aaaa0002", coming_up]
    assert LeftBehind("aaaa0003", gone.id, 0, "dee") in left
    assert LeftBehind("aaaa0001", gone.id, 1, "ann") in left and not any(item.error for item in left)
    after = model.load_training(gone.id)
    assert after.ended_at and after.expired(after.created_at)  # its invite tokens died with it
    assert [seat.end_reason for seat in after.seats] == [model.ENDED_SERVER_GONE] * 2 + [""]
    assert tear_down_left_behind(Downs()) == []  # once is enough


def test_sessions_of_a_local_run_and_of_a_live_server_are_never_touched(dead: tuple[int, float]) -> None:
    session("bbbb0001", owner=dead)  # a `replaybook run` killed: an orphan, but no training's
    session("bbbb0002", holder=dead)  # a replay-up killed, no owner: no training's either
    live = training_with({"ann": session("bbbb0003", owner=ME)}, server=ME)  # another serve, alive
    starting = session("bbbb0004", holder=ME)  # that server bringing a session up right now
    down = Downs()
    assert tear_down_left_behind(down) == [] and down.asked == []
    assert sorted(s.id for s in list_sessions()) == ["bbbb0001", "bbbb0002", "bbbb0003", starting]
    assert not model.load_training(live.id).ended_at


def test_a_reused_pid_is_not_the_gone_server(dead: tuple[int, float]) -> None:
    pid, started = dead
    training_with({"ann": ""}, server=(pid, started))
    session("cccc0001", owner=(pid, started + 3600))  # that pid, another process: a local run's
    down = Downs()
    assert tear_down_left_behind(down) == [] and down.asked == []


def test_a_training_from_before_servers_were_recorded_goes_by_its_seats(dead: tuple[int, float]) -> None:
    old = training_with({"ann": session("dddd0001", owner=dead), "ben": "dddd0002"}, server=None)
    kept = training_with({"cy": session("dddd0003", owner=ME)}, server=None)
    down = Downs()
    left = tear_down_left_behind(down)
    assert [item.session_id for item in left] == ["dddd0001"] and down.asked == ["dddd0001"]
    after = model.load_training(old.id)
    # ben's session was gone already (replay-down --all): his seat is told too.
    assert after.ended_at and [seat.end_reason for seat in after.seats] == [model.ENDED_SERVER_GONE] * 2
    assert not model.load_training(kept.id).ended_at


def test_a_failed_teardown_is_said_and_tried_again_at_the_next_start(dead: tuple[int, float]) -> None:
    gone = training_with({"ann": session("eeee0001", owner=dead)}, server=dead)
    left = tear_down_left_behind(Downs(failing=frozenset({"eeee0001"})))
    assert left == [LeftBehind("eeee0001", gone.id, 1, "ann", "docker compose down failed")]
    assert model.load_training(gone.id).seats[0].end_reason == ""
    assert [item.error for item in tear_down_left_behind(Downs())] == [""]
    assert model.load_training(gone.id).seats[0].end_reason == model.ENDED_SERVER_GONE
