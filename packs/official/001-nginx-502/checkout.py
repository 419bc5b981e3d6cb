"""The checkout service: a small JSON API that nginx proxies to."""

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("PORT", "3000"))


class Checkout(BaseHTTPRequestHandler):
    server_version = "checkout/2.14"

    def do_GET(self):
        if self.path in ("/health", "/healthz"):
            self.reply(200, {"status": "ok"})
        elif self.path.startswith("/checkout") or self.path == "/":
            self.reply(200, {"cart": "ready", "payment_methods": ["card", "paypal"]})
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.reply(201, {"order": "accepted"})

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    print(f"checkout listening on 0.0.0.0:{PORT}")
    ThreadingHTTPServer(("0.0.0.0", PORT), Checkout).serve_forever()
