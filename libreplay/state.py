"""Session state: ``<state dir>/sessions/<id>/session.toml``, the file every process shares.

The engine (replay-up/-break/-check --watch/-hint/-down) writes it; the HUD and
``replaybook run`` watch it with watchfiles and redraw or react when it changes.
All writes go through :func:`update_session` (locked, atomic), so concurrent writers
(the watcher, replay-hint, replay-down) never lose one another's updates.

Layout of a session directory:
  session.toml          the state below
  compose.override.yml  what replaybook adds to the pack's compose file (probe, hint channel)
  channel/              bind-mounted into the shell service at CHANNEL_MOUNT:
    bin/get-hint        the trainee's hint command (POSIX sh)
    requests/           get-hint drops a request file here
    replies/            the watcher answers each request here
    hints/N.txt         hints revealed so far (never the ones not yet revealed)
  transcript.cast       the trainee's shell, asciicast v2 (written by replaybook run)
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from libreplay import paths
from libreplay.errors import NotFound
from libreplay.store import read_toml, update_toml

SESSION_FILE = "session.toml"
CHANNEL_DIR = "channel"
CHANNEL_MOUNT = "/run/replaybook"

# Status values, in the order a session moves through them.
STARTING = "starting"  # replay-up is building and starting the stack
READY = "ready"  # the stack is up and its baseline check passed; nothing broken yet
BREAKING = "breaking"  # replay-break is injecting the fault
ACTIVE = "active"  # broken, SLA clock running
RESOLVED = "resolved"  # the check passed before the deadline
TIMEOUT = "timeout"  # the deadline passed first
ABANDONED = "abandoned"  # ended (down, Ctrl-C, exit) before a fix
ERROR = "error"  # the scenario misbehaved; ``error`` says how
TERMINAL = frozenset({RESOLVED, TIMEOUT, ABANDONED, ERROR})


def now() -> datetime:
    return datetime.now(UTC)


def new_session_id() -> str:
    """Short, unique, and valid inside a Compose project name."""
    return secrets.token_hex(4)


def project_name(session_id: str) -> str:
    return f"replaybook-{session_id}"


@dataclass
class SessionState:
    id: str
    scenario: str
    pack: str
    scenario_dir: str
    project: str
    status: str = STARTING
    fault: str | None = None
    shell_service: str = ""
    services: list[str] = field(default_factory=list)
    success_condition: str = ""
    sla_seconds: int = 15 * 60
    created_at: datetime | None = None
    started_at: datetime | None = None  # the SLA clock's start: the moment the break is proven
    deadline: datetime | None = None
    resolved_at: datetime | None = None
    fixed_late_at: datetime | None = None  # a fix noticed after the deadline (outcome stays timeout)
    ended_at: datetime | None = None
    hints_total: int = 0
    hints_used: int = 0
    hints_revealed: list[str] = field(default_factory=list)
    score: int | None = None
    outcome: str | None = None  # success / timeout / abandoned, once the ledger line is written
    error: str | None = None
    # Orphan detection. The owner (REPLAYBOOK_OWNER_PID, set by `replaybook run`) answers for
    # the whole session; the holder is the replay-* command working on it right now. Either
    # one dead means a SIGKILL left the stack behind. Start times guard against reused pids.
    owner_pid: int | None = None
    owner_started: float | None = None
    holder_pid: int | None = None
    holder_started: float | None = None
    transcript: str | None = None
    page: str = ""
    title: str = ""

    @property
    def directory(self) -> Path:
        return paths.session_dir(self.id)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionState:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def session_file(session_id: str) -> Path:
    return paths.session_dir(session_id) / SESSION_FILE


def load_session(session_id: str) -> SessionState:
    path = session_file(session_id)
    if not path.is_file():
        raise NotFound(f"no session {session_id!r}", hint="replay-sessions lists the live ones")
    return SessionState.from_dict(read_toml(path))


def save_new_session(state: SessionState) -> None:
    path = session_file(state.id)
    update_toml(path, lambda data: data.update(state.to_dict()))


def update_session(session_id: str, change: Callable[[SessionState], None]) -> SessionState:
    """Apply ``change`` to the session under its lock; return the state as written."""
    path = session_file(session_id)
    if not path.is_file():
        raise NotFound(f"no session {session_id!r}")
    result: list[SessionState] = []

    def apply(data: dict[str, Any]) -> None:
        state = SessionState.from_dict(data)
        change(state)
        data.clear()
        data.update(state.to_dict())
        result.append(state)

    try:
        update_toml(path, apply, must_exist=True)
    except FileNotFoundError:
        raise NotFound(f"session {session_id!r} has ended") from None
    return result[0]


def list_sessions() -> list[SessionState]:
    root = paths.sessions_dir()
    if not root.is_dir():
        return []
    found = []
    for path in sorted(root.glob(f"*/{SESSION_FILE}")):
        try:
            found.append(SessionState.from_dict(read_toml(path)))
        except Exception:  # noqa: BLE001 - a damaged file must not hide the other sessions
            continue
    return found
