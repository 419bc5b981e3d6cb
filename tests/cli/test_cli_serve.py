"""`replaybook serve`'s refusals, in-process: no xterm.js (exit 5, naming the fix), a bad --bind,
--max-sessions or --idle-minutes (exit 3, naming the option); --idle-minutes reaching the day, and
what a gone server left said on stderr; and, as a child, a real server that prints the
facilitator's URL, serves its page and stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from libreplay.host import doctor
from libreplay.training.leftovers import LeftBehind
from libreplay.training.serving import Serving
from replaybook.commands import serve as serve_command
from replaybook.commands.main import build

BIN = Path(sys.executable).parent


def serve(*args: str) -> Result:
    return CliRunner().invoke(build(), ["serve", *args])


def test_without_xterm_js_serve_refuses_with_exit_5(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor, "xterm_missing", lambda: [doctor.XTERM_CSS])
    result = serve()
    assert result.exit_code == 5
    assert "xterm.js" in result.output and "doctor --fix" in result.output


@pytest.mark.parametrize(("args", "option"), [
    (["--bind", "8080"], "--bind"), (["--bind", "host:port"], "--bind"), (["--bind", ":80"], "--bind"),
    (["--max-sessions", "0"], "--max-sessions"), (["--max-sessions", "51"], "--max-sessions"),
    (["--idle-minutes", "-1"], "--idle-minutes"),
    (["--idle-minutes", "100000"], "--idle-minutes"),
])
def test_bad_options_are_refused_naming_them(
    args: list[str], option: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(doctor, "xterm_missing", lambda: [])
    result = serve(*args)
    assert result.exit_code == 3, result.output
    assert option in result.output


def served_in_process(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[Result, list[Serving]]:
    """serve with everything but the listening: the Serving it made, what it said."""
    made: list[Serving] = []
    monkeypatch.setattr(doctor, "xterm_missing", lambda: [])
    monkeypatch.setattr(serve_command, "_run", lambda serving, *_rest: made.append(serving))
    return serve(*args), made


@pytest.mark.parametrize(("args", "minutes"), [
    ([], 20), (["--idle-minutes", "5"], 5), (["--idle-minutes", "0"], 0),
])
def test_idle_minutes_reach_the_day(monkeypatch: pytest.MonkeyPatch, args: list[str], minutes: int) -> None:
    result, made = served_in_process(monkeypatch, *args)
    assert result.exit_code == 0, result.output
    assert made[0].day.idle_minutes == minutes


def test_what_a_gone_server_left_is_torn_down_and_said(monkeypatch: pytest.MonkeyPatch) -> None:
    left = [LeftBehind("aaaa0001", "t-000000000001", 2, "ann"),
            LeftBehind("aaaa0002", "t-000000000001", 0, "ben", "the engine did not answer")]
    monkeypatch.setattr(Serving, "tear_down_left_behind", lambda _self: left)
    result, made = served_in_process(monkeypatch)
    assert result.exit_code == 0 and made
    assert "Tore down session aaaa0001 of training t-000000000001 (seat 2, ann)" in result.output
    assert "Could not tear down session aaaa0002" in result.output
    assert "the engine did not answer" in result.output and "replaybook down aaaa0002" in result.output


@pytest.mark.skipif(bool(doctor.xterm_missing()), reason="needs Debian's xterm.js (doctor --fix)")
def test_the_server_prints_its_url_serves_and_stops_on_sigterm() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([str(BIN / "replaybook"), "serve", "--bind", f"127.0.0.1:{port}"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith(f"http://127.0.0.1:{port}/facilitator?token=")
        assert len(url.rsplit("=", 1)[1]) >= 43
        with urllib.request.urlopen(url, timeout=10) as page:
            assert page.status == 200 and "training board" in page.read().decode()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url[:-4] + "AAAA", timeout=10)
        assert refused.value.code == 403
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    assert code == 128 + signal.SIGTERM, process.stderr.read() if process.stderr else ""  # stopped, cleanly
