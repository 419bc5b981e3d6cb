"""Session state: ``<state dir>/sessions/<id>/session.toml``, the file every process shares.

The engine (replay-up/-break/-check --watch/-hint/-down) writes it; the HUD and
``replaybook run`` follow it (libreplay.core.watch) and redraw or react when it changes.
All writes go through :func:`update_session` (locked, atomic), so concurrent writers
(the watcher, replay-hint, replay-down) never lose one another's updates.

Layout of a session directory:
  session.toml          the state below
  scenario.json         the snapshot of the scenario taken at up (libreplay.session.snapshot)
  scenario/             the session's copy of the scenario directory, where its scripts run
  compose.json          the session's compose model: the pack's file as Compose resolves it,
                        checked, with replaybook's additions (labels, the probe)
No hint channel here: it lives in the shell container itself, at CHANNEL_MOUNT, and is reached
only through the Docker API (libreplay.session.hints), so no host path is the trainee's to aim at:
  bin/get-hint          the trainee's hint command (POSIX sh), copied in after the stack is up
  replies/<id>          the watcher's answer to one request (requests go on the log stream)
Revealed hints are recorded in this file (``hints_revealed``), which the HUD reads.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, field, fields
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

from libreplay.core import paths
from libreplay.core.errors import InvalidInput, NotFound, ReplayError
from libreplay.core.store import read_toml, update_toml

SESSION_FILE = "session.toml"
# Where the hint channel lives inside the shell container (never a host path): get-hint is in
# its bin/, which the trainee's PATH puts first (libreplay.play.shell.shell_argv).
CHANNEL_MOUNT = "/run/replaybook"

# Status values, in the order a session moves through them.
STARTING = "starting"  # replay-up is building and starting the stack
READY = "ready"  # the stack is up and its baseline check passed; nothing broken yet
BREAKING = "breaking"  # replay-break is injecting the fault
ACTIVE = "active"  # broken, SLA clock running
VERIFYING = "verifying"  # the check passes: it must hold for hold_seconds (a failure is a relapse)
RESOLVED = "resolved"  # the check passed before the deadline and held
TIMEOUT = "timeout"  # the deadline passed first
ABANDONED = "abandoned"  # ended (down, Ctrl-C, exit) before a fix
ERROR = "error"  # the scenario misbehaved; ``error`` says how
STATUSES = (STARTING, READY, BREAKING, ACTIVE, VERIFYING, RESOLVED, TIMEOUT, ABANDONED, ERROR)

# Outcomes: what the ledger records of a session that reached the clock.
OUTCOME_SUCCESS = "success"
OUTCOME_TIMEOUT = "timeout"
OUTCOME_ABANDONED = "abandoned"

# Where a status stands on the SLA clock.
BEFORE_THE_CLOCK = "before"  # not started yet: it starts when the break is proven
ON_THE_CLOCK = "running"  # running: the session can be fixed, or time out
OVER = "over"  # the session has ended: its outcome stands (a late fix is only noted)


@dataclass(frozen=True)
class StatusMeaning:
    """What one status means to each part that reads it: the watcher, the ledger, the HUD."""

    clock: str  # BEFORE_THE_CLOCK, ON_THE_CLOCK or OVER
    outcome: str  # the ledger's outcome should the session end in this status
    label: str  # the HUD's word after STATUS:
    style: str  # and its colour: "", "bold", "dim", "green", "red", "yellow"
    takes_hints: bool = True  # replay-hint still reveals hints (a timed-out session may be fixed late)
    watched: bool = False  # a fix may still land, so the watcher watches for it (late, after a timeout)

    @property
    def terminal(self) -> bool:
        return self.clock == OVER

    @property
    def before_the_clock(self) -> bool:
        return self.clock == BEFORE_THE_CLOCK

    @property
    def on_the_clock(self) -> bool:
        return self.clock == ON_THE_CLOCK

    @property
    def stopped(self) -> bool:
        """Over with no fix and no deadline passed: given up, or ended by a fault."""
        return self.terminal and self.outcome == OUTCOME_ABANDONED


STATUS_MEANINGS = {
    STARTING: StatusMeaning(BEFORE_THE_CLOCK, OUTCOME_ABANDONED, "STARTING (building the stack)", "dim"),
    READY: StatusMeaning(BEFORE_THE_CLOCK, OUTCOME_ABANDONED, "READY (not broken yet)", "dim"),
    BREAKING: StatusMeaning(BEFORE_THE_CLOCK, OUTCOME_ABANDONED, "BREAKING...", "yellow"),
    ACTIVE: StatusMeaning(ON_THE_CLOCK, OUTCOME_ABANDONED, "ACTIVE", "bold", watched=True),
    VERIFYING: StatusMeaning(ON_THE_CLOCK, OUTCOME_ABANDONED, "VERIFYING", "yellow", watched=True),
    RESOLVED: StatusMeaning(OVER, OUTCOME_SUCCESS, "RESOLVED", "green", takes_hints=False),
    TIMEOUT: StatusMeaning(OVER, OUTCOME_TIMEOUT, "SLA BREACHED", "red", watched=True),
    ABANDONED: StatusMeaning(OVER, OUTCOME_ABANDONED, "ABANDONED", "yellow", takes_hints=False),
    ERROR: StatusMeaning(OVER, OUTCOME_ABANDONED, "ERROR", "red", takes_hints=False),
}
TERMINAL = frozenset(status for status, meaning in STATUS_MEANINGS.items() if meaning.terminal)

# What the debrief says of each outcome.
OUTCOME_WORDS = {
    OUTCOME_SUCCESS: "RESOLVED within the SLA",
    OUTCOME_TIMEOUT: "SLA BREACHED",
    OUTCOME_ABANDONED: "ABANDONED",
}


def meaning_of(status: str) -> StatusMeaning:
    """The meaning of ``status``; a status replaybook does not know is shown as it is."""
    return STATUS_MEANINGS.get(status) or StatusMeaning("", OUTCOME_ABANDONED, status.upper(), "")


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
    resolved_at: datetime | None = None  # when the fix that held landed (its fix_landed_at)
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
    player: str = ""  # who plays, for the ledger (replay-up --player; the OS user by default)
    pack_commit: str | None = None  # an added pack's commit admitted by replay-up: the snapshot's
    page: str = ""
    title: str = ""
    # Fair wins (docs/scenario-format.md): the fix must hold, guards must keep passing.
    hold_seconds: int = 0  # how long the check must keep passing (0: the first pass resolves)
    survive_restart: list[str] = field(default_factory=list)  # restarted once during the hold
    fix_landed_at: datetime | None = None  # while verifying: when the check first passed (what counts)
    verifying_since: datetime | None = None  # while verifying: the hold's start (again after a restart)
    verify_note: str = ""  # what the hold is doing besides holding ("restarting web")
    relapses: int = 0  # holds that failed
    relapse_note: str = ""  # why the last hold failed, for the trainee (until the next one starts)
    guards_failing: list[str] = field(default_factory=list)  # the messages of the guards failing now
    guards_tripped: list[str] = field(default_factory=list)  # every guard that has failed, by name

    @property
    def directory(self) -> Path:
        return paths.session_dir(self.id)

    # -- what the status means ----------------------------------------------------------------

    @property
    def meaning(self) -> StatusMeaning:
        return meaning_of(self.status)

    @property
    def terminal(self) -> bool:
        return self.meaning.terminal

    @property
    def outcome_pending(self) -> bool:
        """The clock started and no outcome is recorded yet: ending the session now writes its
        ledger line (exactly once)."""
        return self.started_at is not None and self.outcome is None

    @property
    def shown_outcome(self) -> str:
        """The outcome recorded, else the one the status stands for (a session that never reached
        the clock records none)."""
        return self.outcome or self.meaning.outcome

    # -- the SLA clock ------------------------------------------------------------------------

    def seconds_on_the_clock(self, moment: datetime | None) -> float:
        """Seconds from the clock's start to ``moment`` (never negative); 0 without either."""
        if self.started_at is None or moment is None:
            return 0.0
        return max(0.0, (moment - self.started_at).total_seconds())

    def elapsed_seconds(self, now: datetime | None = None) -> float:
        """Time on the clock: to the fix, else to the end, else (still running) to ``now``."""
        return self.seconds_on_the_clock(self.resolved_at or self.ended_at or now)

    def held_seconds(self, now: datetime) -> float:
        """How long the fix has held so far (0 when not verifying)."""
        if self.verifying_since is None:
            return 0.0
        return max(0.0, (now - self.verifying_since).total_seconds())

    def remaining_seconds(self, now: datetime) -> float:
        """Seconds left until the deadline (never negative); the whole SLA before the clock starts."""
        if self.deadline is None:
            return float(self.sla_seconds)
        return max(0.0, (self.deadline - now).total_seconds())

    def breached(self, now: datetime) -> bool:
        """The deadline has passed (whatever the status: the HUD shows an active session red)."""
        return self.deadline is not None and now >= self.deadline

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionState:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def from_json(cls, text: bytes | str) -> SessionState:
        """The state as ``replay-down --json`` prints it (times as ISO strings).

        ValueError or TypeError when the text is not such an object.
        """
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not an object")
        for key, value in list(data.items()):
            if (key.endswith("_at") or key == "deadline") and isinstance(value, str):
                data[key] = datetime.fromisoformat(value)
        return cls.from_dict(data)


