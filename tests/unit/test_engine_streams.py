"""The one client's connection pools and the long-lived streams of engine/docker_api.py, without an
engine: pools sized for a server's many watchers, streams closed together from another thread."""

from __future__ import annotations

import queue
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from libreplay.engine import docker_api
from libreplay.session.checks import LogFollower


class Blocking:
    def __init__(self) -> None:
        self.closed = threading.Event()

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> bytes:
        self.closed.wait()
        raise StopIteration

    def close(self) -> None:
        self.closed.set()


def test_closing_the_streams_ends_a_read_blocked_on_one() -> None:
    streams = docker_api.Streams()
    stream = Blocking()
    read: list[bytes] = []

    def reader() -> None:
        with streams.opened(stream) as opened:
            read.extend(opened)

    thread = threading.Thread(target=reader)
    thread.start()
    time.sleep(0.05)
    assert thread.is_alive()
    streams.close()
    thread.join(2)
    assert not thread.is_alive() and streams.closed


def test_a_stream_opened_once_they_are_closed_is_closed_at_once() -> None:
    streams = docker_api.Streams()
    streams.close()
    late = Blocking()
    with streams.opened(late):
        assert late.closed.is_set()
    started = time.monotonic()
    streams.pause(30)
    assert time.monotonic() - started < 1


def test_an_ssh_stream_is_ended_through_its_ssh_child() -> None:
    """Through the ssh program the SDK's close finds no socket and fails; closing the SSHSocket
    (the channel of the child's stdout) ends the child, and the stream."""
    ended: list[bool] = []
    channel = SimpleNamespace(close=lambda: ended.append(True))

    class SshStream:
        stdout = SimpleNamespace(channel=channel)  # the ssh child's, as the SDK's SSHSocket leaves it
        _response = SimpleNamespace(raw=SimpleNamespace(_fp=SimpleNamespace(fp=stdout)))

        def close(self) -> None:
            raise UnboundLocalError("cannot access local variable 'sock'")

    docker_api.close_stream(SshStream())
    assert ended == [True]


def test_a_follower_whose_owner_ended_puts_nothing_and_does_not_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    class Follower(LogFollower[str]):
        end = "ended"

        def container_id(self) -> str:
            return "c"

    stream = Blocking()
    api = SimpleNamespace(logs=lambda *_a, **_k: stream)
    monkeypatch.setattr(docker_api, "client", lambda: SimpleNamespace(api=api))
    streams = docker_api.Streams()
    events: queue.Queue[str] = queue.Queue()
    follower = Follower("test", events, streams=streams)
    follower.start()
    time.sleep(0.05)
    started = time.monotonic()
    streams.close()
    follower.join(2)
    assert not follower.is_alive() and time.monotonic() - started < 0.5  # no retry pause
    assert stream.closed.is_set() and events.empty()


@pytest.fixture
def offline_version(monkeypatch: pytest.MonkeyPatch) -> None:
    from docker.api.client import APIClient

    monkeypatch.setattr(APIClient, "_retrieve_server_version", lambda _self: "1.41")
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    monkeypatch.setattr(docker_api, "_clients", {})


def test_the_pools_of_a_unix_socket_client_hold_a_server_s_streams(
    offline_version: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    adapter = docker_api.client().api.get_adapter("http+docker://localhost/v1.41/info")
    assert adapter.max_pool_size == docker_api.POOL_SIZE


def test_the_pool_of_a_tcp_client_holds_a_server_s_streams(
    offline_version: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")
    api = docker_api.client().api
    for url in ("http://127.0.0.1:9/v1.41/info", "https://127.0.0.1:9/v1.41/info"):
        pool = api.get_adapter(url).get_connection_with_tls_context(
            SimpleNamespace(url=url), verify=False)  # the pool a request to the engine uses
        assert pool.pool.maxsize == docker_api.POOL_SIZE and not pool.block  # never blocks
