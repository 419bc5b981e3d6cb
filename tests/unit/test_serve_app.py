"""replaybook serve's web app through Starlette's TestClient, over the fake engine (real PTYs
running `cat`, no Docker): who may see and do what, the headers, the live views, the terminal."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from servekit import FakeEngine
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from libreplay.training.day import TrainingDay
from libreplay.training.serving import Serving
from replaybook.web.app import OUTPUT_QUEUE_CHUNKS, _carry, create_app

ORIGIN = {"origin": "http://testserver"}


class Served:
    def __init__(self, client: TestClient, serving: Serving, engine: FakeEngine) -> None:
        self.client, self.serving, self.engine = client, serving, engine

    def as_facilitator(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.serving.token}"}

    def training(self, seats: Any = ("ann", "ben")) -> list[str]:
        seats = list(seats) if not isinstance(seats, int) else seats
        response = self.client.post("/api/trainings", headers=self.as_facilitator(),
                                    json={"scenarios": ["001-nginx-502"], "seats": seats,
                                          "session_minutes": 30})
        assert response.status_code == 201, response.text
        return [invite["url"].rsplit("/", 1)[1] for invite in response.json()["invites"]]

    def started(self, token: str, name: str = "") -> str:
        response = self.client.post("/api/seat/start", headers=bearer(token), json={"name": name})
        assert response.status_code == 202, response.text
        for _ in range(500):  # the start runs on a thread of its own
            session = self.client.get("/api/seat", headers=bearer(token)).json()["session"]
            if session:
                return str(session)
            time.sleep(0.02)
        raise AssertionError("the session never started")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def served() -> Iterator[Served]:
    engine = FakeEngine()
    serving = Serving(max_sessions=3, engine=engine)
    with TestClient(create_app(serving.day, facilitator_hash=serving.token_hash)) as client:
        yield Served(client, serving, engine)


def test_pages_need_their_token_and_carry_the_security_headers(served: Served) -> None:
    client = served.client
    assert client.get("/facilitator").status_code == 403
    assert client.get("/facilitator?token=" + "x" * 43).status_code == 403
    page = client.get("/facilitator?token=" + served.serving.token)
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-" not in policy  # neither inline script or style nor eval
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-frame-options"] == "DENY"
    assert "<script>" not in page.text and "cdn" not in page.text.lower()  # no inline script, nothing remote
    tokens = served.training()
    assert client.get(f"/join/{tokens[0]}").status_code == 200
    assert client.get(f"/join/{tokens[0][:-2]}xx").status_code == 404


def test_the_api_refuses_without_the_facilitator_token(served: Served) -> None:
    client = served.client
    body = {"scenarios": ["a"], "seats": 1, "session_minutes": 5}
    assert client.post("/api/trainings", json=body).status_code == 403
    tokens = served.training()
    # An invite token is no facilitator token.
    assert client.post("/api/trainings", json=body, headers=bearer(tokens[0])).status_code == 403
    assert client.get("/api/board", headers=bearer(tokens[0])).status_code == 403
    session = served.started(tokens[0])
    assert client.post(f"/api/sessions/{session}/end", headers=bearer(tokens[0])).status_code == 403
    assert served.engine.ended == []


def test_bad_training_input_is_a_400_naming_the_field(served: Served) -> None:
    response = served.client.post("/api/trainings", headers=served.as_facilitator(),
                                  json={"scenarios": ["a"], "seats": 1, "session_minutes": "soon"})
    assert response.status_code == 400 and "session_minutes" in response.json()["error"]
    response = served.client.post("/api/trainings", headers=served.as_facilitator(), content=b"[1]")
    assert response.status_code == 400


def test_a_trainee_reaches_only_their_own_session(served: Served) -> None:
    ann, ben = served.training()
    ann_session = served.started(ann)
    client = served.client
    # Ben's seat has nothing of Ann's: not her session, her page, her hints.
    ben_view = client.get("/api/seat", headers=bearer(ben)).json()
    assert ben_view["session"] == "" and ben_view["name"] == "ben"
    assert client.post("/api/seat/hint", headers=bearer(ben)).status_code == 409
    assert served.engine.states[ann_session].hints_used == 0
    # No request of a trainee's names a session: a guessed id goes nowhere.
    assert client.get(f"/api/seat?session={ann_session}", headers=bearer(ben)).json() == ben_view
    assert client.post(f"/api/sessions/{ann_session}/end", headers=bearer(ben)).status_code == 403
    assert client.get("/api/seat", headers=bearer("not-a-token")).status_code == 403
    hint = client.post("/api/seat/hint", headers=bearer(ann)).json()["hint"]
    assert (hint["number"], hint["total"]) == (1, 2)
    assert served.engine.states[ann_session].hints_used == 1


def test_the_board_lives_and_the_facilitator_ends_and_extends(served: Served) -> None:
    ann, _ben = served.training()
    session = served.started(ann)
    client = served.client
    with client.websocket_connect(f"/ws/board?token={served.serving.token}", headers=ORIGIN) as socket:
        board = json.loads(socket.receive_text())
        rows = {row["trainee"]: row for row in board["sessions"]}
        assert rows["ann"]["status"] == "active" and rows["ben"]["status"] == "waiting"
        served.engine.resolve(session)
        served.serving.day.changed()
        for _ in range(30):  # a board a second at most, besides the changes
            board = json.loads(socket.receive_text())
            if board["leaderboard"]:
                break
        assert board["leaderboard"][0]["trainee"] == "ann"
    extended = client.post(f"/api/sessions/{session}/extend", headers=served.as_facilitator(),
                           json={"minutes": 10})
    assert extended.status_code == 200
    assert client.post(f"/api/sessions/{session}/end", headers=served.as_facilitator()).status_code == 200
    assert served.engine.ended == [session]
    assert client.post("/api/sessions/nosuch/end", headers=served.as_facilitator()).status_code == 404


def test_max_sessions_refuses_clearly(served: Served) -> None:
    tokens = served.training(seats=4)
    for number, token in enumerate(tokens[:3]):
        served.started(token, name=f"p{number}")
    refused = served.client.post("/api/seat/start", headers=bearer(tokens[3]), json={"name": "late"})
    assert refused.status_code == 409 and "--max-sessions" in refused.json()["error"]
    assert served.client.get("/api/seat", headers=bearer(tokens[3])).json()["session"] == ""
    assert len(served.engine.started) == 3


SOCKETS = ["/ws/board?token={f}", "/ws/seat?token={t}", "/ws/terminal?token={t}&service=proxy",
           "/ws/watch/{s}?token={f}&service=proxy"]


@pytest.mark.parametrize("path", SOCKETS)
def test_websockets_refuse_another_origin_and_bad_tokens(served: Served, path: str) -> None:
    tokens = served.training()
    session = served.started(tokens[0])
    good = path.format(f=served.serving.token, t=tokens[0], s=session)
    swapped = path.format(f=tokens[0], t=served.serving.token, s=session)  # the other kind of token
    tampered = path.format(f=served.serving.token[:-3] + "abc", t=tokens[0][:-3] + "abc", s=session)
    for headers, url in (({"origin": "http://evil.example"}, good), ({"origin": "null"}, good), ({}, good),
                         (ORIGIN, swapped), (ORIGIN, tampered),
                         (ORIGIN, path.split("?", 1)[0].format(s=session))):
        with pytest.raises(WebSocketDisconnect) as refused, \
                served.client.websocket_connect(url, headers=headers) as socket:
            socket.receive_text()
        assert refused.value.code == 1008, (headers, url)


def test_the_terminal_carries_keys_and_output_and_the_watcher_reads_only(served: Served) -> None:
    ann, ben = served.training()
    session = served.started(ann)
    client = served.client
    with client.websocket_connect(f"/ws/terminal?token={ann}&service=proxy", headers=ORIGIN) as terminal:
        terminal.send_text(json.dumps({"resize": [30, 100]}))
        terminal.send_text(json.dumps({"input": "hello from ann\r"}))
        seen = b""
        while b"hello from ann" not in seen:
            seen += terminal.receive_bytes()
        with client.websocket_connect(f"/ws/watch/{session}?token={served.serving.token}&service=proxy",
                                      headers=ORIGIN) as watch:
            shown = b""
            while b"hello from ann" not in shown:  # the backlog first
                shown += watch.receive_bytes()
            watch.send_text(json.dumps({"input": "typed by the facilitator\r"}))  # read-only: dropped
            terminal.send_text(json.dumps({"input": "second line\r"}))
            while b"second line" not in shown:
                shown += watch.receive_bytes()
            assert b"typed by the facilitator" not in shown
    # Ben, who has no session, opens no terminal at all.
    with pytest.raises(WebSocketDisconnect), \
            client.websocket_connect(f"/ws/terminal?token={ben}&service=proxy", headers=ORIGIN) as other:
        other.receive_bytes()


def test_the_seat_events_follow_the_session_to_its_debrief(served: Served) -> None:
    ann, _ben = served.training()
    session = served.started(ann)
    with served.client.websocket_connect(f"/ws/seat?token={ann}", headers=ORIGIN) as events:
        view = json.loads(events.receive_text())
        assert view["status"] == "active" and view["page"].startswith("PAGE: <script>")  # the page escapes it
        assert "\x1b" not in view["title"]
        served.engine.resolve(session)
        served.serving.day.changed()
        while view["status"] != "resolved":
            view = json.loads(events.receive_text())
        assert view["debrief"][0] == "== debrief =="


def test_stopping_the_server_tears_down_every_session(served: Served) -> None:
    tokens = served.training()
    sessions = [served.started(token) for token in tokens]
    served.client.__exit__(None, None, None)  # the lifespan's end, as on Ctrl-C
    assert sorted(served.engine.ended) == sorted(sessions)


def test_a_trainee_s_terminal_opens_only_their_own_services(served: Served) -> None:
    ann, _ben = served.training()
    served.started(ann)
    with pytest.raises(WebSocketDisconnect) as refused, served.client.websocket_connect(
            f"/ws/terminal?token={ann}&service=../../etc", headers=ORIGIN) as socket:
        socket.receive_bytes()
    assert refused.value.code == 1008


def test_watching_a_session_of_no_one_says_so(served: Served) -> None:
    with served.client.websocket_connect(f"/ws/watch/deadbeef?token={served.serving.token}&service=proxy",
                                         headers=ORIGIN) as watch:
        assert "no live session" in json.loads(watch.receive_text())["error"]


def test_a_shell_that_does_not_read_stalls_no_one_else() -> None:
    engine = FakeEngine(shell=["sleep", "60"])  # never reads what is typed
    serving = Serving(max_sessions=3, engine=engine)
    with TestClient(create_app(serving.day, facilitator_hash=serving.token_hash)) as client:
        served = Served(client, serving, engine)
        ann, ben = served.training()
        served.started(ann)
        with client.websocket_connect(f"/ws/terminal?token={ann}&service=proxy", headers=ORIGIN) as terminal:
            for _ in range(64):  # a 1 MiB paste in 16 KiB pieces: far past what a PTY holds
                terminal.send_text(json.dumps({"input": "x" * 16 * 1024}))
            began = time.monotonic()
            assert client.get("/api/seat", headers=bearer(ben)).status_code == 200
            assert time.monotonic() - began < 2.0


def test_a_terminal_message_past_the_limit_closes_that_terminal(served: Served) -> None:
    ann, _ben = served.training()
    served.started(ann)
    with pytest.raises(WebSocketDisconnect) as closed, served.client.websocket_connect(
            f"/ws/terminal?token={ann}&service=proxy", headers=ORIGIN) as terminal:
        terminal.send_text(json.dumps({"input": "x" * 100 * 1024}))
        while True:
            terminal.receive_bytes()
    assert closed.value.code == 1009


class StuckSocket:
    """A browser that takes no output: its sends never finish; it records how it is closed."""

    def __init__(self) -> None:
        self.closed: tuple[int, str] | None = None

    async def send_bytes(self, _data: bytes) -> None:
        await asyncio.Event().wait()

    async def receive(self) -> dict[str, Any]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = (code, reason)


class LoudBridge:
    """A terminal whose output is pushed by the test, from a thread as the PTY pump does."""

    def __init__(self) -> None:
        self.listeners: list[Any] = []

    def listen(self, listener: Any) -> Any:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)


def test_a_watcher_too_slow_for_the_output_is_dropped_not_buffered() -> None:
    socket, bridge = StuckSocket(), LoudBridge()

    async def scenario() -> None:
        carrying = asyncio.create_task(_carry(socket, bridge, writable=False, accepted=True))
        while not bridge.listeners:
            await asyncio.sleep(0.01)
        pushed = 0

        def yes() -> None:  # `yes` in the shell: far more than the queue holds
            nonlocal pushed
            for _ in range(10 * OUTPUT_QUEUE_CHUNKS):
                for listener in list(bridge.listeners):
                    listener(b"y\n" * 32 * 1024)
                    pushed += 1

        await asyncio.to_thread(yes)
        await asyncio.wait_for(carrying, timeout=5)
        assert pushed > OUTPUT_QUEUE_CHUNKS  # the pump never waited for the slow socket

    asyncio.run(scenario())
    assert socket.closed is not None and socket.closed[0] == 1013
    assert bridge.listeners == []  # it hears the terminal no more


def test_the_reaper_outlives_an_unexpected_failure(capsys: pytest.CaptureFixture[str]) -> None:
    serving = Serving(max_sessions=3, engine=FakeEngine())
    reaps = []

    def broken_reap() -> list[str]:
        reaps.append(time.monotonic())
        raise RuntimeError("a bug in reap")

    serving.day.reap = broken_reap  # type: ignore[method-assign]
    with TestClient(create_app(serving.day, facilitator_hash=serving.token_hash, reap_every=0.02)):
        deadline = time.monotonic() + 5
        while len(reaps) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert len(reaps) >= 3
    assert "reaping sessions failed: RuntimeError: a bug in reap" in capsys.readouterr().err


@pytest.fixture
def clocked() -> Iterator[tuple[Served, list[float]]]:
    """The app over a day on a clock the test moves (idle after 20 minutes), whose campaign
    gives every trainee 001; the reaper is the test's to call."""
    moment = [1_000.0]
    engine = FakeEngine()
    serving = Serving(max_sessions=3, engine=engine)
    serving.day = TrainingDay(engine, max_sessions=3, idle_minutes=20, clock=lambda: moment[0],
                              campaign=lambda _player: "official/001-nginx-502")
    with TestClient(create_app(serving.day, facilitator_hash=serving.token_hash, reap_every=3600)) as client:
        yield Served(client, serving, engine), moment


