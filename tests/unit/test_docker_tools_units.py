"""The trainee's docker tools, their pure parts: the request lines, the allow-list of verbs and
flags and its refusals, which containers the session may see, what inspect and stats show, and
the replies' format and bounds. The engine itself: tests/integration/test_docker_tools.py."""

from __future__ import annotations

import time
from typing import Any

import pytest

from libreplay.core.errors import ToolRefused
from libreplay.engine import docker_api
from libreplay.session import tools
from libreplay.session.hints import (
    HintChannel,
    HintFollower,
    RequestGate,
    ToolCancel,
    ToolRequest,
    parse_tool_cancel,
    parse_tool_request,
)
from libreplay.session.state import SessionState
from libreplay.session.tools import ServiceView, ToolCommand, ToolDesk, ToolResult, plan

GLOBAL = ("global options (-H, --host, --context, --config …) are not available here: this docker "
          "reaches only this incident's services")
LOG_FLAGS = "(flags here: -f, -t, -n N, --tail N, --since DURATION)"
MIB = 1024 * 1024


def encoded(*args: str) -> str:
    """A request line as the docker shim writes it."""
    return "replaybook-tool-request abc123" + "".join(f" x{arg.encode().hex()}" for arg in args)


def test_a_request_line_carries_any_argument_and_nothing_else() -> None:
    assert parse_tool_request(encoded("logs", "-f", "app")) == ("abc123", ("logs", "-f", "app"))
    assert parse_tool_request(encoded()) == ("abc123", ())
    assert parse_tool_request(encoded("", "a b", "x\nreplaybook-hint-request 1")) == (
        "abc123", ("", "a b", "x\nreplaybook-hint-request 1"),
    )  # fmt: skip


@pytest.mark.parametrize(
    "line",
    [
        encoded("ps") + " ",  # the whole line, nothing around it
        " " + encoded("ps"),
        "replaybook-tool-request abc123 x7",  # half a byte
        "replaybook-tool-request abc123 x7A",  # upper case: one spelling only
        "replaybook-tool-request abc123 70",  # no x
        "replaybook-tool-request abc123  x70",
        "replaybook-tool-request ../x x70",
        "replaybook-tool-request " + "a" * 65 + " x70",
        encoded(*["ps"] * 25),  # more arguments than the shim sends
        "GET / replaybook-tool-request abc x70",
        "",
    ],
)
def test_anything_but_an_exact_request_line_is_ignored(line: str) -> None:
    assert parse_tool_request(line) is None


