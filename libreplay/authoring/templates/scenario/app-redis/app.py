"""The shop's web app: keeps a heartbeat in Redis. Replace it with your incident's service.

/health writes a key and reads it back, so it fails when Redis refuses writes. It speaks
Redis' protocol (RESP) itself: python3's standard library is all the image needs.
"""

import json
import os
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("PORT", "8000"))
REDIS = (os.environ.get("REDIS_HOST", "redis"), int(os.environ.get("REDIS_PORT", "6379")))


def redis_command(*args):
    """One command, one reply line: enough for SET and GET of short values."""
    request = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    with socket.create_connection(REDIS, timeout=2) as connection:
        connection.sendall(request.encode())
        reply = connection.makefile("rb").readline().decode().rstrip("\r\n")
    if reply.startswith("-"):
        raise RuntimeError(reply[1:])
    return reply


class Shop(BaseHTTPRequestHandler):
    server_version = "shop-web/5.1"

    def do_GET(self):
        try:
            redis_command("SET", f"heartbeat:{os.getpid()}", str(time.time()), "EX", "60")
        except (OSError, RuntimeError) as exc:
            print(f"shop-web: redis error: {exc}", file=sys.stderr)
            self.reply(503, {"error": "session store unavailable"})
            return
        self.reply(200, {"status": "ok"})

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    print(f"shop-web listening on 0.0.0.0:{PORT}, redis {REDIS[0]}:{REDIS[1]}")
    ThreadingHTTPServer(("0.0.0.0", PORT), Shop).serve_forever()
