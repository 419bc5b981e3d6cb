"""Fast unit tests of the engine's pure parts: score, atomic store, override, probe URL."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from libreplay.core import paths
from libreplay.core.store import read_toml, update_toml, write_toml
from libreplay.scenario.load import load_scenario
from libreplay.session import ledger, state
from libreplay.session.checks import parse_probe_line
from libreplay.session.model import PROBE_SERVICE
from libreplay.session.stack import Stack, probe_url

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "testpack"


@pytest.mark.parametrize(
    ("fixed", "elapsed", "penalised", "expected"),
    [
        (True, 0, (0, 0, 0), 1000),
        (True, 450, (0, 0, 0), 700),  # half the SLA used costs 300 points ...
        (True, 450, (2, 0, 0), 600),  # ... two hints cost 100
        (True, 900, (0, 0, 0), 400),
        (True, 90, (0, 1, 0), 790),  # a guard tripped costs 150
        (True, 90, (0, 0, 2), 790),  # a relapse costs 75
        (True, 899, (9, 2, 3), 100),  # never below 100 for a fix
        (True, 5000, (0, 0, 0), 400),  # a late clock cannot go negative
        (False, 10, (0, 0, 0), 0),
    ],
)
def test_score_is_deterministic(
    fixed: bool, elapsed: float, penalised: tuple[int, int, int], expected: int
) -> None:
    """``penalised``: hints, guards tripped, relapses."""
    hints, guards, relapses = penalised
    got = ledger.score(fixed=fixed, elapsed_seconds=elapsed, sla_seconds=900, hints_used=hints,
                       guards_tripped=guards, relapses=relapses)
    assert got == expected


def test_time_counts_more_than_a_hint() -> None:
    """Fixing in 8 s against 5 minutes of a 15-minute SLA: the speed is worth more than 3 hints."""
    quick = ledger.score(fixed=True, elapsed_seconds=8, sla_seconds=900, hints_used=3)
    slow = ledger.score(fixed=True, elapsed_seconds=300, sla_seconds=900, hints_used=0)
    assert quick > slow


def test_concurrent_updates_are_never_lost(tmp_path: Path) -> None:
    path = tmp_path / "counter.toml"
    write_toml(path, {"n": 0})

    def bump() -> None:
        for _ in range(25):
            update_toml(path, lambda data: data.update(n=data["n"] + 1))

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert read_toml(path)["n"] == 100
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == ["counter.toml"]


def test_session_state_round_trips_with_times() -> None:
    start = state.now()
    session = state.SessionState(
        id="abcd1234", scenario="x", pack="p", scenario_dir="/tmp/x", project="replaybook-abcd1234",
        started_at=start, deadline=start + timedelta(minutes=15), hints_revealed=["one"],
    )  # fmt: skip
    state.save_new_session(session)
    loaded = state.load_session("abcd1234")
    assert loaded.deadline == start + timedelta(minutes=15)
    assert loaded.hints_revealed == ["one"] and loaded.resolved_at is None
    updated = state.update_session("abcd1234", lambda s: setattr(s, "hints_used", 1))
    assert updated.hints_used == 1 == state.load_session("abcd1234").hints_used


def test_ledger_line_and_personal_best() -> None:
    start = state.now()
    for session_id, seconds, hints in (("a", 300, 1), ("b", 120, 0), ("c", 60, 3)):
        record = state.SessionState(
            id=session_id, scenario="s1", pack="official", scenario_dir="", project="",
            status=state.RESOLVED, started_at=start, resolved_at=start + timedelta(seconds=seconds),
            sla_seconds=900, hints_used=hints, outcome="success",
        )  # fmt: skip
        record.ended_at = record.resolved_at
        record.score = ledger.score(fixed=True, elapsed_seconds=seconds, sla_seconds=900, hints_used=hints)
        ledger.record(record)
    lines = ledger.read_ledger()
    assert [line["session"] for line in lines] == ["a", "b", "c"]
    assert lines[1]["elapsed_seconds"] == 120 and lines[1]["outcome"] == "success"
    best = ledger.personal_best("s1")
    assert best is not None and best["session"] == "b"
    assert paths.ledger_path().parent == paths.data_dir()


def test_session_model_labels_images_probe_and_no_host_ports(tmp_path: Path) -> None:
    scenario = load_scenario(FIXTURES / "t-http")
    stack = Stack(scenario, "s1", "replaybook-s1", tmp_path)
    stack.prepare("replaybook/probe:test")
    services = json.loads(stack.model_file.read_text())["services"]
    assert set(services) == {"web", "app", PROBE_SERVICE}
    assert services["web"]["labels"]["org.replaybook.session"] == "s1"
    assert services["web"]["image"].startswith("replaybook/t-http-web:")
    assert all("ports" not in spec for spec in services.values())
    assert all("volumes" not in spec for spec in services.values())  # no host path in any container
    assert services[PROBE_SERVICE]["environment"]["PROBE_URL"] == "http://web:80/"
    assert services[PROBE_SERVICE]["networks"] == {"default": None}
    assert stack.env()["COMPOSE_FILE"] == str(stack.model_file)


def test_probe_url_maps_localhost_to_the_shell_or_the_publishing_service() -> None:
    published = load_scenario(FIXTURES.parent / "upstream" / "up-health-http")
    assert probe_url(published) == "http://app:3000/health"
    named = load_scenario(FIXTURES / "t-name")
    assert probe_url(named) == "http://app:3000/ok"


@pytest.mark.parametrize(
    ("line", "ok"),
    [("1700000000.5 ok 200", True), ("1700000000.5 fail 502", False), ("garbage", None), ("x ok", None)],
)
def test_probe_lines(line: str, ok: bool | None) -> None:
    event = parse_probe_line(line)
    assert (event.ok if event else None) == ok


def test_a_script_killed_by_a_signal_is_an_answer_not_a_crash() -> None:
    from libreplay.core.proc import run

    result = run(["bash", "-c", "kill -KILL $$"], timeout=10)
    assert not result.ok
    assert result.how_it_ended == "was killed by signal 9"


def test_an_update_never_recreates_a_session_that_is_gone() -> None:
    from libreplay.core.errors import NotFound

    session = state.SessionState(id="gone1234", scenario="x", pack="p", scenario_dir="", project="")
    state.save_new_session(session)
    directory = paths.session_dir("gone1234")
    for child in directory.iterdir():
        child.unlink()
    directory.rmdir()
    with pytest.raises(NotFound):
        state.update_session("gone1234", lambda s: setattr(s, "hints_used", 1))
    assert not directory.exists()


def test_localhost_without_a_port_maps_to_the_service_publishing_port_80() -> None:
    from dataclasses import replace

    from libreplay.scenario.model import PublishedPort

    scenario = replace(
        load_scenario(FIXTURES / "t-name"),
        success_target="http://localhost/health",
        published_ports=(PublishedPort("app", 80, 3000),),
    )
    assert probe_url(scenario) == "http://app:3000/health"


@pytest.mark.parametrize(
    ("minutes", "env", "message"),
    [
        (10**30, None, "--sla: must be minutes from 1 to 1440, got 1"),
        (0, None, "--sla: must be minutes from 1 to 1440, got 0"),
        (None, "1e400", "REPLAYBOOK_SLA_SECONDS: must be a number of seconds from 1 to 86400"),
        (None, "nan", "REPLAYBOOK_SLA_SECONDS: must be a number of seconds from 1 to 86400"),
        (None, "soon", "REPLAYBOOK_SLA_SECONDS: must be a number of seconds from 1 to 86400"),
    ],
)
def test_an_absurd_sla_is_refused_not_overflowed(
    minutes: int | None, env: str | None, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from libreplay.core.errors import InvalidInput
    from libreplay.session.lifecycle import sla_seconds_for

    if env is not None:
        monkeypatch.setenv("REPLAYBOOK_SLA_SECONDS", env)
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(")):
        sla_seconds_for(load_scenario(FIXTURES / "t-exit"), minutes)


def test_reading_hands_on_the_output_and_refuses_to_end_a_failed_childs() -> None:
    from libreplay.core.proc import ProcessFailed, reading

    with reading(["sh", "-c", "printf abc; printf def; echo why >&2"], timeout=10) as chunks:
        assert b"".join(chunks) == b"abcdef"
    got: list[bytes] = []
    with pytest.raises(ProcessFailed, match="exited 3: cut short"), \
            reading(["sh", "-c", "printf abc; echo cut short >&2; exit 3"], timeout=10) as chunks:
        got.extend(chunks)
    assert got == [b"abc"]  # what came is handed on; the end is an error, never a quiet stop


def test_reading_stops_a_child_at_its_time_limit_though_a_grandchild_holds_the_pipe() -> None:
    import time

    from libreplay.core.proc import ProcessTimeout, reading

    started = time.monotonic()
    with pytest.raises(ProcessTimeout, match="did not finish within 1 s"), \
            reading(["sh", "-c", "printf abc; sleep 30; true"], timeout=1) as chunks:
        list(chunks)
    assert time.monotonic() - started < 10


def test_every_status_has_one_meaning() -> None:
    assert set(state.STATUS_MEANINGS) == set(state.STATUSES)
    assert {state.RESOLVED, state.TIMEOUT, state.ABANDONED, state.ERROR} == state.TERMINAL
    outcomes = {status: meaning.outcome for status, meaning in state.STATUS_MEANINGS.items()}
    assert outcomes[state.RESOLVED] == "success" and outcomes[state.TIMEOUT] == "timeout"
    assert {outcomes[s] for s in state.STATUSES if s not in (state.RESOLVED, state.TIMEOUT)} == {"abandoned"}


def test_elapsed_time_runs_to_the_fix_else_the_end_else_now() -> None:
    start = state.now()
    session = state.SessionState(id="t", scenario="x", pack="p", scenario_dir="", project="",
                                 started_at=start, deadline=start + timedelta(seconds=900))
    assert session.elapsed_seconds() == 0.0  # running, and no "now" given
    assert session.elapsed_seconds(start + timedelta(seconds=30)) == 30
    assert session.remaining_seconds(start + timedelta(seconds=30)) == 870
    session.ended_at = start + timedelta(seconds=100)
    assert session.elapsed_seconds(start + timedelta(seconds=999)) == 100
    session.resolved_at = start + timedelta(seconds=60)
    assert session.elapsed_seconds() == 60
    assert not session.breached(start + timedelta(seconds=899)) and session.breached(session.deadline)


def test_a_ledger_line_holds_what_its_score_is_computed_from(tmp_path: Path) -> None:
    """The score is recomputed from the ledger line alone: the elapsed time as recorded (to the
    hundredth), the SLA, the hints, the guards tripped and the relapses."""
    from datetime import timedelta

    from libreplay.session.lifecycle import closed
    from libreplay.session.state import RESOLVED, SessionState, now

    start = now() - timedelta(seconds=100)
    state = SessionState(id="s1", scenario="t", pack="local", scenario_dir="/x", project="replaybook-s1",
                         started_at=start, deadline=start + timedelta(seconds=300), sla_seconds=300,
                         hints_used=1, relapses=1, guards_tripped=["kept"],
                         fix_landed_at=start + timedelta(seconds=12.345678))
    line = ledger.record(closed(state, RESOLVED))
    assert line["elapsed_seconds"] == 12.35 and line["sla_seconds"] == 300
    again = ledger.score(fixed=True, elapsed_seconds=line["elapsed_seconds"], sla_seconds=line["sla_seconds"],
                         hints_used=line["hints_used"], guards_tripped=len(line["guards_tripped"]),
                         relapses=line["relapses"])
    assert line["score"] == again == 400 + round(600 * (1 - 12.35 / 300)) - 50 - 150 - 75


def test_threads_asking_for_the_client_at_once_get_one_client(monkeypatch: pytest.MonkeyPatch) -> None:
    # replay-up meets the engine on a thread while its main thread goes on.
    from libreplay.engine import docker_api

    made: list[object] = []

    def slow_client(*_endpoint: object) -> object:
        time.sleep(0.05)  # the SDK's import and connection: long enough for a race
        made.append(object())
        return made[-1]

    monkeypatch.setattr(docker_api, "_new_client", slow_client)
    monkeypatch.setattr(docker_api, "_clients", {})
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(docker_api.client())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1 and all(each is made[0] for each in got)
