"""The hint channel: a directory of the session, bind-mounted into the shell service.

It carries only requests and the hints already revealed, never the hints still hidden:
  bin/get-hint     the trainee's command (POSIX sh; needs nothing else in the image)
  requests/<id>    get-hint asks (the watcher, `replay-check --watch`, answers)
  replies/<id>     the answer to one request
  hints/<n>.txt    each revealed hint
Containers may run as any user, so the request and reply directories are world-writable.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from libreplay import paths
from libreplay.state import CHANNEL_DIR
from libreplay.store import write_atomic

NO_MORE_HINTS = "No more hints for this incident: you have seen them all."


class HintChannel:
    def __init__(self, session_dir: Path) -> None:
        self.root = session_dir / CHANNEL_DIR
        self.requests = self.root / "requests"
        self.replies = self.root / "replies"
        self.hints = self.root / "hints"

    def create(self) -> None:
        for directory in (self.root / "bin", self.requests, self.replies, self.hints):
            directory.mkdir(parents=True, exist_ok=True)
        for directory in (self.requests, self.replies):
            directory.chmod(0o777)
        target = self.root / "bin" / "get-hint"
        shutil.copyfile(paths.asset_path("get-hint"), target)
        target.chmod(0o755)

    def pending_requests(self) -> list[Path]:
        """Requests in the order they were made; one withdrawn meanwhile is skipped."""
        found: list[tuple[int, Path]] = []
        try:
            entries = list(self.requests.iterdir())
        except FileNotFoundError:
            return []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                found.append((entry.stat().st_mtime_ns, entry))
            except FileNotFoundError:
                continue  # get-hint gave up and removed its request
        return [path for _, path in sorted(found)]

    def answer(self, request: Path, text: str) -> None:
        # Never re-create a channel that a teardown removed; readable by any container user.
        write_atomic(self.replies / request.name, (text + "\n").encode(), create_parents=False, mode=0o644)
        request.unlink(missing_ok=True)

    def publish(self, number: int, total: int, text: str) -> None:
        body = f"Hint {number}/{total}: {text}\n".encode()
        write_atomic(self.hints / f"{number}.txt", body, create_parents=False, mode=0o644)


def format_hint(revealed: tuple[int, int, str] | None) -> str:
    if revealed is None:
        return NO_MORE_HINTS
    number, total, text = revealed
    return f"Hint {number}/{total}: {text}"