def test_the_trainee_s_keys_keep_a_session_a_watcher_s_do_not(clocked: tuple[Served, list[float]]) -> None:
    served, moment = clocked
    day, client = served.serving.day, served.client
    ann, _ben = served.training()  # sessions live 30 minutes
    session = served.started(ann)
    assert day.idle_ends_at(session) == 1_000 + 20 * 60  # the start counts
    with client.websocket_connect(f"/ws/terminal?token={ann}&service=proxy", headers=ORIGIN) as terminal:
        moment[0] = 1_000 + 5 * 60
        terminal.send_text(json.dumps({"input": "still here\r"}))
        seen = b""
        while b"still here" not in seen:
            seen += terminal.receive_bytes()
        assert day.idle_ends_at(session) == 1_000 + 25 * 60
        moment[0] = 1_000 + 20 * 60
        with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect(
                f"/ws/watch/{session}?token={served.serving.token}&service=proxy", headers=ORIGIN) as watch:
            watch.send_text(json.dumps({"input": "the facilitator types\r"}))
            watch.send_text("x" * 100 * 1024)  # closes the watch once the keys before it were read
            while True:
                watch.receive_bytes()
        assert closed.value.code == 1009
        assert day.idle_ends_at(session) == 1_000 + 25 * 60  # a watcher is not the trainee
        moment[0] = 1_000 + 25 * 60
        assert day.reap() == [session]
    view = client.get("/api/seat", headers=bearer(ann)).json()
    assert view["status"] == "ended" and "idleness" in view["ended_because"]
    rows = client.get("/api/board", headers=served.as_facilitator()).json()["sessions"]
    assert "idleness" in rows[0]["ended_because"] and served.engine.ended == [session]


