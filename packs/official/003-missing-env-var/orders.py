"""orders API: takes orders and checks stock with the inventory service.

Configuration comes from the environment (see /etc/app/app.env).
"""

import json
import os
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

APP_ENV = os.environ.get("APP_ENV", "development")
PORT = int(os.environ.get("PORT", "8000"))
SESSION_SECRET = os.environ["SESSION_SECRET"]
INVENTORY_URL = os.environ["INVENTORY_URL"].rstrip("/")
INVENTORY_TIMEOUT = float(os.environ.get("INVENTORY_TIMEOUT", "2"))


def inventory(path):
    with urllib.request.urlopen(INVENTORY_URL + path, timeout=INVENTORY_TIMEOUT) as answer:
        return json.load(answer)


class Orders(BaseHTTPRequestHandler):
    server_version = "orders/3.2"

    def do_GET(self):
        try:
            if self.path == "/health":
                self.reply(200, {"status": "ok", "inventory": inventory("/health")["status"]})
            elif self.path.startswith("/stock/"):
                self.reply(200, inventory(self.path))
            else:
                self.reply(404, {"error": "not found"})
        except OSError as exc:
            self.reply(503, {"status": "degraded", "error": f"inventory: {exc}"})

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    print(f"orders starting: env={APP_ENV} port={PORT} inventory={INVENTORY_URL}", file=sys.stderr)
    ThreadingHTTPServer(("0.0.0.0", PORT), Orders).serve_forever()
