"""`replaybook serve`'s refusals, in-process: no xterm.js (exit 5, naming the fix), a bad --bind
or --max-sessions (exit 3, naming the option); and, as a child, a real server that prints the
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
    (["--max-sessions", "0"], "--max-sessions"),
])
def test_bad_options_are_refused_naming_them(args: list[str], option: str) -> None:
    result = serve(*args)
    assert result.exit_code == 3, result.output
    assert option in result.output


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
