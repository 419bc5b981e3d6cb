"""catalog-api: product listing straight from Postgres; one connection per request."""

import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2

ATTEMPTS = int(os.environ.get("DB_CONNECT_ATTEMPTS", "3"))


def log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} catalog-api: {message}", file=sys.stderr, flush=True)


def connect():
    """Retry a few times: a blip on the network should not become a 5xx."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return psycopg2.connect(
                host=os.environ["DB_HOST"], port=os.environ.get("DB_PORT", "5432"),
                dbname=os.environ["DB_NAME"], user=os.environ["DB_USER"],
                password=os.environ["DB_PASSWORD"], application_name="catalog-api",
                connect_timeout=int(os.environ.get("DB_CONNECT_TIMEOUT", "2")),
            )
        except psycopg2.OperationalError as exc:
            log(f"connect to {os.environ['DB_HOST']} failed (attempt {attempt}/{ATTEMPTS}): {' '.join(str(exc).split())}")
            if attempt == ATTEMPTS:
                raise
            time.sleep(1.0 * attempt)
    raise AssertionError("unreachable")


class Handler(BaseHTTPRequestHandler):
    server_version = "catalog-api/1.9"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        log(f"{self.client_address[0]} {format % args}")

    def answer(self, status: int, body: dict) -> None:
        data = (json.dumps(body) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            log(f"{self.client_address[0]} gave up before the answer ({status})")

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        queries = {
            "/health": "SELECT 1",
            "/products": "SELECT id, sku, name, price_cents FROM products ORDER BY id LIMIT 20",
        }
        if self.path not in queries:
            self.answer(404, {"error": "not found"})
            return
        started = time.monotonic()
        conn = None
        try:
            conn = connect()
            with conn, conn.cursor() as cur:
                cur.execute(queries[self.path])
                rows = cur.fetchall()
            self.answer(200, {"items": len(rows)} if self.path == "/products" else {"db": "up"})
        except psycopg2.Error:
            self.answer(503, {"error": "database unavailable"})
        finally:
            if conn is not None:
                conn.close()
            elapsed = time.monotonic() - started
            if elapsed > 1:
                log(f"GET {self.path} took {elapsed:.1f}s")


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", 80), Handler).serve_forever()
