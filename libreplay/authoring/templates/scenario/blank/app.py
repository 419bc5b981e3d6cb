"""The orders app: takes orders into a spool directory. Replace it with your incident's service.

/health writes (and fsyncs) a file in the spool, so it fails when the app cannot store an order.
"""

import json
import os
import tempfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("PORT", "8000"))
SPOOL = os.environ.get("SPOOL", "/var/spool/orders")


def store_probe():
    # A file of its own per request: requests are served by concurrent threads.
    handle, path = tempfile.mkstemp(prefix=".probe-", dir=SPOOL)
    try:
        os.write(handle, b"ok\n")
        os.fsync(handle)
    finally:
        os.close(handle)
        os.remove(path)


class Orders(BaseHTTPRequestHandler):
    server_version = "orders/1.4"

    def do_GET(self):
        try:
            store_probe()
        except OSError as exc:
            self.log_message("cannot write to %s: %s", SPOOL, exc)
            self.reply(503, {"error": "cannot store orders"})
            return
        count = sum(1 for name in os.listdir(SPOOL) if name.startswith("order-"))
        self.reply(200, {"status": "ok", "orders": count})

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    print(f"orders listening on 0.0.0.0:{PORT}, spool {SPOOL}")
    ThreadingHTTPServer(("0.0.0.0", PORT), Orders).serve_forever()