def test_a_cancel_line_names_one_request() -> None:
    assert parse_tool_cancel("replaybook-tool-cancel abc123") == "abc123"
    assert parse_tool_cancel("replaybook-tool-cancel abc123 ") is None
    assert parse_tool_cancel("replaybook-tool-cancel ../abc") is None


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["ps"], ToolCommand("ps")),
        (["ps", "-aq"], ToolCommand("ps", all=True, quiet=True)),
        (["ps", "--all", "--quiet"], ToolCommand("ps", all=True, quiet=True)),
        (["logs", "app"], ToolCommand("logs", ("app",))),
        (["logs", "-ft", "--tail=5", "app"],
         ToolCommand("logs", ("app",), follow=True, timestamps=True, tail=5)),
        (["logs", "-n", "all", "--since", "10m", "app"],
         ToolCommand("logs", ("app",), tail=tools.MAX_LOG_TAIL, since_seconds=600)),
        (["logs", "--", "-odd-name"], ToolCommand("logs", ("-odd-name",))),
        (["restart", "-t", "0", "app", "db"], ToolCommand("restart", ("app", "db"), stop_seconds=0)),
        (["stop", "--time=3", "app"], ToolCommand("stop", ("app",), stop_seconds=3)),
        (["start", "app"], ToolCommand("start", ("app",))),
        (["inspect", "app", "db"], ToolCommand("inspect", ("app", "db"))),
        (["top", "app"], ToolCommand("top", ("app",))),
        (["stats", "--no-stream"], ToolCommand("stats", no_stream=True)),
        (["stats", "--no-stream", "app"], ToolCommand("stats", ("app",), no_stream=True)),
        ([], None),
        (["--help"], None),
        (["logs", "--help"], None),
    ],
)  # fmt: skip
def test_the_allowed_commands(argv: list[str], expected: ToolCommand | None) -> None:
    assert plan(argv) == expected


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["exec", "-it", "app", "sh"],
         "docker exec: not available here (a shell in another service: its window, C-b 1 …); "
         f"this docker can: {tools.ALLOWED}"),
        (["run", "debian"], f"docker run: not available here; this docker can: {tools.ALLOWED}"),
        (["kill", "app"], f"docker kill: not available here; this docker can: {tools.ALLOWED}"),
        (["system", "prune"], f"docker system: not available here; this docker can: {tools.ALLOWED}"),
        (["-H", "tcp://x:2375", "ps"], f"docker: -H: {GLOBAL}"),
        (["--context=other", "ps"], f"docker: --context=other: {GLOBAL}"),
        (["logs", "--details", "app"], f"docker logs: --details is not available here {LOG_FLAGS}"),
        (["logs", "-fx", "app"], f"docker logs: -fx is not available here {LOG_FLAGS}"),
        (["logs", "-f=1", "app"], "docker logs: -f takes no value"),
        (["logs", "--tail"], "docker logs: --tail needs a value"),
        (["logs", "--tail", "-1", "app"],
         "docker logs --tail: give a whole number from 0 to 100000, not '-1'"),
        (["logs", "--since", "2026-01-01", "app"],
         "docker logs --since: give a duration such as 30s, 10m or 2h, not '2026-01-01'"),
        (["logs"], "docker logs: takes one service; `docker ps -a` lists them"),
        (["logs", "app", "db"], "docker logs: takes one service; `docker ps -a` lists them"),
        (["ps", "app"], "docker ps: takes no service ('app' given)"),
        (["ps", "--format", "{{.Labels}}"], "docker ps: --format is not available here (flags here: -a, -q)"),
        (["ps", "--filter", "label=x"], "docker ps: --filter is not available here (flags here: -a, -q)"),
        (["inspect", "-f", "{{.Config}}", "app"],
         "docker inspect: -f is not available here (flags here: none)"),
        (["inspect", "--type", "volume", "x"],
         "docker inspect: --type is not available here (flags here: none)"),
        (["top", "app", "-eo", "pid"], "docker top: -eo is not available here (flags here: none)"),
        (["top", "app", "aux"], "docker top: takes one service (ps options are not available here); "
         "`docker ps -a` lists them"),
        (["stats"], "docker stats: only `docker stats --no-stream` is available here (one measurement)"),
        (["stop", "-t", "31", "app"], "docker stop -t: give a whole number from 0 to 30, not '31'"),
        (["restart", *["app"] * 17], "docker restart: takes 1 to 16 services; `docker ps -a` lists them"),
        (["start"], "docker start: takes 1 to 16 services; `docker ps -a` lists them"),
    ],
)  # fmt: skip
def test_everything_else_is_refused_with_its_reason(argv: list[str], said: str) -> None:
    with pytest.raises(ToolRefused) as refused:
        plan(argv)
    assert refused.value.message == said
    assert refused.value.exit_code == 1


# -- which containers the session sees ---------------------------------------------------------


class FakeApi:
    """The engine's container list, as the SDK's low-level client returns it."""

    def __init__(self, listed: list[dict[str, Any]]) -> None:
        self.listed = listed
        self.filters: dict[str, Any] = {}

    def containers(self, *, all: bool, filters: dict[str, Any]) -> list[dict[str, Any]]:
        assert all
        self.filters = filters
        return self.listed


class FakeClient:
    def __init__(self, api: FakeApi) -> None:
        self.api = api


def entry(container_id: str, service: str, state: str = "running") -> dict[str, Any]:
    return {"Id": container_id, "State": state, "Status": "Up 3 minutes",
            "Labels": {docker_api.SERVICE_LABEL: service, docker_api.PROJECT_LABEL: "replaybook-s1"}}


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    api = FakeApi([
        entry("aaaa1111" + "0" * 56, "shell"),
        entry("aaaa2222" + "0" * 56, "app", "exited"),
        entry("bbbb3333" + "0" * 56, "app"),  # the recreated app, running
        entry("cccc4444" + "0" * 56, "replaybook-probe"),  # replaybook's own: never shown
        entry("dddd5555" + "0" * 56, "sidecar"),  # not a service of the scenario
    ])  # fmt: skip
    monkeypatch.setattr(docker_api, "client", lambda: FakeClient(api))
    return api


