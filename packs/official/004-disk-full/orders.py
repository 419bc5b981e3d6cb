"""orders API: every accepted order is spooled to /var/lib/app/spool before it is acknowledged.

/health proves the service can still accept orders: it writes, syncs and removes a spool file.
"""

import json
import os
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DATA = Path("/var/lib/app")
SPOOL = DATA / "spool"
LOG = DATA / "log" / "orders.log"


def spool(payload):
    """Write payload durably into the spool; raises OSError when the disk cannot take it."""
    path = SPOOL / f"{uuid.uuid4().hex}.json"
    with path.open("wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    return path


def log(line):
    try:
        with LOG.open("a") as handle:
            handle.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}\n")
    except OSError as exc:
        print(f"cannot write {LOG}: {exc}", file=sys.stderr)


class Orders(BaseHTTPRequestHandler):
    server_version = "orders/4.0"

    def do_GET(self):
        if self.path != "/health":
            self.reply(404, {"error": "not found"})
            return
        try:
            spool(b'{"probe": true}' + b" " * 4096).unlink()
        except OSError as exc:
            log(f"health: spool write failed: {exc}")
            print(f"health check failed: spool write: {exc}", file=sys.stderr)
            self.reply(503, {"status": "failing", "error": f"spool: {exc.strerror}"})
            return
        self.reply(200, {"status": "ok"})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            spool(body)
        except OSError as exc:
            log(f"order rejected: {exc}")
            self.reply(507, {"error": f"cannot store order: {exc.strerror}"})
            return
        log("order accepted")
        self.reply(202, {"order": "accepted"})

    def log_message(self, format, *args):
        pass  # requests are logged to the app's own log instead

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    for directory in (SPOOL, LOG.parent, DATA / "cache"):
        directory.mkdir(parents=True, exist_ok=True)
    log("orders starting on :8080")
    print("orders listening on 0.0.0.0:8080", file=sys.stderr)
    ThreadingHTTPServer(("0.0.0.0", 8080), Orders).serve_forever()
