"""Orders API: a thin HTTP layer over the orders table. Connection settings come from the
standard libpq environment (PGHOST, PGUSER, ...)."""

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2

STATEMENT_TIMEOUT_MS = 5000


def log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} orders-api: {message}", file=sys.stderr, flush=True)


def connect():
    return psycopg2.connect(
        "", application_name="orders-api", connect_timeout=3,
        options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
    )


class Handler(BaseHTTPRequestHandler):
    server_version = "orders-api/4.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        log(f"{self.client_address[0]} {format % args}")

    def answer(self, status: int, body: dict) -> None:
        data = (json.dumps(body) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def run(self, work) -> None:
        started = time.monotonic()
        conn = None
        try:
            conn = connect()
            with conn, conn.cursor() as cur:
                status, body = work(conn, cur)
        except psycopg2.errors.QueryCanceled:
            log(f"{self.command} {self.path}: database did not answer within {STATEMENT_TIMEOUT_MS} ms")
            status, body = 504, {"error": "database timeout"}
        except psycopg2.Error as exc:
            log(f"{self.command} {self.path}: database error: {str(exc).strip()}")
            status, body = 503, {"error": "database unavailable"}
        finally:
            if conn is not None:
                conn.close()
        elapsed = time.monotonic() - started
        if elapsed > 1:
            log(f"{self.command} {self.path}: slow request, {elapsed:.1f}s")
        self.answer(status, body)

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        if self.path == "/health":
            self.run(self.shallow_health)
        elif self.path == "/health/deep":
            self.run(self.deep_health)
        elif self.path == "/orders/recent":
            self.run(self.recent)
        else:
            self.answer(404, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        if self.path == "/orders":
            self.run(self.create)
        else:
            self.answer(404, {"error": "not found"})

    @staticmethod
    def shallow_health(conn, cur):
        cur.execute("SELECT 1")
        return 200, {"db": "up"}

    @staticmethod
    def deep_health(conn, cur):
        """The load balancer's check: a real write path, rolled back."""
        cur.execute("INSERT INTO orders (customer, total_cents) VALUES ('healthcheck', 0) RETURNING id")
        cur.fetchone()
        conn.rollback()
        return 200, {"db": "up", "orders": "writable"}

    @staticmethod
    def recent(conn, cur):
        cur.execute("SELECT id, customer, total_cents FROM orders ORDER BY id DESC LIMIT 5")
        return 200, {"orders": [dict(zip(("id", "customer", "total_cents"), row)) for row in cur.fetchall()]}

    def create(self, conn, cur):
        length = int(self.headers.get("Content-Length", "0"))
        order = json.loads(self.rfile.read(length) or b"{}")
        cur.execute(
            "INSERT INTO orders (customer, total_cents) VALUES (%s, %s) RETURNING id",
            (order.get("customer", "anonymous"), int(order.get("total_cents", 0))),
        )
        return 201, {"id": cur.fetchone()[0]}


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", 80), Handler).serve_forever()
