"""The browser terminal's bridge over a fake exec (a socket pair: the test is the shell): output
to listeners and into the asciicast recording, input in order through the writer, sizes
through the writer, the visit's semantics (waiting, reopening, leaving), dropped input said,
appending on a new visit; the engine exec's stream losing nothing sent with its headers; and
ServiceShell's visit semantics over a fake engine (an exec refused as its container stops, a
shell left by exit, one killed with its container)."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from asciinema.asciicast import v2

from libreplay.core.errors import EnvironmentProblem, NotFound
from libreplay.engine.docker_api import ExecTerminal
from libreplay.play import shell
from libreplay.play.shell import ServiceShell
from libreplay.session.containers import ServiceContainer
from libreplay.training import terminal as terminal_module
from libreplay.training.terminal import DROPPED_NOTICE, PENDING_INPUT_PIECES, TerminalBridge


class SocketShell:
    """The bridge's side of a socket pair, as a shell stream; records its resizes."""

    def __init__(self, end: socket.socket) -> None:
        self.end = end
        self.sizes: list[tuple[int, int]] = []
        self.closed = False

    def read(self) -> bytes:
        try:
            return self.end.recv(65536)
        except OSError:
            return b""

    def write(self, data: bytes) -> None:
        self.end.sendall(data)

    def resize(self, rows: int, cols: int) -> None:
        self.sizes.append((rows, cols))

    def close(self) -> None:
        self.closed = True
        with suppress(OSError):
            self.end.shutdown(socket.SHUT_RDWR)
        self.end.close()


class SocketDoor:
    """Opens a socket pair per visit; the test holds the shell's ends. ``reopen``: the lines to
    say before opening again (None: the trainee left)."""

    def __init__(self, reopen: list[str | None] | None = None, *, wait_first: bool = False) -> None:
        self.shells: list[socket.socket] = []
        self.streams: list[SocketShell] = []
        self.reopen = list(reopen or [])
        self.wait_first = wait_first
        self.opened = threading.Event()

    def open(self, rows: int, cols: int, *, say: Callable[[str], None],
             stopped: threading.Event) -> SocketShell | None:
        if self.wait_first:
            say("Service web is stopped: this shell opens again once it runs.")
            stopped.wait()
            return None
        ours, theirs = socket.socketpair()
        self.shells.append(theirs)
        self.streams.append(SocketShell(ours))
        self.opened.set()
        return self.streams[-1]

    def reopen_line(self) -> str | None:
        return self.reopen.pop(0) if self.reopen else None


