"""The fix watcher on a thread of a long-lived process (replaybook serve), without an engine: the
real watcher and its real followers over a fake Docker client whose streams block as the
engine's do. A stop ends the watch at once and every thread it started; no signal handler is
touched; a second watcher of the session in the same process is refused; a watcher that fails
ends the session in error and says so in the session's .watch.log and to the server."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from scenario_kit import write_scenario

from libreplay.core import paths
from libreplay.core.errors import EnvironmentProblem, NotFound, SessionError
from libreplay.engine import docker_api
from libreplay.scenario.load import load_scenario
from libreplay.session import state as states
from libreplay.session import watcher
from libreplay.session.snapshot import write_snapshot
from libreplay.training import engine as training_engine

SESSION = "inproc01"
PROJECT = f"replaybook-{SESSION}"


class BlockingStream:
    """A followed log or event stream: a read blocks until the engine ends it or someone closes it."""

    def __init__(self) -> None:
        self.ended = threading.Event()

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        self.ended.wait()
        raise StopIteration

    def close(self) -> None:
        self.ended.set()


class FakeContainer:
    def __init__(self, service: str) -> None:
        self.id = f"{service}-0123456789ab"
        self.name = f"{PROJECT}-{service}-1"
        self.status = "running"
        self.labels = {docker_api.SERVICE_LABEL: service, docker_api.PROJECT_LABEL: PROJECT}
        self.attrs: dict[str, Any] = {"State": {"Running": True}, "Config": {"Env": []}}


class FakeAPI:
    base_url = "http+docker://localhost"

    def __init__(self) -> None:
        self.streams: list[BlockingStream] = []
        self.logs_of: dict[str, BlockingStream] = {}  # by container id

    def _stream(self) -> BlockingStream:
        stream = BlockingStream()
        self.streams.append(stream)
        return stream

    def logs(self, container_id: str, **_kwargs: Any) -> BlockingStream:
        stream = self.logs_of[container_id] = self._stream()
        return stream

    def events(self, **_kwargs: Any) -> BlockingStream:
        return self._stream()

    def put_archive(self, *_args: Any) -> bool:
        return True


class FakeContainers:
    def __init__(self, services: list[str]) -> None:
        self.running = {service: FakeContainer(service) for service in services}

    def list(self, *, filters: dict[str, Any], **_kwargs: Any) -> list[FakeContainer]:
        wanted = [label.split("=", 1)[1] for label in filters.get("label", [])
                  if label.startswith(docker_api.SERVICE_LABEL)]
        return [c for s, c in self.running.items() if not wanted or s in wanted]


class FakeClient:
    def __init__(self, services: list[str]) -> None:
        self.api = FakeAPI()
        self.containers = FakeContainers(services)

    def info(self) -> dict[str, Any]:
        return {}


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> FakeClient:
    client = FakeClient(["web", "app", "replaybook-probe"])
    monkeypatch.setattr(docker_api, "client", lambda: client)
    return client


@pytest.fixture
def session(tmp_path: Path) -> str:
    directory = write_scenario(tmp_path / "s")
    started = states.now()
    record = states.SessionState(
        id=SESSION, scenario="demo-502", pack="local", scenario_dir=str(directory), project=PROJECT,
        status=states.ACTIVE, shell_service="web", services=["web", "app"], success_condition="http_200",
        started_at=started, deadline=started + timedelta(minutes=30), hints_total=2,
    )  # fmt: skip
    states.save_new_session(record)
    write_snapshot(load_scenario(directory), record.directory)
    return SESSION


def until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def watcher_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t not in before and t.is_alive()]


def test_a_stop_ends_the_watch_and_every_thread_it_started(engine: FakeClient, session: str) -> None:
    before = set(threading.enumerate())
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    stop = watcher.WatchStop()
    ended: list[states.SessionState] = []
    thread = threading.Thread(target=lambda: ended.append(watcher.watch(session, through_deadline=True,
                                                                        down_on_interrupt=False, stop=stop)))
    thread.start()
    try:
        # The probe's log, the engine's events and the shell's log are followed, the directory watched.
        assert until(lambda: len(engine.api.streams) >= 3)
        expected = {"probe-follower", "stack-follower", "hint-follower", "session-files"}
        assert until(lambda: expected <= {t.name for t in watcher_threads(before)})
        assert states.load_session(session).holder_pid is not None  # this process holds it
        with pytest.raises(SessionError, match="already watched by this process"):
            watcher.watch(session)  # one watcher per session, in this process too
    finally:
        started = time.monotonic()
        stop.set()
        thread.join(5)
    assert not thread.is_alive() and time.monotonic() - started < 2.0  # at once, on a loaded machine
    assert until(lambda: not watcher_threads(before)), [t.name for t in watcher_threads(before)]
    assert all(stream.ended.is_set() for stream in engine.api.streams)
    after = states.load_session(session)
    assert (after.status, after.outcome, after.holder_pid) == (states.ACTIVE, None, None)  # the caller's
    assert ended and ended[0].status == states.ACTIVE
    assert {sig: signal.getsignal(sig) for sig in handlers} == handlers  # the main thread's, untouched


def test_a_stop_before_the_watch_starts_ends_it_at_once(engine: FakeClient, session: str) -> None:
    stop = watcher.WatchStop()
    stop.set()
    assert watcher.watch(session, stop=stop).status == states.ACTIVE


def test_the_engine_watches_on_a_thread_and_end_stops_it(
    engine: FakeClient, session: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from libreplay.session import lifecycle

    downs: list[str] = []
    monkeypatch.setattr(lifecycle, "down", downs.append)
    before = set(threading.enumerate())
    said: list[str] = []
    real = training_engine.LifecycleEngine(say=said.append)
    real._start_watcher(session)
    try:
        assert until(lambda: len(engine.api.streams) >= 3)
        assert f"watch-{session}" in {t.name for t in threading.enumerate()}
    finally:
        real.end(session)
    assert downs == [session]
    assert until(lambda: not watcher_threads(before)), [t.name for t in watcher_threads(before)]
    assert said == []  # a watch that was stopped is no failure


def test_a_watcher_that_fails_ends_the_session_in_error_and_says_so(
    engine: FakeClient, session: str
) -> None:
    before = set(threading.enumerate())
    said: list[str] = []
    real = training_engine.LifecycleEngine(say=said.append)
    real._start_watcher(session)
    try:
        assert until(lambda: engine.api.logs_of.get(FakeContainer("replaybook-probe").id) is not None)
        # The probe goes away (the stack was broken beyond repair): its log stream ends.
        probe = engine.containers.running.pop("replaybook-probe")
        engine.api.logs_of[probe.id].close()
        assert until(lambda: states.load_session(session).status == states.ERROR)
        assert until(lambda: bool(said))
    finally:
        for watching in real._watchers.values():  # a failed assertion leaves no watcher running
            watching.stop.set()
            watching.thread.join(5)
    assert said[0].startswith(f"session {session}: its watcher stopped: ") and "probe went away" in said[0]
    log = (paths.session_dir(session) / training_engine.WATCH_LOG).read_text()
    assert "Error: session inproc01: the check probe went away" in log and "Hint: " in log
    assert until(lambda: not watcher_threads(before)), [t.name for t in watcher_threads(before)]
    assert paths.ledger_path().read_text().count(session) == 1  # recorded once, as abandoned


@pytest.mark.parametrize("failure", ["engine", "state-lost"])
def test_a_watcher_stopped_mid_round_ends_nothing_in_error(
    engine: FakeClient, session: str, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    """end() asks the stop while the watcher is busy (a check.sh run, here a look at the probe),
    then tears the session down: what fails then is the teardown's doing, and the session is
    left to the caller (abandoned), not ended in error, and nothing is said."""
    busy, release = threading.Event(), threading.Event()

    def probe_alive(_check: object) -> bool:
        busy.set()
        release.wait(10)
        if failure == "engine":
            raise EnvironmentProblem("the Docker engine at unix:///x did not answer")
        (paths.session_dir(session) / states.SESSION_FILE).unlink()  # the teardown under way
        raise watcher._SessionEnded

    monkeypatch.setattr(watcher, "probe_alive", probe_alive)
    monkeypatch.setattr(watcher, "LOST_STATE_GRACE_SECONDS", 0.2)
    before = set(threading.enumerate())
    said: list[str] = []
    real = training_engine.LifecycleEngine(say=said.append)
    real._start_watcher(session)
    watching = real._watchers[session]
    try:
        assert until(lambda: engine.api.logs_of.get(FakeContainer("replaybook-probe").id) is not None)
        engine.api.logs_of[FakeContainer("replaybook-probe").id].close()  # the probe's log dropped
        assert busy.wait(5)
        watching.stop.set()  # as end() does, before its teardown
        release.set()
        watching.thread.join(5)
    finally:
        release.set()
        watching.stop.set()
        watching.thread.join(5)
    assert not watching.thread.is_alive() and said == []
    if failure == "engine":
        assert states.load_session(session).status == states.ACTIVE
    assert not paths.ledger_path().exists() or session not in paths.ledger_path().read_text()
    assert until(lambda: not watcher_threads(before)), [t.name for t in watcher_threads(before)]


def test_a_fault_of_ours_in_the_watcher_ends_the_session_in_error(
    session: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise KeyError("\x1b]52;c;ZXZpbA==\x07a bug")

    monkeypatch.setattr(watcher, "watch", broken)
    said: list[str] = []
    training_engine.LifecycleEngine(say=said.append)._watch(session, watcher.WatchStop())
    after = states.load_session(session)
    assert after.status == states.ERROR and "its watcher failed: KeyError" in (after.error or "")
    assert len(said) == 1 and said[0].startswith(f"session {session}: its watcher stopped: KeyError")
    log = (paths.session_dir(session) / training_engine.WATCH_LOG).read_text()
    assert "Traceback" in log and "\x1b" not in log
    assert paths.ledger_path().read_text().count(session) == 1  # recorded as abandoned


def test_a_watcher_that_fails_once_its_stop_was_asked_says_nothing(
    session: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*_args: Any, **_kwargs: Any) -> None:
        raise SessionError("the session went as it was torn down")

    monkeypatch.setattr(watcher, "watch", failing)
    said: list[str] = []
    stop = watcher.WatchStop()
    stop.set()
    training_engine.LifecycleEngine(say=said.append)._watch(session, stop)
    assert said == [] and not (paths.session_dir(session) / training_engine.WATCH_LOG).exists()
    assert states.load_session(session).status == states.ACTIVE


def test_the_stop_grace_outlasts_a_check_run() -> None:
    from libreplay.session.checks import CHECK_TIMEOUT_SECONDS

    assert training_engine.WATCHER_STOP_GRACE_SECONDS > CHECK_TIMEOUT_SECONDS


def test_the_loop_reads_the_session_file_again_only_once_it_was_written(
    session: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every event turns the loop; the state is parsed again only when the file changed, or
    when the watcher wrote it itself (whatever the file's times say)."""
    from types import SimpleNamespace

    bare: Any = watcher._Watcher.__new__(watcher._Watcher)
    bare.session_id, bare.stack = session, SimpleNamespace(session_dir=paths.session_dir(session))
    bare._read_version, bare.on_change = None, lambda _state: None
    reads: list[str] = []
    real_load = watcher.load_session
    monkeypatch.setattr(watcher, "load_session", lambda sid: reads.append(sid) or real_load(sid))
    first = bare._state_now()
    assert bare._state_now() is first and len(reads) == 1  # unchanged: not parsed again
    states.update_session(session, lambda s: setattr(s, "hints_revealed", ["someone else's"]))
    assert bare._state_now().hints_revealed == ["someone else's"] and len(reads) == 2
    bare._publish(bare.last_state)  # its own write: read again
    bare._state_now()
    assert len(reads) == 3
    (paths.session_dir(session) / states.SESSION_FILE).unlink()
    with pytest.raises(NotFound):
        bare._state_now()  # gone: load_session says so, as before
