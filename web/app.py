"""The Starlette app of ``replaybook serve``: pages, a JSON API and WebSockets over a
:class:`~libreplay.training.day.TrainingDay`.

Who may do what is decided here, on every request and every WebSocket:

- the facilitator holds the server's facilitator token (``Authorization: Bearer`` for the API,
  ``?token=`` for the page and the WebSockets): trainings, the board, ending and extending a
  session, watching a trainee's terminal read-only;
- a trainee holds one seat's invite token: that seat's page, events, hints and terminal, and
  nothing else: no session id is ever taken from a trainee's request.

What the trainee does is reported to the day as activity (its idle clock): a key message on a
terminal, a terminal opened, a hint asked. A watcher's socket, the events socket and a resize
report nothing (see libreplay/training/day.py on idleness).

Tokens are compared as SHA-256 hashes in constant time. A WebSocket whose ``Origin`` is not
this server's own is refused before it opens. Every response carries a Content-Security-Policy
that allows only our own scripts (none inline), no framing and no referrer.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from libreplay.core.errors import InvalidInput, NotFound, ReplayError, SessionError
from libreplay.core.text import inert
from libreplay.training.day import SeatRef, TrainingDay
from libreplay.training.model import token_matches
from replaybook.web import xterm

HERE = Path(__file__).parent
REAP_EVERY_SECONDS = 5.0
LIVE_TICK_SECONDS = 1.0
CHANGE_LOOK_SECONDS = 0.2  # how soon a live view notices that the day changed
POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
          "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", POLICY.encode()),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
]
POLICY_CLOSE = 1008  # a WebSocket refused: no token, a wrong one, or another Origin
TRY_LATER_CLOSE = 1013  # a watcher too slow for its terminal's output
TOO_BIG_CLOSE = 1009  # a terminal message past MAX_MESSAGE_CHARS
OUTPUT_QUEUE_CHUNKS = 64  # a socket's terminal output not yet sent (chunks of 64 KiB at most)
CLOSE_WAIT_SECONDS = 2.0
MAX_MESSAGE_CHARS = 64 * 1024  # one terminal message (the page sends a paste in 4 KiB pieces)


class SecurityHeaders:
    """Adds the security headers to every HTTP response (a plain ASGI middleware: WebSockets
    pass through untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else ""


def _same_origin(websocket: WebSocket) -> bool:
    """The page that opened the socket was served by us (a browser always says where from)."""
    origin, host = websocket.headers.get("origin", ""), websocket.headers.get("host", "")
    parts = urlsplit(origin)
    return bool(host) and parts.scheme in ("http", "https") and parts.netloc == host


def _error(exc: ReplayError) -> JSONResponse:
    status = 400 if isinstance(exc, InvalidInput) else 404 if isinstance(exc, NotFound) else (
        409 if isinstance(exc, SessionError) else 500)
    return JSONResponse({"error": inert(exc.message)}, status_code=status)


FORBIDDEN = JSONResponse({"error": "not allowed"}, status_code=403)


class Site:
    """The handlers, over one training day and the facilitator token's hash."""

    def __init__(self, day: TrainingDay, facilitator_hash: str, reap_every: float) -> None:
        self.day = day
        self.facilitator_hash = facilitator_hash
        self.reap_every = reap_every
        self.pages = {name: (HERE / "templates" / f"{name}.html").read_text(encoding="utf-8")
                      for name in ("facilitator", "trainee", "refused")}

    def facilitator(self, token: str) -> bool:
        return bool(token) and token_matches(token, self.facilitator_hash)

    def refused(self, status: int) -> HTMLResponse:
        return HTMLResponse(self.pages["refused"], status_code=status)

    # -- pages ----------------------------------------------------------------------------------

    async def facilitator_page(self, request: Request) -> Response:
        if not self.facilitator(request.query_params.get("token", "")):
            return self.refused(403)
        return HTMLResponse(self.pages["facilitator"])

    async def trainee_page(self, request: Request) -> Response:
        if self.day.seat_for(request.path_params["token"]) is None:
            return self.refused(404)
        return HTMLResponse(self.pages["trainee"])

    async def xterm_script(self, _request: Request) -> Response:
        return Response(await run_in_threadpool(xterm.bundle), media_type="text/javascript")

    async def xterm_css(self, _request: Request) -> Response:
        return Response(await run_in_threadpool(xterm.stylesheet), media_type="text/css")

    # -- the facilitator's API ----------------------------------------------------------------

    async def create_training(self, request: Request) -> Response:
        body = await _json(request)
        seats = body.get("seats")
        if not isinstance(seats, int | list) or isinstance(seats, bool):
            raise InvalidInput("seats: a list of trainees' names or a number of invite links")
        campaign = body.get("campaign", False)
        if not isinstance(campaign, bool):
            raise InvalidInput("campaign: true (each trainee plays the campaign's next) or false")
        training, tokens = await run_in_threadpool(
            lambda: self.day.create(
                scenarios=_strings(body.get("scenarios", []), "scenarios"),
                seats=seats if isinstance(seats, int) else _strings(seats, "seats"),
                session_minutes=_number(body.get("session_minutes", 60), "session_minutes"),
                sla_minutes=_number(body.get("sla_minutes", 0), "sla_minutes"),
                title=str(body.get("title", "")), campaign=campaign,
            ))
        base = str(request.base_url).rstrip("/")
        invites = [{"seat": seat.number, "name": seat.name, "scenario": training.scenario_for(seat),
                    "url": f"{base}/join/{token}"}
                   for seat, token in zip(training.seats, tokens, strict=True)]
        return JSONResponse({"training": training.id, "campaign": training.campaign, "invites": invites},
                            status_code=201)

    async def board(self, _request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(self.day.board))

    async def end_session(self, request: Request) -> Response:
        await run_in_threadpool(self.day.end, request.path_params["session"])
        return JSONResponse({"ended": request.path_params["session"]})

    async def extend_session(self, request: Request) -> Response:
        body = await _json(request)
        until = await run_in_threadpool(self.day.extend, request.path_params["session"],
                                        _number(body.get("minutes", 15), "minutes"))
        return JSONResponse({"expires_at": until})

    # -- the trainee's API --------------------------------------------------------------------

    async def seat(self, _request: Request, ref: SeatRef) -> Response:
        return JSONResponse(await run_in_threadpool(self.day.seat_view, ref))

    async def start(self, request: Request, ref: SeatRef) -> Response:
        body = await _json(request)
        name = str(body.get("name", ""))
        if ref.seat.session_id or self.day.starting(ref):
            raise SessionError("this seat's session has already started")
        if not ref.seat.name and not name.strip():
            raise InvalidInput("name: say who you are before you start")
        self.day.check_capacity()  # refused at once, clearly; the start itself checks again
        # Up and break take a while: the page follows the start on its events socket.
        threading.Thread(target=_quietly, args=(self.day, ref, name), name="seat-start", daemon=True).start()
        return JSONResponse({"starting": True}, status_code=202)

    async def hint(self, _request: Request, ref: SeatRef) -> Response:
        if not ref.seat.session_id:
            raise SessionError("the session has not started")
        revealed = await run_in_threadpool(self.day.hint, ref.seat.session_id)
        if revealed is None:
            return JSONResponse({"hint": None})
        number, total, text = revealed
        return JSONResponse({"hint": {"number": number, "total": total, "text": inert(text)}})

    # -- live: events and terminals -----------------------------------------------------------

    async def live(self, websocket: WebSocket, view: Callable[[], Any]) -> None:
        """Send ``view()`` whenever it changes until the socket closes: looked at as soon as the
        day reports a change (a session's state file, followed), and every second (the clock)."""
        await websocket.accept()
        last: Any = None
        seen_version, looked_at = -1, 0.0
        try:
            while True:
                moment = time.monotonic()
                if self.day.version != seen_version or moment - looked_at >= LIVE_TICK_SECONDS:
                    seen_version, looked_at = self.day.version, moment
                    current = await run_in_threadpool(view)
                    if current != last:
                        await websocket.send_text(json.dumps(current))
                        last = current
                if await _closed_within(websocket, CHANGE_LOOK_SECONDS):
                    return
        except WebSocketDisconnect:
            return

    async def board_socket(self, websocket: WebSocket) -> None:
        if not _same_origin(websocket) or not self.facilitator(websocket.query_params.get("token", "")):
            await websocket.close(POLICY_CLOSE)
            return
        await self.live(websocket, self.day.board)

    async def seat_socket(self, websocket: WebSocket) -> None:
        token = websocket.query_params.get("token", "")
        ref = await run_in_threadpool(self.day.seat_for, token) if _same_origin(websocket) else None
        if ref is None:
            await websocket.close(POLICY_CLOSE)
            return

        def view() -> Any:
            fresh = self.day.seat_for(token)
            return self.day.seat_view(fresh) if fresh is not None else {"status": "expired"}

        await self.live(websocket, view)

    async def terminal_socket(self, websocket: WebSocket) -> None:
        ref = (await run_in_threadpool(self.day.seat_for, websocket.query_params.get("token", ""))
               if _same_origin(websocket) else None)
        if ref is None or not ref.seat.session_id:
            await websocket.close(POLICY_CLOSE)
            return
        service, session_id = websocket.query_params.get("service", ""), ref.seat.session_id
        try:
            bridge = await run_in_threadpool(lambda: self.day.terminal(session_id, service, create=True))
        except ReplayError:
            await websocket.close(POLICY_CLOSE)
            return
        assert bridge is not None
        self.day.activity(session_id)  # a tab clicked, the page loaded: the trainee is there
        await _carry(websocket, bridge, writable=True, on_input=lambda: self.day.activity(session_id))

    async def watch_socket(self, websocket: WebSocket) -> None:
        if not _same_origin(websocket) or not self.facilitator(websocket.query_params.get("token", "")):
            await websocket.close(POLICY_CLOSE)
            return
        session_id, service = websocket.path_params["session"], websocket.query_params.get("service", "")
        await websocket.accept()
        try:
            while True:  # the trainee may not have opened this shell yet
                try:
                    bridge = await run_in_threadpool(
                        lambda: self.day.terminal(session_id, service, create=False))
                except ReplayError as exc:
                    await websocket.send_text(json.dumps({"error": inert(exc.message)}))
                    await websocket.close()
                    return
                if bridge is not None:
                    break
                if await _closed_within(websocket, LIVE_TICK_SECONDS):
                    return
            await _carry(websocket, bridge, writable=False, accepted=True)
        except WebSocketDisconnect:
            return

    async def reaper(self) -> None:
        while True:
            await asyncio.sleep(self.reap_every)
            try:
                await run_in_threadpool(self.day.reap)
            except Exception as exc:  # noqa: BLE001 - the reaper outlives any one failure
                # Said on stderr (the server's log) and tried again at the next turn.
                message = exc.message if isinstance(exc, ReplayError) else f"{type(exc).__name__}: {exc}"
                print(f"replaybook serve: reaping sessions failed: {inert(message)}", file=sys.stderr)

    @asynccontextmanager
    async def lifespan(self, _app: Starlette) -> Any:
        task = asyncio.create_task(self.reaper())
        try:
            yield
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
            # A reap already in the threadpool runs on: shutdown waits for its ends.
            await run_in_threadpool(self.day.shutdown)

def as_facilitator(
    site: Site, handler: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def checked(request: Request) -> Response:
        if not site.facilitator(_bearer(request)):
            return FORBIDDEN
        try:
            return await handler(request)
        except ReplayError as exc:
            return _error(exc)

    return checked


def as_trainee(
    site: Site, handler: Callable[[Request, SeatRef], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def checked(request: Request) -> Response:
        ref = await run_in_threadpool(site.day.seat_for, _bearer(request))
        if ref is None:
            return FORBIDDEN
        try:
            return await handler(request, ref)
        except ReplayError as exc:
            return _error(exc)

    return checked


def create_app(
    day: TrainingDay, *, facilitator_hash: str, reap_every: float = REAP_EVERY_SECONDS,
) -> Starlette:
    site = Site(day, facilitator_hash, reap_every)
    routes = [
        Route("/facilitator", site.facilitator_page),
        Route("/join/{token}", site.trainee_page),
        Route("/xterm/xterm.js", site.xterm_script),
        Route("/xterm/xterm.css", site.xterm_css),
        Route("/api/trainings", as_facilitator(site, site.create_training), methods=["POST"]),
        Route("/api/board", as_facilitator(site, site.board)),
        Route("/api/sessions/{session}/end", as_facilitator(site, site.end_session), methods=["POST"]),
        Route("/api/sessions/{session}/extend", as_facilitator(site, site.extend_session), methods=["POST"]),
        Route("/api/seat", as_trainee(site, site.seat)),
        Route("/api/seat/start", as_trainee(site, site.start), methods=["POST"]),
        Route("/api/seat/hint", as_trainee(site, site.hint), methods=["POST"]),
        WebSocketRoute("/ws/board", site.board_socket),
        WebSocketRoute("/ws/seat", site.seat_socket),
        WebSocketRoute("/ws/terminal", site.terminal_socket),
        WebSocketRoute("/ws/watch/{session}", site.watch_socket),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=site.lifespan)
    app.add_middleware(SecurityHeaders)
    return app




def _quietly(day: TrainingDay, ref: SeatRef, name: str) -> None:
    with suppress(ReplayError):  # the day keeps the failure; the page shows it
        day.start(ref, name=name)


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise InvalidInput("the request's body is not JSON") from None
    if not isinstance(body, dict):
        raise InvalidInput("the request's body is not a JSON object")
    return body


def _strings(value: Any, field: str) -> list[str]:
    if isinstance(value, str):
        value = value.replace(",", "\n").splitlines()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidInput(f"{field}: a list of names")
    return value


def _number(value: Any, field: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{field}: a whole number, got {str(value)[:20]!r}") from None


async def _closed_within(websocket: WebSocket, seconds: float) -> bool:
    """Wait up to ``seconds`` for the client to close (what else it sends is ignored)."""
    try:
        message = await asyncio.wait_for(websocket.receive(), timeout=seconds)
    except TimeoutError:
        return False
    return bool(message["type"] == "websocket.disconnect")


async def _carry(
    websocket: WebSocket, bridge: Any, *, writable: bool, accepted: bool = False,
    on_input: Callable[[], None] | None = None,
) -> None:
    """The terminal's output to the socket; from a writable socket, keys and resizes back, and
    ``on_input()`` for each message of keys (the trainee's activity)."""
    if not accepted:
        await websocket.accept()
    loop = asyncio.get_running_loop()
    output: asyncio.Queue[bytes] = asyncio.Queue(maxsize=OUTPUT_QUEUE_CHUNKS)
    too_slow = asyncio.Event()

    def offer(chunk: bytes) -> None:  # on the loop: a socket that falls behind is dropped
        if too_slow.is_set():
            return
        try:
            output.put_nowait(chunk)
        except asyncio.QueueFull:
            too_slow.set()

    remove = bridge.listen(lambda chunk: loop.call_soon_threadsafe(offer, chunk))

    async def send() -> None:
        while chunk := await output.get():
            await websocket.send_bytes(chunk)
        await websocket.close()

    async def receive() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text and len(text) > MAX_MESSAGE_CHARS:
                await websocket.close(TOO_BIG_CLOSE, "a terminal message is limited to 64 KiB")
                return
            if writable and text and _typed(bridge, text) and on_input is not None:
                on_input()

    sender, receiver = asyncio.create_task(send()), asyncio.create_task(receive())
    behind = asyncio.create_task(too_slow.wait())
    try:
        await asyncio.wait({sender, receiver, behind}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        remove()
        for task in (sender, receiver, behind):
            task.cancel()
        with suppress(BaseException):
            await asyncio.gather(sender, receiver, behind, return_exceptions=True)
    if too_slow.is_set():
        with suppress(Exception):  # a socket that takes no output may take no close frame either
            await asyncio.wait_for(
                websocket.close(TRY_LATER_CLOSE, "the terminal printed faster than this page took it"),
                timeout=CLOSE_WAIT_SECONDS)


def _typed(bridge: Any, text: str) -> bool:
    """A trainee's message: ``{"input": "..."}`` or ``{"resize": [rows, cols]}``. Never waits
    for the shell: the bridge queues the input, or drops it when the shell does not read. True
    when it carried keys (a resize is the browser's doing, not the trainee's activity)."""
    try:
        message = json.loads(text)
    except ValueError:
        return False
    if not isinstance(message, dict):
        return False
    keys = message.get("input")
    if isinstance(keys, str):
        bridge.write(keys.encode("utf-8", "replace"))
    size = message.get("resize")
    if isinstance(size, list) and len(size) == 2 and all(isinstance(n, int) for n in size):
        bridge.resize(size[0], size[1])
    return isinstance(keys, str) and bool(keys)