class Screen:
    """A listener: what the terminal showed."""

    def __init__(self) -> None:
        self.shown = b""
        self.ended = threading.Event()

    def __call__(self, chunk: bytes) -> None:
        if chunk:
            self.shown += chunk
        else:
            self.ended.set()

    def wait_for(self, text: bytes, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.shown:
            assert time.monotonic() < deadline, f"never shown: {text!r}; shown: {self.shown!r}"
            time.sleep(0.01)


def received(shell: socket.socket, length: int) -> bytes:
    shell.settimeout(5)
    data = b""
    while len(data) < length:
        data += shell.recv(65536)
    return data


def cast_lines(path: Path) -> list[Any]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def closing() -> Iterator[list[TerminalBridge]]:
    bridges: list[TerminalBridge] = []
    yield bridges
    for bridge in bridges:
        bridge.close()


def test_output_reaches_listeners_and_the_recording_and_input_reaches_the_shell(
        tmp_path: Path, closing: list[TerminalBridge]) -> None:
    door, cast, screen = SocketDoor(), tmp_path / "transcripts" / "s.cast", Screen()
    bridge = TerminalBridge(door, record=cast, rows=30, cols=100)
    closing.append(bridge)
    bridge.listen(screen)
    bridge.start()
    assert door.opened.wait(5)
    shell = door.shells[0]
    shell.sendall("root@web:/# caf\u00e9".encode()[:-1])  # a character split across two reads
    shell.sendall("\u00e9".encode()[-1:] + b" \x1b[31mred\x1b[0m\r\n")
    screen.wait_for(b"red")
    typed = [f"echo {n}\r".encode() for n in range(20)]
    for piece in typed:
        assert bridge.write(piece)
    assert received(shell, sum(map(len, typed))) == b"".join(typed)  # in order, nothing lost
    bridge.resize(40, 120)
    deadline = time.monotonic() + 5
    while (40, 120) not in door.streams[0].sizes:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    shell.close()  # the trainee typed exit
    assert screen.ended.wait(5) and bridge.ended.is_set()
    assert not bridge.write(b"too late")
    header, *events = cast_lines(cast)
    assert header["version"] == 2 and (header["width"], header["height"]) == (100, 30)
    assert isinstance(header["timestamp"], int) and header["env"]["TERM"] == "xterm"
    assert all(kind == "o" for _t, kind, _data in events)
    times = [t for t, _kind, _data in events]
    assert times == sorted(times) and times[0] >= 0
    assert "".join(data for _t, _kind, data in events) == "root@web:/# caf\u00e9 \x1b[31mred\x1b[0m\r\n"


def test_a_new_visit_appends_to_the_recording_after_its_last_moment(tmp_path: Path) -> None:
    cast = tmp_path / "s.cast"
    for visit in ("first", "second"):
        door, screen = SocketDoor(), Screen()
        bridge = TerminalBridge(door, record=cast)
        bridge.listen(screen)
        bridge.start()
        assert door.opened.wait(5)
        door.shells[0].sendall(f"{visit} visit\r\n".encode())
        screen.wait_for(b"visit")
        time.sleep(0.05)
        door.shells[0].close()
        assert bridge.ended.wait(5)
        bridge.close()
    header, *events = cast_lines(cast)
    assert header["version"] == 2
    assert [data for _t, _k, data in events] == ["first visit\r\n", "second visit\r\n"]
    assert events[1][0] >= events[0][0]
    assert v2.get_duration(str(cast)) == events[1][0]  # asciinema reads it back


def test_a_container_stopped_under_the_shell_is_said_and_the_shell_opened_again(
        tmp_path: Path, closing: list[TerminalBridge]) -> None:
    door, screen = SocketDoor(reopen=["The web container stopped while you were in it."]), Screen()
    cast = tmp_path / "s.cast"
    bridge = TerminalBridge(door, record=cast)
    closing.append(bridge)
    bridge.listen(screen)
    bridge.start()
    assert door.opened.wait(5)
    door.shells[0].sendall(b"before\r\n")
    screen.wait_for(b"before")
    door.opened.clear()
    door.shells[0].close()  # the container died
    assert door.opened.wait(5)
    screen.wait_for(b"stopped while you were in it")
    assert not bridge.ended.is_set()
    bridge.write(b"again\r")
    assert received(door.shells[1], 6) == b"again\r"  # typing goes to the new shell
    door.shells[1].sendall(b"after\r\n")
    screen.wait_for(b"after")
    door.shells[1].close()
    assert bridge.ended.wait(5)
    recorded = [data for _t, _k, data in cast_lines(cast)[1:]]
    assert recorded == ["before\r\n", "after\r\n"]  # our own lines are not recorded


def test_a_terminal_waiting_for_its_container_says_why_and_closes_at_once() -> None:
    door, screen = SocketDoor(wait_first=True), Screen()
    bridge = TerminalBridge(door)
    bridge.listen(screen)
    bridge.start()
    screen.wait_for(b"this shell opens again once it runs")
    began = time.monotonic()
    bridge.close()
    assert bridge.ended.is_set() and screen.ended.is_set() and time.monotonic() - began < 1.0


def test_input_the_shell_does_not_read_is_dropped_and_said_once_in_a_while(
        monkeypatch: pytest.MonkeyPatch, closing: list[TerminalBridge]) -> None:
    class StuckShell(SocketShell):
        def write(self, data: bytes) -> None:
            stuck.wait()  # a shell that reads nothing (its own input buffer full)
            raise OSError("gone")

    stuck = threading.Event()
    door = SocketDoor()
    ours, theirs = socket.socketpair()
    door.shells.append(theirs)
    monkeypatch.setattr(door, "open", lambda *a, **k: StuckShell(ours))
    screen = Screen()
    bridge = TerminalBridge(door)
    closing.append(bridge)
    bridge.listen(screen)
    bridge.start()
    accepted = [bridge.write(b"x" * 1024) for _ in range(3 * PENDING_INPUT_PIECES)]
    assert accepted.count(False) >= PENDING_INPUT_PIECES and bridge.dropped_input == accepted.count(False)
    assert screen.shown.count(DROPPED_NOTICE.encode()) == 1  # said once, not once per piece
    monkeypatch.setattr(terminal_module, "DROPPED_NOTICE_SECONDS", 0.0)
    bridge.write(b"y")
    assert screen.shown.count(DROPPED_NOTICE.encode()) == 2
    stuck.set()


def test_the_exec_stream_keeps_what_came_with_the_headers() -> None:
    engine, ours = socket.socketpair()
    engine.sendall(b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n"
                   b"the first prompt# ")
    reader = ours.makefile("rb")
    while reader.readline() != b"\r\n":  # the headers, read as http.client does: the rest is buffered
        pass
    response = SimpleNamespace(raw=SimpleNamespace(_fp=SimpleNamespace(fp=reader),
                                                   _connection=SimpleNamespace(sock=ours)),
                               close=lambda: None)
    stream = ExecTerminal("exec-id", response)
    assert stream.read() == b"the first prompt# "
    stream.write(b"ls\r")
    assert received(engine, 3) == b"ls\r"
    engine.sendall(b"bin etc\r\n")
    assert stream.read() == b"bin etc\r\n"
    stream.close()
    assert stream.read() == b""
    with pytest.raises(OSError):
        stream.write(b"late")
    engine.close()


class Containers:
    """find_container's answers in turn (the last one repeated): a status, or a status and the
    container's start time after a colon ("running:2" ran again since)."""

    def __init__(self, *statuses: str) -> None:
        self.statuses = list(statuses)

    def __call__(self, _state: object, service: str) -> ServiceContainer:
        answer = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return container_of(service, *answer.split(":"))


def container_of(service: str, status: str, started_at: str = "1") -> ServiceContainer:
    return ServiceContainer(id="c0ffee", name=f"s-{service}-1", service=service, status=status,
                            exit_code=0 if status != "running" else None, image_path="/usr/bin:/bin",
                            started_at=started_at)


class EndedExec:
    def __init__(self, code: int | None) -> None:
        self.code = code

    def exit_code(self) -> int | None:
        return self.code


@pytest.fixture
def service_shell(monkeypatch: pytest.MonkeyPatch) -> Callable[..., ServiceShell]:
    def made(*statuses: str) -> ServiceShell:
        monkeypatch.setattr(shell, "find_container", Containers(*statuses))
        monkeypatch.setattr(shell, "load_session", lambda _sid: SimpleNamespace(id="s1", shell_service="web"))
        monkeypatch.setattr(shell, "session_dir", lambda _sid: Path("/"))  # the session lives
        monkeypatch.setattr(shell, "WAIT_POLL_SECONDS", 0.01)
        return ServiceShell("s1", "web")

    return made


def test_an_exec_refused_as_its_container_stops_is_waited_for_again(
        service_shell: Callable[..., ServiceShell], monkeypatch: pytest.MonkeyPatch) -> None:
    door = service_shell("running", "exited", "exited", "running")
    tries: list[str] = []

    def open_exec(container_id: str, argv: list[str], **kwargs: Any) -> str:
        tries.append(container_id)
        if len(tries) == 1:
            raise EnvironmentProblem("the Docker engine refused: container c0ffee is not running")
        assert argv == shell.SHELL_ARGV and kwargs["env"]["PATH"].startswith("/run/replaybook/bin:")
        return "the shell"

    monkeypatch.setattr(shell, "open_exec", open_exec)
    said: list[str] = []
    assert door.open(24, 80, say=said.append, stopped=threading.Event()) == "the shell"
    assert len(tries) == 2 and any("is stopped" in line for line in said)


def test_a_shell_left_by_exit_ends_and_one_killed_with_its_container_reopens(
        service_shell: Callable[..., ServiceShell], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shell, "STOPPING_GRACE_SECONDS", 2.0)
    door = service_shell("running")
    ended(door, 0)  # `exit`: its container still runs
    assert door.reopen_line() is None
    # Killed (137) while the engine still shows the container running: it is given a moment.
    door = service_shell("running", "running", "exited")
    ended(door, 137)
    assert door.reopen_line() == "The web container stopped while you were in it."


def test_a_container_restarted_before_the_shell_was_looked_at_reopens_it(
        service_shell: Callable[..., ServiceShell], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shell, "STOPPING_GRACE_SECONDS", 0.0)
    door = service_shell("running:2")  # running again already: a hold's restart can be that quick
    ended(door, 0)
    assert door.reopen_line() == "The web container stopped while you were in it."


def test_a_killed_shell_whose_container_runs_on_is_left_after_the_grace(
        service_shell: Callable[..., ServiceShell], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shell, "STOPPING_GRACE_SECONDS", 0.3)
    door = service_shell("running")
    ended(door, None)  # the status is not known
    started = time.monotonic()
    assert door.reopen_line() is None
    assert time.monotonic() - started >= 0.3


def ended(door: ServiceShell, code: int | None) -> None:
    """The door's shell, opened in the container started at "1", ended with ``code``."""
    door._last = EndedExec(code)  # type: ignore[assignment]
    door._entered = container_of(door.service, "running")


# -- closing an exec's terminal, whatever its transport --------------------------------------


class SshChildSocket(socket.socket):
    """What the Docker SDK's ssh transport (``use_ssh_client=True``: docker/transport/sshconn.py,
    SSHSocket) hands over as the connection's socket: a socket object never connected, whose
    ``sendall`` is a blocking write to the stdin pipe of an ``ssh`` child (``proc``), and whose
    reads come from that child's stdout. The child here reads nothing, as an ssh link does once
    the remote shell stops reading (a trainee's `sleep 9999`, a paste of megabytes)."""

    def __init__(self) -> None:
        super().__init__(socket.AF_INET, socket.SOCK_STREAM)
        self.proc = subprocess.Popen(["sleep", "60"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def sendall(self, data: Any, flags: int = 0) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def close(self) -> None:  # as the SDK's: it writes to the child before it ends it
        assert self.proc.stdin is not None
        if self.proc.stdin.closed:
            return
        self.proc.stdin.write(b"\n\n")
        self.proc.stdin.flush()
        self.proc.terminate()


def over_ssh() -> tuple[ExecTerminal, SshChildSocket]:
    sock = SshChildSocket()
    response = SimpleNamespace(raw=SimpleNamespace(_fp=SimpleNamespace(fp=sock.proc.stdout),
                                                   _connection=SimpleNamespace(sock=sock)),
                               close=lambda: None)
    return ExecTerminal("exec-id", response), sock


def over_a_socket() -> tuple[ExecTerminal, socket.socket]:
    engine, ours = socket.socketpair()  # the engine's end never reads: the shell reads nothing
    response = SimpleNamespace(raw=SimpleNamespace(_fp=SimpleNamespace(fp=ours.makefile("rb")),
                                                   _connection=SimpleNamespace(sock=ours)),
                               close=lambda: None)
    return ExecTerminal("exec-id", response), engine


def in_thread(work: Callable[[], object], outcome: list[object]) -> threading.Thread:
    def run() -> None:
        try:
            outcome.append(work())
        except Exception as failed:  # noqa: BLE001 - the outcome is what is looked at
            outcome.append(failed)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("transport", [over_ssh, over_a_socket], ids=["ssh-child", "socket"])
def test_close_wakes_a_write_blocked_for_good_and_a_read_and_never_waits(
        transport: Callable[[], tuple[ExecTerminal, Any]]) -> None:
    terminal, other_end = transport()
    written: list[object] = []
    read: list[object] = []
    writer = in_thread(lambda: terminal.write(b"x" * (8 << 20)), written)  # far more than any pipe holds
    reader = in_thread(terminal.read, read)
    time.sleep(0.3)
    assert writer.is_alive() and reader.is_alive()  # both blocked
    closed: list[object] = []
    closer = in_thread(terminal.close, closed)
    try:
        closer.join(10)
        assert not closer.is_alive(), "close() waited on the blocked write"
        writer.join(10)
        reader.join(10)
        assert not writer.is_alive() and isinstance(written[0], OSError)
        assert not reader.is_alive() and read == [b""]
        with pytest.raises(OSError):
            terminal.write(b"late")
        assert terminal.read() == b""
    finally:
        if isinstance(other_end, SshChildSocket):
            other_end.proc.kill()
            other_end.proc.wait()
        else:
            other_end.close()
    if isinstance(other_end, SshChildSocket):
        assert other_end.proc.returncode is not None  # the ssh child is gone with the terminal
        assert other_end.proc.stdin is not None and other_end.proc.stdin.closed


def test_the_connection_is_released_once_by_the_last_of_close_and_a_woken_write() -> None:
    terminal, engine = over_a_socket()
    released: list[bool] = []
    terminal._response = SimpleNamespace(close=lambda: released.append(True))
    written: list[object] = []
    writer = in_thread(lambda: terminal.write(b"x" * (8 << 20)), written)
    time.sleep(0.2)
    terminal.close()
    writer.join(10)
    terminal.close()  # a second close does nothing
    assert released == [True] and isinstance(written[0], OSError)
    engine.close()


def test_a_response_without_the_sdk_s_private_parts_is_refused_loudly() -> None:
    changed = SimpleNamespace(raw=SimpleNamespace(_fp=None, _connection=None), close=lambda: None)
    with pytest.raises(EnvironmentProblem, match="does not keep the exec's connection"):
        ExecTerminal("exec-id", changed)


# -- open_exec: the start's connection never left open ----------------------------------------


class StartResponse:
    def __init__(self, raw: object = None) -> None:
        self.raw = raw
        self.closed = False

    def close(self) -> None:
        self.closed = True


class StartingAPI:
    """The SDK's APIClient as open_exec uses it; the start answers ``status``."""

    def __init__(self, status: int, response: StartResponse) -> None:
        self.status, self.response = status, response

    def exec_create(self, *_args: Any, **_kwargs: Any) -> dict[str, str]:
        return {"Id": "exec-id"}

    def _url(self, path: str, *args: str) -> str:
        return path.format(*args)

    def _post_json(self, *_args: Any, **_kwargs: Any) -> StartResponse:
        return self.response

    def _raise_for_status(self, _response: object) -> None:
        import docker.errors
        import requests

        if self.status >= 400:
            answer = requests.Response()
            answer.status_code = self.status
            raise docker.errors.create_api_error_from_http_exception(
                requests.HTTPError(response=answer))

    def exec_resize(self, *_args: Any, **_kwargs: Any) -> None:
        pass


@pytest.mark.parametrize(("status", "raw", "error"), [
    (404, None, NotFound),  # the container went meanwhile
    (409, None, EnvironmentProblem),  # it stopped: not running
    (101, SimpleNamespace(), EnvironmentProblem),  # started, but the SDK keeps it elsewhere
])
def test_a_start_that_fails_closes_its_connection(
        monkeypatch: pytest.MonkeyPatch, status: int, raw: object, error: type[Exception]) -> None:
    from libreplay.engine import docker_api

    response = StartResponse(raw)
    monkeypatch.setattr(docker_api, "client", lambda: SimpleNamespace(api=StartingAPI(status, response)))
    with pytest.raises(error):
        docker_api.open_exec("c0ffee", ["sh"], env={}, rows=24, cols=80)
    assert response.closed


# -- open_exec over the real SDK, urllib3 and http.client, against a tiny engine ---------------


class TinyEngine:
    """A unix-socket HTTP server that answers the three calls of an exec as the engine does:
    create (JSON), start (``101 UPGRADED``, then the shell's first prompt sent along with the
    headers, then an echo of what is typed) and resize. No Docker."""

    def __init__(self, path: Path) -> None:
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen()
        self.resized: list[str] = []
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        with suppress(OSError, ValueError):
            while True:
                request = reader.readline().decode()
                if not request:
                    return
                headers = {}
                while (line := reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                reader.read(int(headers.get("content-length", "0")))
                path = request.split()[1]
                if "/start" in path:
                    conn.sendall(b"HTTP/1.1 101 UPGRADED\r\n"
                                 b"Content-Type: application/vnd.docker.raw-stream\r\n"
                                 b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\nroot@web:/# ")
                    while data := reader.read1(65536):
                        conn.sendall(b"echo:" + data)
                    return
                if "/resize" in path:
                    self.resized.append(path)
                    body = b""
                else:
                    body = json.dumps({"Id": "exec-id"}).encode()
                conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    def close(self) -> None:
        self.server.close()
        for conn in self.connections:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()


def test_open_exec_takes_the_connection_over_from_the_real_sdk(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    import docker

    from libreplay.engine import docker_api

    with tempfile.TemporaryDirectory() as directory:  # a short path: unix sockets' limit
        engine = TinyEngine(Path(directory) / "engine.sock")
        api = docker.APIClient(base_url=f"unix://{directory}/engine.sock", version="1.41")
        monkeypatch.setattr(docker_api, "client", lambda: SimpleNamespace(api=api))
        try:
            terminal = docker_api.open_exec("c0ffee", ["sh"], env={}, rows=30, cols=100)
            assert terminal.read() == b"root@web:/# "  # sent with the headers: not lost
            terminal.write(b"ls\r")
            assert terminal.read() == b"echo:ls\r"
            assert any("h=30" in path and "w=100" in path for path in engine.resized)
            terminal.close()
            assert terminal.read() == b""
        finally:
            engine.close()
            api.close()
