"""catalog API: serves product pages from an in-memory cache that is warmed at start-up."""

import configparser
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

CONFIG_PATH = "/etc/catalog/catalog.conf"
MEGABYTE = 1024 * 1024
# The hot part of the catalog: with a smaller cache most product pages miss and fall
# through to the pricing upstream, which cannot take sale traffic, so we are not healthy.
HOT_CATALOG_MB = 64


def warm_cache(size_mb):
    """Pre-render size_mb megabytes of product pages. Every page is really written to memory."""
    pages = []
    started = time.monotonic()
    for n in range(size_mb):
        pages.append(bytes([n % 251]) * MEGABYTE)
        if (n + 1) % 32 == 0:
            print(f"cache warm-up: {n + 1}/{size_mb} MB", file=sys.stderr)
    print(f"cache warm: {size_mb} MB in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return pages


class Catalog(BaseHTTPRequestHandler):
    server_version = "catalog/5.1"
    pages: ClassVar[list[bytes]] = []

    def do_GET(self):
        if self.path == "/health":
            if len(self.pages) < HOT_CATALOG_MB:
                self.reply(503, {"status": "degraded", "cache_mb": len(self.pages),
                                 "reason": f"cache smaller than the hot catalog ({HOT_CATALOG_MB} MB)"})
            else:
                self.reply(200, {"status": "ok", "cache_mb": len(self.pages)})
        elif self.path.startswith("/products/"):
            self.reply(200, {"product": self.path.rsplit("/", 1)[-1], "cached": bool(self.pages)})
        else:
            self.reply(404, {"error": "not found"})

    def log_message(self, format, *args):
        pass  # health checks every two seconds would drown the warm-up messages

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main():
    config = configparser.ConfigParser()
    if not config.read(CONFIG_PATH):
        sys.exit(f"cannot read {CONFIG_PATH}")
    port = config.getint("server", "port")
    size_mb = config.getint("cache", "size_mb")
    print(f"catalog starting: port={port} cache.size_mb={size_mb}", file=sys.stderr)
    if size_mb < HOT_CATALOG_MB:
        print(f"warning: cache.size_mb={size_mb} cannot hold the hot catalog ({HOT_CATALOG_MB} MB); "
              "/health will report degraded", file=sys.stderr)
    Catalog.pages = warm_cache(size_mb)
    print(f"catalog listening on 0.0.0.0:{port}", file=sys.stderr)
    ThreadingHTTPServer(("0.0.0.0", port), Catalog).serve_forever()


if __name__ == "__main__":
    main()