def test_a_resize_is_not_the_trainee_s_activity() -> None:
    from replaybook.web.app import _typed

    class Bridge:
        def write(self, _data: bytes) -> None: ...
        def resize(self, _rows: int, _cols: int) -> None: ...

    assert _typed(Bridge(), json.dumps({"input": "ls\r"}))
    assert not _typed(Bridge(), json.dumps({"resize": [30, 100]}))
    assert not _typed(Bridge(), json.dumps({"input": ""}))
    assert not _typed(Bridge(), "not json")


def test_a_campaign_training_through_the_api(clocked: tuple[Served, list[float]]) -> None:
    served, _moment = clocked
    client = served.client
    made = client.post("/api/trainings", headers=served.as_facilitator(),
                       json={"campaign": True, "seats": ["ann"], "session_minutes": 30})
    assert made.status_code == 201, made.text
    assert made.json()["campaign"] is True and made.json()["invites"][0]["scenario"] == "campaign"
    token = made.json()["invites"][0]["url"].rsplit("/", 1)[1]
    session = served.started(token)
    assert served.engine.states[session].scenario == "official/001-nginx-502"
    assert client.get("/api/board", headers=served.as_facilitator()).json()["sessions"][0]["scenario"] == (
        "official/001-nginx-502")
    for body, field in (({"campaign": "yes", "seats": 1}, "campaign"),
                        ({"campaign": True, "scenarios": ["a"], "seats": 1}, "scenarios")):
        refused = client.post("/api/trainings", headers=served.as_facilitator(), json=body)
        assert refused.status_code == 400 and field in refused.json()["error"]
    page = client.get("/facilitator?token=" + served.serving.token).text
    assert 'id="campaign"' in page


