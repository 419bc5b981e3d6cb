"""inventory service: stock levels by SKU."""

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STOCK = {"SKU-1001": 42, "SKU-1002": 0, "SKU-2040": 7}


class Inventory(BaseHTTPRequestHandler):
    server_version = "inventory/1.9"

    def do_GET(self):
        if self.path == "/health":
            self.reply(200, {"status": "ok"})
        elif self.path.startswith("/stock/"):
            sku = self.path.rsplit("/", 1)[-1]
            self.reply(200, {"sku": sku, "available": STOCK.get(sku, 0)})
        else:
            self.reply(404, {"error": "not found"})

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    print("inventory listening on 0.0.0.0:8080")
    ThreadingHTTPServer(("0.0.0.0", 8080), Inventory).serve_forever()
