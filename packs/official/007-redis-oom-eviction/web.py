"""The shop's web tier: logins create a session in Redis, every page view reads it back."""

import json
import os
import secrets
import sys
import time
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from resp import Redis, RedisError

REDIS_HOST = os.environ.get("REDIS_HOST", "redis")
SESSION_HOURS = 8


def log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} web: {message}", file=sys.stderr, flush=True)


def redis_call(*args: object):
    client = Redis(REDIS_HOST)
    try:
        return client.call(*args)
    finally:
        client.close()


class Handler(BaseHTTPRequestHandler):
    server_version = "shop-web/2.3"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        log(f"{self.client_address[0]} {format % args}")

    def answer(self, status: int, body: dict, cookie: str | None = None) -> None:
        data = (json.dumps(body) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if cookie:
            self.send_header("Set-Cookie", f"session={cookie}; HttpOnly; Path=/")
        self.end_headers()
        self.wfile.write(data)

    def session_token(self) -> str | None:
        cookies = SimpleCookie(self.headers.get("Cookie", ""))
        return cookies["session"].value if "session" in cookies else None

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        try:
            if self.path == "/health":
                self.answer(200, {"redis": redis_call("PING")})
            elif self.path == "/me":
                self.me()
            else:
                self.answer(404, {"error": "not found"})
        except (OSError, RedisError) as exc:
            log(f"redis error: {exc}")
            self.answer(503, {"error": "session store unavailable"})

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        try:
            if self.path == "/login":
                self.login()
            else:
                self.answer(404, {"error": "not found"})
        except (OSError, RedisError) as exc:
            log(f"redis error: {exc}")
            self.answer(503, {"error": "session store unavailable"})

    def login(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        form = parse_qs(self.rfile.read(length).decode())
        user = form.get("user", ["guest"])[0]
        token = secrets.token_hex(16)
        # The app enforces the expiry itself; the key must live until then.
        record = {"user": user, "created": int(time.time()), "expires": int(time.time()) + SESSION_HOURS * 3600}
        redis_call("SET", f"session:{token}", json.dumps(record))
        self.answer(200, {"session": token, "user": user}, cookie=token)

    def me(self) -> None:
        token = self.session_token()
        raw = redis_call("GET", f"session:{token}") if token else None
        if raw is None:
            log(f"session {str(token)[:8]}... not found, sending user to /login")
            self.answer(401, {"error": "not logged in"})
            return
        record = json.loads(raw)
        if record["expires"] < time.time():
            self.answer(401, {"error": "session expired"})
            return
        self.answer(200, {"user": record["user"]})


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", 80), Handler).serve_forever()
