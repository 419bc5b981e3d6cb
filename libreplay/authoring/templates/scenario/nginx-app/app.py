"""The app behind nginx: a small JSON API. Replace it with your incident's service.

Every request is logged to stderr, which the supervisor writes to /var/log/app.log (the guard
reads it to prove an answer came from the app).
"""

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("PORT", "8000"))


class App(BaseHTTPRequestHandler):
    server_version = "app/3.2"

    def do_GET(self):
        if self.path in ("/health", "/healthz"):
            self.reply(200, {"status": "ok"})
        else:
            self.reply(200, {"catalog": "ready", "items": 42})

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    print(f"app listening on 0.0.0.0:{PORT}")
    ThreadingHTTPServer(("0.0.0.0", PORT), App).serve_forever()