def test_the_view_asks_for_the_sessions_project_and_label_and_keeps_its_services(engine: FakeApi) -> None:
    view = ServiceView("replaybook-s1", "s1", ["shell", "app"])
    seen = view.containers()
    labels = ["com.docker.compose.project=replaybook-s1", "org.replaybook.session=s1"]
    assert engine.filters == {"label": labels}
    assert [(s.service, s.state) for s in seen] == [("app", "running"), ("app", "exited"),
                                                     ("shell", "running")]
    assert view.resolve("app").id.startswith("bbbb3333")  # the running one
    assert view.resolve("aaaa2").service == "app"  # a unique id prefix
    assert view.resolve("aaaa1111").service == "shell"
    for invisible in ("replaybook-probe", "cccc4444", "sidecar", "dddd5555", "aaaa", "aaa", "APP", "ap"):
        with pytest.raises(ToolRefused) as refused:
            view.resolve(invisible)  # the probe, another container, an ambiguous or too short prefix
        assert refused.value.message == f"docker: no such service: {invisible!r} (services: shell, app)"


def test_stop_refuses_the_shells_own_service_and_stops_nothing_for_a_typo(engine: FakeApi) -> None:
    view = ServiceView("replaybook-s1", "s1", ["shell", "app"])
    with pytest.raises(ToolRefused, match="this shell's own service"):
        tools.carry_out(ToolCommand("stop", ("app", "shell")), view, "shell")
    with pytest.raises(ToolRefused, match="no such service: 'db'"):
        tools.carry_out(ToolCommand("restart", ("app", "db")), view, "shell")  # FakeApi has no restart


def test_ps_shows_service_names_states_and_ids_only(engine: FakeApi) -> None:
    view = ServiceView("replaybook-s1", "s1", ["shell", "app"])
    shown = tools.carry_out(ToolCommand("ps"), view, "shell")
    assert shown.out.splitlines() == [
        "CONTAINER ID  SERVICE  STATE    STATUS",
        "-" * 44,
        "bbbb33330000  app      running  Up 3 minutes",
        "aaaa11110000  shell    running  Up 3 minutes",
    ]
    every = tools.carry_out(ToolCommand("ps", all=True, quiet=True), view, "shell")
    assert every.out == "bbbb33330000\naaaa22220000\naaaa11110000\n"


# -- what is shown --------------------------------------------------------------------------------


def test_inspect_shows_an_allow_list_of_fields_without_replaybooks_identity() -> None:
    attrs = {
        "Id": "f" * 64, "Name": "/replaybook-s1-app-1", "Created": "2026-12-07T04:00:00Z",
        "Image": "sha256:1234", "State": {"Status": "running", "Running": True, "ExitCode": 0, "Pid": 42},
        "RestartCount": 2, "Config": {"Image": "replaybook/t-name-app:abc", "Cmd": ["python3"],
                                     "Labels": {"org.replaybook.session": "s1"}, "Env": ["PATH=/bin"]},
        "HostConfig": {"Binds": ["/home/me/.local/state/replaybook/sessions/s1/mounts/1-www:/srv"],
                       "RestartPolicy": {"Name": "no"}},
        "Mounts": [{"Type": "bind", "Source": "/home/me/.local/state/x", "Destination": "/srv", "RW": True}],
        "NetworkSettings": {"Networks": {"replaybook-s1_default": {
            "IPAddress": "10.0.0.2", "Aliases": ["app"], "NetworkID": "n1"}}},
    }  # fmt: skip
    shown = tools._shown_attrs(attrs, tools.Seen("f" * 64, "app", "running", "Up"), "replaybook-s1")
    assert shown == {
        "Id": "f" * 64, "Service": "app", "Created": "2026-12-07T04:00:00Z",
        "State": {"Status": "running", "Running": True, "ExitCode": 0, "Pid": 42}, "RestartCount": 2,
        "Config": {"Cmd": ["python3"], "Env": ["PATH=/bin"]}, "HostConfig": {"RestartPolicy": {"Name": "no"}},
        "Mounts": [{"Type": "bind", "Destination": "/srv", "RW": True}],
        "Networks": {"default": {"IPAddress": "10.0.0.2"}},
    }  # fmt: skip


def test_a_stats_row_reads_like_docker_stats() -> None:
    sample = {
        "cpu_stats": {"cpu_usage": {"total_usage": 3_000_000}, "system_cpu_usage": 200_000_000,
                      "online_cpus": 2},
        "precpu_stats": {"cpu_usage": {"total_usage": 1_000_000}, "system_cpu_usage": 100_000_000},
        "memory_stats": {"usage": 12 * MIB, "limit": 1024 * MIB, "stats": {"inactive_file": 2 * MIB}},
        "networks": {"eth0": {"rx_bytes": 2048, "tx_bytes": 512}},
        "blkio_stats": {"io_service_bytes_recursive": [{"op": "read", "value": 4096},
                                                       {"op": "write", "value": 0}]},
        "pids_stats": {"current": 3},
    }  # fmt: skip
    assert tools._stats_row("app", sample) == (
        "app", "4.00%", "10.00MiB / 1.00GiB", "0.98%", "2.00KiB / 512B", "4.00KiB / 0B", "3",
    )  # fmt: skip


