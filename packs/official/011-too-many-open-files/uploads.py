"""uploads: accepts files over HTTP, scans them, appends them to a sharded segment store."""

import hashlib
import os
import shutil
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path("/srv/uploads")
SHARDS = int(os.environ.get("SHARDS", "96"))
SCAN_SECONDS = 0.4


def log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} uploads[{os.getpid()}]: {message}", file=sys.stderr, flush=True)


class SegmentStore:
    """One append handle per shard, opened once: reopening per write was too slow."""

    def __init__(self, shards: int) -> None:
        self.handles = [open(ROOT / "segments" / f"shard-{n:03d}.log", "ab") for n in range(shards)]
        self.lock = threading.Lock()

    def append(self, digest: str, size: int) -> None:
        handle = self.handles[int(digest[:8], 16) % len(self.handles)]
        with self.lock:
            handle.write(f"{time.time():.3f} {digest} {size}\n".encode())
            handle.flush()


class ChecksumAudit:
    """Re-verifies stored files in the background, forever: a failed pass is retried."""

    def __init__(self) -> None:
        self.verified: list = []

    def run(self) -> None:
        while True:
            try:
                self.verify_all()
            except OSError as exc:  # listing the store needs a descriptor too
                log(f"checksum audit: pass failed, retrying: {exc}")
            time.sleep(1)

    def verify_all(self) -> None:
        for path in sorted((ROOT / "files").iterdir()):
            try:
                handle = open(path, "rb")
                hashlib.sha256(handle.read(4096)).hexdigest()
                self.verified.append(handle)
            except OSError as exc:
                log(f"checksum audit: {path}: {exc}")
                time.sleep(1)


STORE: SegmentStore
AUDIT = ChecksumAudit()  # the service's own: what it verified lives as long as the process


class Handler(BaseHTTPRequestHandler):
    server_version = "uploads/3.0"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        log(f"{self.client_address[0]} {format % args}")

    def answer(self, status: int, text: str) -> None:
        data = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self.answer(200 if self.path == "/health" else 404, "ok" if self.path == "/health" else "not found")

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        if not self.path.startswith("/upload"):
            self.answer(404, "not found")
            return
        length = int(self.headers.get("Content-Length", "0"))
        incoming = ROOT / "incoming" / f"{threading.get_ident()}-{time.monotonic_ns()}.part"
        try:
            with open(incoming, "wb") as part:
                digest = hashlib.sha256()
                remaining = length
                while remaining:
                    chunk = self.rfile.read(min(65536, remaining))
                    if not chunk:
                        break
                    digest.update(chunk)
                    part.write(chunk)
                    remaining -= len(chunk)
                time.sleep(SCAN_SECONDS)  # malware scan of the part file
            stored = ROOT / "files" / f"obj-{digest.hexdigest()[:16]}"
            shutil.move(incoming, stored)
            STORE.append(digest.hexdigest(), length)
        except OSError as exc:
            log(f"upload failed: {exc}")
            incoming.unlink(missing_ok=True)
            self.answer(500, "upload failed")
            return
        self.answer(201, stored.name)


class Server(ThreadingHTTPServer):
    request_queue_size = 128
    daemon_threads = True


if __name__ == "__main__":
    STORE = SegmentStore(SHARDS)
    if os.environ.get("CHECKSUM_AUDIT") == "on":
        log("checksum audit enabled")
        threading.Thread(target=AUDIT.run, daemon=True).start()
    Path("/run/uploads.pid").write_text(f"{os.getpid()}\n")
    log(f"listening on :80 with {SHARDS} shards")
    Server(("0.0.0.0", 80), Handler).serve_forever()
