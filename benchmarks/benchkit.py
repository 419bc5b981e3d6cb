"""What the benchmark scripts share: running replaybook's executables of this interpreter, and
talking to a `replaybook serve` they started (a free loopback port, its JSON API)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent


def replay(*argv: str) -> str:
    """Run ``replay-X …`` from this virtual environment; its stdout, or RuntimeError with its stderr."""
    result = subprocess.run(
        [str(BIN / argv[0]), *argv[1:]], capture_output=True, text=True, check=False, env=os.environ
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{result.stderr}")
    return result.stdout.strip()


def free_port() -> int:
    """A loopback port nothing listens on now (for a server the script starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve_api(base: str, path: str, token: str, body: dict[str, Any] | None = None, *,
              timeout: float = 600) -> Any:
    """A call of serve's JSON API as a page makes it: GET, or POST with ``body``; the answer."""
    request = urllib.request.Request(
        base + path, method="POST" if body is not None else "GET",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Origin": base},
    )
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return json.loads(answer.read() or b"null")
