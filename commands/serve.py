"""replay-serve (replaybook serve): a training day in the browser."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from replaybook.commands.common import emit, handles_errors, make_app, say

if TYPE_CHECKING:
    from libreplay.training.leftovers import LeftBehind
    from libreplay.training.serving import Serving

app = make_app("Serve training days in the browser: a facilitator's board, a page and terminal per trainee.")

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@app.command()
@handles_errors
def serve(
    bind: Annotated[str, typer.Option(
        "--bind", metavar="HOST:PORT", help="Where to listen; loopback unless you say otherwise.",
    )] = "127.0.0.1:8080",
    max_sessions: Annotated[int, typer.Option(
        "--max-sessions", metavar="N", help="Refuse to start more live sessions than N (at most 50).",
    )] = 8,
    idle_minutes: Annotated[int, typer.Option(
        "--idle-minutes", metavar="N",
        help="End a session whose trainee typed nothing (no key, no hint) for N minutes; 0: never.",
    )] = 20,
) -> None:
    """Serve training days in the browser until Ctrl-C (or SIGTERM), which tears down every
    session it started. At its start, it tears down the sessions a server killed without its
    clean-up left on this home. Prints the facilitator's URL (it carries a secret token: keep
    it). Needs Debian's xterm.js (`replaybook doctor --fix` installs it); exits 5 without it."""
    from libreplay.core.errors import EnvironmentProblem
    from libreplay.host.doctor import xterm_missing

    missing = xterm_missing()
    if missing:
        raise EnvironmentProblem(f"serve needs Debian's xterm.js for the browser terminal: {missing[0]} "
                                 "is missing",
                                 hint="replaybook doctor --fix (apt-get install libjs-xterm node-xterm)")
    host, port = _host_and_port(bind)
    from libreplay.training.serving import Serving

    serving = Serving(max_sessions=max_sessions, idle_minutes=idle_minutes, say=say)
    _report_left_behind(serving.tear_down_left_behind())
    if host not in LOOPBACK:
        say(f"warning: listening on {host}: anyone who can reach this port can try it. Tokens travel in "
            "the clear over plain HTTP: put TLS in front of it (a reverse proxy; see docs/training-day.md)")
    shown = f"[{host}]" if ":" in host else host
    reachable = "127.0.0.1" if host in ("0.0.0.0", "::") else shown

    def listening() -> None:
        say(f"Serving on http://{shown}:{port}; Ctrl-C stops it and tears down every session it started.")
        emit(f"http://{reachable}:{port}/facilitator?token={serving.token}")

    from libreplay.core.signals import signals_raise

    # uvicorn stops gracefully on SIGINT/SIGTERM (its lifespan tears the sessions down), then
    # hands the signal on: here it becomes Interrupted, and the exit status 128+N.
    try:
        serving.catch_thread_faults()  # until serving.stop(), below
        with signals_raise():
            _run(serving, host, port, listening)
    finally:
        ended = serving.stop()
        if ended:
            say(f"Tore down {len(ended)} session(s).")
        left = serving.day.live_sessions()
        if left:
            say(f"Could not tear down {len(left)} session(s): {', '.join(left)}; "
                "their containers are still up (`replaybook down <session>` tears one down).")


def _report_left_behind(left: list[LeftBehind]) -> None:
    """On stderr: what a server that went away left, and what became of it."""
    for item in left:
        whose = f"seat {item.seat}, {item.trainee}" if item.seat else f"coming up for {item.trainee or '?'}"
        which = f"session {item.session_id} of training {item.training_id} ({whose})"
        if item.error:
            say(f"Could not tear down {which}, left by a server that is gone: {item.error}. "
                f"`replaybook down {item.session_id}` tears it down.")
        else:
            say(f"Tore down {which}, left by a server that is gone (recorded as abandoned unless it "
                "had ended).")


def _host_and_port(bind: str) -> tuple[str, int]:
    from libreplay.core.errors import InvalidInput

    host, colon, port = bind.rpartition(":")
    host = host.strip("[]")
    if not colon or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise InvalidInput(f"--bind: expected HOST:PORT (like 127.0.0.1:8080), got {bind!r}")
    return host, int(port)


def _run(serving: Serving, host: str, port: int, listening: Callable[[], None]) -> None:
    """uvicorn in this thread (it handles SIGINT and SIGTERM: a graceful stop); ``listening``
    is called once it listens, so the URL printed always answers."""
    import threading

    import uvicorn

    from replaybook.web.app import create_app

    app_ = create_app(serving.day, facilitator_hash=serving.token_hash)
    # No per-message deflate: a terminal's messages are a few bytes each (a key, its echo), and
    # compressing every one costs the server more than it saves on a training room's network.
    config = uvicorn.Config(app_, host=host, port=port, log_level="warning", ws="websockets-sansio",
                            ws_per_message_deflate=False, lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    finished = threading.Event()

    def announce() -> None:
        while not server.started and not finished.wait(0.05):
            pass
        if server.started:
            listening()

    threading.Thread(target=announce, name="serve-announce", daemon=True).start()
    try:
        server.run()
    finally:
        finished.set()


main = app