def test_logs_keep_the_end_from_a_line_start_within_the_bound() -> None:
    chunks = [f"line {n}\n".encode() for n in range(10_000)]
    kept, cut = tools._last_bytes(chunks, 100)
    assert cut and kept.endswith(b"line 9999\n") and kept.startswith(b"line ") and len(kept) <= 100
    assert tools._last_bytes([b"short\n"], 100) == (b"short\n", False)


def test_a_reply_is_bounded_inert_and_says_its_status_first() -> None:
    text, cut = tools._bounded("é" * 40_000, keep="head")
    assert cut and len(text.encode()) <= tools.MAX_OUTPUT_BYTES and set(text) == {"é"}
    result = ToolResult(1, "", "docker: no such service: '\x1b]52;c;aGk=\x07x\ny'" + "z" * 1000)
    reply = tools.reply_text(result, chunks=3)
    status, note, out = reply.split("\n", 2)
    assert (status, out) == ("1 3", "") and "\x1b" not in note and len(note) == tools.MAX_NOTE_CHARS
    assert note.startswith("docker: no such service: 'x y'")


# -- the channel: the follower and the desk ---------------------------------------------------------


class FakeChannel(HintChannel):
    """The channel, its writes kept instead of exec'd into a container."""

    def __init__(self) -> None:
        super().__init__(SessionState(id="s1", scenario="t", pack="p", scenario_dir="/x",
                                      project="replaybook-s1", shell_service="shell",
                                      services=["shell", "app"]))
        self.written: dict[str, str] = {}

    def write(self, container_id: str, name: str, text: str) -> bool:
        self.written[name] = text
        return True


def test_the_follower_reads_tool_lines_through_their_own_gate() -> None:
    now = [1000.0]
    gate = RequestGate(lambda: now[0], burst=2, refill_seconds=0.5)
    follower = HintFollower(FakeChannel(), RequestGate(), _Sink(), since=None, tool_gate=gate)
    follower.following = "c1"
    assert follower.parse(encoded("ps")) == ToolRequest("c1", "abc123", ("ps",))
    assert follower.parse(encoded("ps")) is None  # the same id, read again
    assert follower.parse(encoded("ps").replace("abc123", "second")) == ToolRequest("c1", "second", ("ps",))
    third = ToolRequest("c1", "third", ("ps",), slow_down=True)  # past the burst
    assert follower.parse(encoded("ps").replace("abc123", "third")) == third
    assert follower.parse("replaybook-tool-cancel abc123") == ToolCancel("abc123")
    without = HintFollower(FakeChannel(), RequestGate(), _Sink(), since=None)
    assert without.parse(encoded("ps")) is None  # no tool gate: tool lines are not read


class _Sink:
    def put(self, item: object, /) -> None:
        pass


def test_the_desk_answers_refusals_slow_downs_and_help(engine: FakeApi) -> None:
    channel = FakeChannel()
    desk = ToolDesk(channel)
    desk.take(ToolRequest("c1", "r1", ("exec", "app", "sh")))
    desk.take(ToolRequest("c1", "r2", ("ps",), slow_down=True))
    desk.take(ToolRequest("c1", "r3", ()))
    desk.take(ToolRequest("c1", "r4", ("ps", "-q")))
    deadline = time.monotonic() + 5
    while len(channel.written) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert channel.written["r1"].startswith("1 0\ndocker exec: not available here")
    assert channel.written["r2"] == f"1 0\n{tools.TOOL_SLOW_DOWN}\n"
    assert channel.written["r3"] == f"0 0\n\n{tools.USAGE}"
    assert channel.written["r4"] == "0 0\n\nbbbb33330000\naaaa11110000\n"


def test_a_ctrl_c_that_comes_before_its_stream_stops_it_from_starting(engine: FakeApi) -> None:
    desk = ToolDesk(FakeChannel())
    desk.take(ToolCancel("r9"))
    follow = ToolCommand("logs", ("app",), follow=True)
    desk._open_stream(ToolRequest("c1", "r9", ("logs", "-f", "app")), follow)
    assert desk.streams == {}