def session_file(session_id: str) -> Path:
    return paths.session_dir(session_id) / SESSION_FILE


# A session id names a directory: only plain names, never a path (``..``, ``/``).
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def known_session_dir(session_id: str) -> Path:
    """The session's directory; NotFound for an id that is not a plain name (never a path)."""
    if not _SESSION_ID.fullmatch(session_id):
        raise NotFound(f"no session {session_id!r}", hint="replay-sessions lists the live ones")
    return paths.session_dir(session_id)


def _known_file(session_id: str) -> Path:
    return known_session_dir(session_id) / SESSION_FILE


def load_session(session_id: str) -> SessionState:
    """The session's state. NotFound when there is none; InvalidInput naming the file and
    field when its file is damaged (not TOML, a field missing or of the wrong type)."""
    path = _known_file(session_id)
    try:
        data = read_toml(path)
    except (FileNotFoundError, NotADirectoryError):
        raise _missing(session_id, path) from None
    return _checked_state(data, path, session_id)


def _missing(session_id: str, path: Path) -> NotFound:
    if path.parent.is_dir():
        return NotFound(
            f"session {session_id}: its state file {path} is missing",
            hint="`replay-down --all` removes what is left of it",
        )
    return NotFound(f"no session {session_id!r}", hint="replay-sessions lists the live ones")


