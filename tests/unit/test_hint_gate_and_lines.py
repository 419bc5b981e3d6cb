"""The hint channel's pure parts: what counts as a request, the gate, line splitting, the archive."""

from __future__ import annotations

import io
import queue
import subprocess
import tarfile
from collections.abc import Iterator

import pytest

from libreplay.core import paths
from libreplay.session import hints as channel
from libreplay.session.checks import LogFollower, engine_time, split_lines
from libreplay.session.hints import BURST, REFILL_SECONDS, SEEN_IDS_KEPT, RequestGate, parse_request


@pytest.mark.parametrize(
    ("line", "request_id"),
    [
        ("replaybook-hint-request 0123abcd", "0123abcd"),
        ("replaybook-hint-request 12-1700000000", "12-1700000000"),
        ("replaybook-hint-request " + "a" * 64, "a" * 64),
        ("replaybook-hint-request " + "a" * 65, None),  # too long
        ("replaybook-hint-request ../../session.toml", None),  # no path can be named
        ("replaybook-hint-request a/b", None),
        ("replaybook-hint-request .hidden", None),
        ("replaybook-hint-request a b", None),
        ("replaybook-hint-request ", None),
        (" replaybook-hint-request abc", None),  # the whole line, nothing around it
        ("replaybook-hint-request abc ", None),
        ("xreplaybook-hint-request abc", None),
        ("GET / 200 replaybook-hint-request abc", None),  # a service's own log line
        ("replaybook-hint-request\tabc", None),
        ("replaybook-hint-request abc\x1b[31m", None),
        ("", None),
    ],
)
def test_only_exact_request_lines_count(line: str, request_id: str | None) -> None:
    assert parse_request(line) == request_id


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_gate_answers_a_burst_then_one_slow_down_per_window_then_refills() -> None:
    clock = FakeClock()
    gate = RequestGate(clock)
    verdicts = [gate.admit(f"r{n}") for n in range(10)]
    assert verdicts == [True] * BURST + [False] + [None] * (10 - BURST - 1)
    clock.now += REFILL_SECONDS
    assert gate.admit("later") is True  # one token back ...
    assert gate.admit("later2") is False  # ... and a new window for one slow-down
    assert gate.admit("later3") is None


def test_the_gate_answers_an_id_once_but_forgets_the_ones_it_dropped() -> None:
    clock = FakeClock()
    gate = RequestGate(clock)
    assert gate.admit("same") is True
    assert gate.admit("same") is None  # read twice (a re-follow) or asked again: not counted twice
    for n in range(BURST):
        gate.admit(f"fill{n}")
    assert gate.admit("dropped") is None
    clock.now += REFILL_SECONDS
    assert gate.admit("dropped") is True  # get-hint asked again once there was room


def test_the_gate_remembers_a_bounded_number_of_ids() -> None:
    clock = FakeClock()
    gate = RequestGate(clock)
    for n in range(SEEN_IDS_KEPT + 50):
        clock.now += REFILL_SECONDS
        gate.admit(f"id{n}")
    assert len(gate.answered) == SEEN_IDS_KEPT
    assert "id0" not in gate.answered and f"id{SEEN_IDS_KEPT + 49}" in gate.answered


def test_lines_split_across_chunks_and_oversized_ones_dropped_whole() -> None:
    chunks = [b"one\ntw", b"o\n", b"x" * 50, b"y" * 50, b"z\nthree\n", b"four", b"\n", b"unfinished"]
    assert list(split_lines(chunks, max_line=20)) == [b"one", b"two", b"three", b"four"]


def test_an_endless_line_costs_bounded_memory() -> None:
    def flood() -> Iterator[bytes]:
        for _ in range(2000):
            yield b"x" * 4096
        yield b"\nafter\n"

    assert list(split_lines(flood(), max_line=256)) == [b"after"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01T20:16:22.992776477Z", 1796156182.992776477),
        ("2026-12-01T20:16:22Z", 1796156182.0),
        ("2026-12-01T21:16:22.5+01:00", 1796156182.5),
        ("yesterday", None),
        ("2026-12-01T20:16:22.992776477Z trailing", None),
    ],
)
def test_engine_times(text: str, expected: float | None) -> None:
    found = engine_time(text)
    assert (found if expected is None else pytest.approx(found, abs=1e-6)) == expected


def test_the_archive_holds_the_commands_and_a_replies_directory_any_user_may_write() -> None:
    with tarfile.open(fileobj=io.BytesIO(channel._channel_archive())) as archive:
        modes = {member.name: (member.type, member.mode) for member in archive.getmembers()}
        for command in ("get-hint", "docker"):
            member = archive.extractfile(f"run/replaybook/bin/{command}")
            assert member is not None and member.read() == paths.asset_path(command).read_bytes()
    assert modes == {
        "run/replaybook": (tarfile.DIRTYPE, 0o755),
        "run/replaybook/bin": (tarfile.DIRTYPE, 0o755),
        "run/replaybook/replies": (tarfile.DIRTYPE, 0o1777),
        "run/replaybook/bin/get-hint": (tarfile.REGTYPE, 0o755),
        "run/replaybook/bin/docker": (tarfile.REGTYPE, 0o755),
    }


@pytest.mark.parametrize("command", ["get-hint", "docker"])
def test_the_channel_commands_parse_as_posix_sh(command: str) -> None:
    checked = subprocess.run(
        ["sh", "-n", str(paths.asset_path(command))], check=False, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr


def test_a_reply_is_inert_and_bounded() -> None:
    body = channel.reply_body("Hint 1/1: \x1b]52;c;aGk=\x07look \x1b[2Jhere\u202e" + "x" * 20000)
    assert body.startswith("Hint 1/1: look here") and "\x1b" not in body and "\u202e" not in body
    assert len(body) == channel.MAX_REPLY_CHARS


def test_a_follower_resumes_just_before_the_newest_line_it_read() -> None:
    follower = LogFollower("test", queue.Queue(), since=1796156000.0)
    assert follower.resume_point() == 1796156000.0  # nothing read: where it started
    follower.last_stamp = b"2026-12-01T20:16:22.5Z"
    resumed = follower.resume_point()
    assert resumed is not None and 1796156182.49 < resumed < 1796156182.5
