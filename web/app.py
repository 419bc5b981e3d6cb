"""The Starlette app of ``replaybook serve``: pages, a JSON API and WebSockets over a
:class:`~libreplay.training.day.TrainingDay`.

Who may do what is decided here, on every request and every WebSocket:

- the facilitator holds the server's facilitator token (``Authorization: Bearer`` for the API,
  ``?token=`` for the page and the WebSockets): trainings, the board, ending and extending a
  session, watching a trainee's terminal read-only;
- a trainee holds one seat's invite token: that seat's page, events, hints and terminal, and
  nothing else: no session id is ever taken from a trainee's request.

Tokens are compared as SHA-256 hashes in constant time. A WebSocket whose ``Origin`` is not
this server's own is refused before it opens. Every response carries a Content-Security-Policy
that allows only our own scripts (none inline), no framing and no referrer.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
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
POLICY = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
          "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", POLICY.encode()),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
]
POLICY_CLOSE = 1008  # a WebSocket refused: no token, a wrong one, or another Origin


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


def create_app(day: TrainingDay, *, facilitator_hash: str, reap_every: float = REAP_EVERY_SECONDS) -> Starlette:
    pages = {name: (HERE / "templates" / f"{name}.html").read_text(encoding="utf-8")
             for name in ("facilitator", "trainee", "refused")}

    def facilitator(token: str) -> bool:
        return bool(token) and token_matches(token, facilitator_hash)

    def refused(status: int) -> HTMLResponse:
        return HTMLResponse(pages["refused"], status_code=status)

    # -- pages ----------------------------------------------------------------------------------

    async def facilitator_page(request: Request) -> Response:
        if not facilitator(request.query_params.get("token", "")):
            return refused(403)
        return HTMLResponse(pages["facilitator"])

    async def trainee_page(request: Request) -> Response:
        if day.seat_for(request.path_params["token"]) is None:
            return refused(404)
        return HTMLResponse(pages["trainee"])

    async def xterm_script(_request: Request) -> Response:
        return Response(await run_in_threadpool(xterm.bundle), media_type="text/javascript")

    async def xterm_css(_request: Request) -> Response:
        return Response(await run_in_threadpool(xterm.stylesheet), media_type="text/css")

    # -- the facilitator's API ----------------------------------------------------------------

    def as_facilitator(
        handler: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def checked(request: Request) -> Response:
            if not facilitator(_bearer(request)):
                return FORBIDDEN
            try:
                return await handler(request)
            except ReplayError as exc:
                return _error(exc)

        return checked

    async def create_training(request: Request) -> Response:
        body = await _json(request)
        seats = body.get("seats")
        if not isinstance(seats, int | list) or isinstance(seats, bool):
            raise InvalidInput("seats: a list of trainees' names or a number of invite links")
        training, tokens = await run_in_threadpool(
            lambda: day.create(
                scenarios=_strings(body.get("scenarios"), "scenarios"),
                seats=seats if isinstance(seats, int) else _strings(seats, "seats"),
                session_minutes=_number(body.get("session_minutes", 60), "session_minutes"),
                sla_minutes=_number(body.get("sla_minutes", 0), "sla_minutes"),
                title=str(body.get("title", "")),
            ))
        base = str(request.base_url).rstrip("/")
        invites = [{"seat": seat.number, "name": seat.name, "scenario": training.scenario_for(seat),
                    "url": f"{base}/join/{token}"} for seat, token in zip(training.seats, tokens, strict=True)]
        return JSONResponse({"training": training.id, "invites": invites}, status_code=201)

    async def board(_request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(day.board))

    async def end_session(request: Request) -> Response:
        await run_in_threadpool(day.end, request.path_params["session"])
        return JSONResponse({"ended": request.path_params["session"]})

    async def extend_session(request: Request) -> Response:
        body = await _json(request)
        until = await run_in_threadpool(day.extend, request.path_params["session"],
                                        _number(body.get("minutes", 15), "minutes"))
        return JSONResponse({"expires_at": until})

    # -- the trainee's API --------------------------------------------------------------------

    def as_trainee(
        handler: Callable[[Request, SeatRef], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def checked(request: Request) -> Response:
            ref = await run_in_threadpool(day.seat_for, _bearer(request))
            if ref is None:
                return FORBIDDEN
            try:
                return await handler(request, ref)
            except ReplayError as exc:
                return _error(exc)

        return checked

    async def seat(_request: Request, ref: SeatRef) -> Response:
        return JSONResponse(await run_in_threadpool(day.seat_view, ref))

    async def start(request: Request, ref: SeatRef) -> Response:
        body = await _json(request)
        name = str(body.get("name", ""))
        if ref.seat.session_id or day.starting(ref):
            raise SessionError("this seat's session has already started")
        if not ref.seat.name and not name.strip():
            raise InvalidInput("name: say who you are before you start")
        # Up and break take a while: the page follows the start on its events socket.
        threading.Thread(target=_quietly, args=(day, ref, name), name="seat-start", daemon=True).start()
        return JSONResponse({"starting": True}, status_code=202)

    async def hint(_request: Request, ref: SeatRef) -> Response:
        if not ref.seat.session_id:
            raise SessionError("the session has not started")
        revealed = await run_in_threadpool(day.hint, ref.seat.session_id)
        if revealed is None:
            return JSONResponse({"hint": None})
        number, total, text = revealed
        return JSONResponse({"hint": {"number": number, "total": total, "text": inert(text)}})

    # -- live: events and terminals -----------------------------------------------------------

    async def live(websocket: WebSocket, view: Callable[[], Any]) -> None:
        """Send ``view()`` whenever it changes (looked at on every change the day reports, and
        every second for the clock) until the socket closes."""
        await websocket.accept()
        last: Any = None
        try:
            while True:
                current = await run_in_threadpool(view)
                if current != last:
                    await websocket.send_text(json.dumps(current))
                    last = current
                if await _closed_within(websocket, LIVE_TICK_SECONDS):
                    return
        except WebSocketDisconnect:
            return

    async def board_socket(websocket: WebSocket) -> None:
        if not _same_origin(websocket) or not facilitator(websocket.query_params.get("token", "")):
            await websocket.close(POLICY_CLOSE)
            return
        await live(websocket, day.board)

    async def seat_socket(websocket: WebSocket) -> None:
        token = websocket.query_params.get("token", "")
        ref = await run_in_threadpool(day.seat_for, token) if _same_origin(websocket) else None
        if ref is None:
            await websocket.close(POLICY_CLOSE)
            return

        def view() -> Any:
            fresh = day.seat_for(token)
            return day.seat_view(fresh) if fresh is not None else {"status": "expired"}

        await live(websocket, view)

    async def terminal_socket(websocket: WebSocket) -> None:
        ref = (await run_in_threadpool(day.seat_for, websocket.query_params.get("token", ""))
               if _same_origin(websocket) else None)
        if ref is None or not ref.seat.session_id:
            await websocket.close(POLICY_CLOSE)
            return
        service = websocket.query_params.get("service", "")
        try:
            bridge = await run_in_threadpool(lambda: day.terminal(ref.seat.session_id, service, create=True))
        except ReplayError:
            await websocket.close(POLICY_CLOSE)
            return
        assert bridge is not None
        await _carry(websocket, bridge, writable=True)

    async def watch_socket(websocket: WebSocket) -> None:
        if not _same_origin(websocket) or not facilitator(websocket.query_params.get("token", "")):
            await websocket.close(POLICY_CLOSE)
            return
        session_id, service = websocket.path_params["session"], websocket.query_params.get("service", "")
        await websocket.accept()
        try:
            while True:  # the trainee may not have opened this shell yet
                try:
                    bridge = await run_in_threadpool(lambda: day.terminal(session_id, service, create=False))
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

    async def reaper() -> None:
        while True:
            await asyncio.sleep(reap_every)
            with suppress(ReplayError, OSError):
                await run_in_threadpool(day.reap)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> Any:
        task = asyncio.create_task(reaper())
        try:
            yield
        finally:
            task.cancel()
            await run_in_threadpool(day.shutdown)

    routes = [
        Route("/facilitator", facilitator_page),
        Route("/join/{token}", trainee_page),
        Route("/xterm/xterm.js", xterm_script),
        Route("/xterm/xterm.css", xterm_css),
        Route("/api/trainings", as_facilitator(create_training), methods=["POST"]),
        Route("/api/board", as_facilitator(board)),
        Route("/api/sessions/{session}/end", as_facilitator(end_session), methods=["POST"]),
        Route("/api/sessions/{session}/extend", as_facilitator(extend_session), methods=["POST"]),
        Route("/api/seat", as_trainee(seat)),
        Route("/api/seat/start", as_trainee(start), methods=["POST"]),
        Route("/api/seat/hint", as_trainee(hint), methods=["POST"]),
        WebSocketRoute("/ws/board", board_socket),
        WebSocketRoute("/ws/seat", seat_socket),
        WebSocketRoute("/ws/terminal", terminal_socket),
        WebSocketRoute("/ws/watch/{session}", watch_socket),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
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
        value = [part for part in value.replace(",", "\n").splitlines()]
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
    return message["type"] == "websocket.disconnect"


async def _carry(websocket: WebSocket, bridge: Any, *, writable: bool, accepted: bool = False) -> None:
    """The terminal's output to the socket; from a writable socket, keys and resizes back."""
    if not accepted:
        await websocket.accept()
    loop = asyncio.get_running_loop()
    output: asyncio.Queue[bytes] = asyncio.Queue()
    remove = bridge.listen(lambda chunk: loop.call_soon_threadsafe(output.put_nowait, chunk))

    async def send() -> None:
        while chunk := await output.get():
            await websocket.send_bytes(chunk)
        await websocket.close()

    async def receive() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if writable and message.get("text"):
                _typed(bridge, message["text"])

    sender, receiver = asyncio.create_task(send()), asyncio.create_task(receive())
    try:
        await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        remove()
        for task in (sender, receiver):
            task.cancel()
        with suppress(BaseException):
            await asyncio.gather(sender, receiver, return_exceptions=True)


def _typed(bridge: Any, text: str) -> None:
    """A trainee's message: ``{"input": "..."}`` or ``{"resize": [rows, cols]}``."""
    try:
        message = json.loads(text)
    except ValueError:
        return
    if not isinstance(message, dict):
        return
    if isinstance(message.get("input"), str):
        bridge.write(message["input"].encode("utf-8", "replace"))
    size = message.get("resize")
    if isinstance(size, list) and len(size) == 2 and all(isinstance(n, int) for n in size):
        bridge.resize(size[0], size[1])