def _checked_state(data: dict[str, Any], path: Path, session_id: str) -> SessionState:
    """A state read from ``path``, refused with the file and field named when it is damaged."""
    problems = [*_field_problems(data), *_identity_problems(data, session_id)]
    if problems:
        hint = "the session's state is damaged: `replay-down --all` removes its stack"
        raise InvalidInput(f"{path}: {problems[0]}", hint=hint)
    return SessionState.from_dict(data)


def _field_problems(data: dict[str, Any]) -> list[str]:
    problems = []
    for name, hint in _field_types().items():
        if name not in data:
            default_missing = next(f for f in fields(SessionState) if f.name == name)
            if default_missing.default is MISSING and default_missing.default_factory is MISSING:
                problems.append(f"{name}: missing")
        elif not _conforms(data[name], hint):
            shown = repr(data[name])
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            problems.append(f"{name}: must be {_kind(hint)}, got {shown}")
    if "status" in data and not problems and data["status"] not in STATUSES:
        problems.append(f"status: must be one of {', '.join(STATUSES)}, got {data['status']!r}")
    return problems


@cache
def _field_types() -> dict[str, Any]:
    return get_type_hints(SessionState)


def _identity_problems(data: dict[str, Any], session_id: str) -> list[str]:
    """The file names its own session: a teardown must never follow it to another directory."""
    if data.get("id") != session_id:
        return [f"id: must be {session_id!r} (its directory's name), got {data.get('id')!r}"]
    if data.get("project") != project_name(session_id):  # what a teardown removes
        return [f"project: must be {project_name(session_id)!r}, got {data.get('project')!r}"]
    return []