def test_a_thread_s_uncaught_fault_is_said_inert_and_logged_with_its_session() -> None:
    """Python's own hook would print the raw trace on the server's terminal: a trainee's input in
    it (escape sequences) would reach the facilitator's terminal."""
    import threading

    from libreplay.core import paths
    from libreplay.training.engine import WATCH_LOG

    said: list[str] = []
    serving = Serving(max_sessions=3, engine=FakeEngine(), say=said.append)
    previous = threading.excepthook
    serving.catch_thread_faults()
    try:
        assert threading.excepthook != previous

        def fail(name: str) -> None:
            def run() -> None:
                raise ValueError("typed: \x1b]52;c;ZXZpbA==\x07\x1b[2J gone\nsecond line")

            thread = threading.Thread(target=run, name=name)
            thread.start()
            thread.join(5)

        fail("docker-tool")  # no session in its name: the trace on stderr
        assert len(said) == 1 and "\x1b" not in said[0] and "\x07" not in said[0]
        assert said[0].startswith("thread docker-tool failed: ValueError: typed:") and "Traceback" in said[0]
        session = "sess0001"
        paths.session_dir(session).mkdir(parents=True)
        serving.day._live[session] = ("training", 1)
        fail(f"watch-{session}")  # one line here, the trace in the session's .watch.log
        serving.day._live.clear()
        assert said[1] == (f"session {session}: its thread watch-{session} failed: ValueError: typed: "
                           "gone second line (the trace is in its .watch.log)")
        log = (paths.session_dir(session) / WATCH_LOG).read_text()
        assert "Traceback" in log and "ValueError" in log and "\x1b" not in log and "\x07" not in log
    finally:
        serving.stop()
    assert threading.excepthook == previous  # the server's stop puts Python's own back