def _conforms(value: Any, hint: Any) -> bool:
    if get_origin(hint) in (Union, UnionType):
        return any(_conforms(value, option) for option in get_args(hint))
    if get_origin(hint) is list:
        (item,) = get_args(hint)
        return isinstance(value, list) and all(_conforms(v, item) for v in value)
    return _scalar_conforms(value, hint)


def _scalar_conforms(value: Any, hint: Any) -> bool:
    if isinstance(value, bool):  # an int to Python, never a count or a time here
        return hint is bool
    if hint is float:
        return isinstance(value, int | float)
    if hint is datetime:
        return isinstance(value, datetime) and value.tzinfo is not None  # compared with now()
    return value is None if hint is type(None) else isinstance(value, hint)


def _kind(hint: Any) -> str:
    if get_origin(hint) in (Union, UnionType):
        return " or ".join(_kind(option) for option in get_args(hint) if option is not type(None))
    if get_origin(hint) is list:
        return f"a list of {_kind(get_args(hint)[0])}"
    words = {str: "text", int: "an integer", float: "a number", bool: "true or false",
             datetime: "a date-time with its offset"}  # fmt: skip
    return words.get(hint, getattr(hint, "__name__", str(hint)))


def save_new_session(state: SessionState) -> None:
    path = session_file(state.id)
    update_toml(path, lambda data: data.update(state.to_dict()))


def update_session(session_id: str, change: Callable[[SessionState], None]) -> SessionState:
    """Apply ``change`` to the session under its lock; return the state as written."""
    path = _known_file(session_id)
    if not path.is_file():
        raise _missing(session_id, path)
    result: list[SessionState] = []

    def apply(data: dict[str, Any]) -> None:
        state = _checked_state(data, path, session_id)
        change(state)
        data.clear()
        data.update(state.to_dict())
        result.append(state)

    try:
        update_toml(path, apply, must_exist=True)
    except FileNotFoundError:
        raise NotFound(f"session {session_id!r} has ended") from None
    return result[0]


def record_transcript(session_id: str, cast: Path) -> SessionState:
    """Note where the session's shell is recorded (replaybook run does; the debrief names it)."""
    return update_session(session_id, lambda state: setattr(state, "transcript", str(cast)))


def disown(session_id: str) -> SessionState:
    """Clear the session's owner: it is leaving the session up on purpose (``run --keep``), so
    the session is no orphan once that owner has gone."""

    def clear(state: SessionState) -> None:
        state.owner_pid = state.owner_started = None

    return update_session(session_id, clear)


def list_sessions() -> list[SessionState]:
    """Every session of this home whose state can be read (see :func:`damaged_sessions`)."""
    return [state for state in _read_all() if isinstance(state, SessionState)]


def damaged_sessions() -> list[tuple[str, ReplayError]]:
    """Session directories whose state cannot be read: (session id, what is wrong)."""
    return [(error_of[0], error_of[1]) for error_of in _read_all() if isinstance(error_of, tuple)]


def _read_all() -> list[SessionState | tuple[str, ReplayError]]:
    root = paths.sessions_dir()
    if not root.is_dir():
        return []
    found: list[SessionState | tuple[str, ReplayError]] = []
    for directory in sorted(root.iterdir()):
        if directory.name.startswith(".") or not directory.is_dir():
            continue
        try:
            found.append(load_session(directory.name))
        except NotFound as gone:
            if directory.is_dir():  # torn down meanwhile, or a directory whose file was lost
                found.append((directory.name, gone))
        except InvalidInput as damaged:  # one damaged file must not hide the other sessions
            found.append((directory.name, damaged))
    return found
