"""A training: which scenarios, the SLA, how long a session may live, and its seats.

A seat is one trainee's place: a name (or none yet, for an invite link that asks for it) and
the SHA-256 of its invite token. Tokens are ``secrets.token_urlsafe(32)`` (256 bits), shown
once and never stored: a stolen state directory gives no way in. A token is matched by
comparing hashes in constant time. Every token of a training expires with it.

A training's scenarios are a list the seats take in turn, or the campaign
(libreplay/progress/campaign.py): each seat then plays the campaign's next for its trainee,
decided when the session starts. A training records the server that made it (pid and start
time): a server killed without its clean-up is recognised by the next one, which tears down
what it left (libreplay/training/leftovers.py). A seat whose session was torn down says when
and why (:data:`END_REASONS`); a training whose server is gone is ended, its tokens with it.

Trainings are TOML files under ``<state>/trainings/``, written atomically under a lock. Every
field added since the first version has a default: older files load as they were.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from libreplay.core import paths, store
from libreplay.core.errors import InvalidInput, NotFound
from libreplay.session import ledger

MAX_SEATS = 200
MAX_SESSION_MINUTES = 24 * 60
TRAINING_ID = re.compile(r"t-[0-9a-f]{12}")
CAMPAIGN = "campaign"  # what the board shows as a campaign seat's scenario before it starts

# Why a seat's session was torn down (Seat.end_reason), as the trainee's page and the board say it.
ENDED_BY_FACILITATOR = "facilitator"
ENDED_IDLE = "idle"
ENDED_LIFETIME = "lifetime"
ENDED_TRAINING_OVER = "training"
ENDED_OVER = "over"
ENDED_SERVER_STOPPED = "stopped"
ENDED_SERVER_GONE = "server-gone"
END_REASONS = {
    ENDED_BY_FACILITATOR: "ended by the facilitator",
    ENDED_IDLE: "ended for idleness: no key typed, no hint asked for {idle} minutes",
    ENDED_LIFETIME: "ended: the session's time was up",
    ENDED_TRAINING_OVER: "ended: the training is over",
    ENDED_OVER: "ended: it was over, its place freed",
    ENDED_SERVER_STOPPED: "ended: the training server stopped",
    ENDED_SERVER_GONE: "ended: the training server went away; the next one tore it down",
}


def new_token() -> str:
    """An unguessable token: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    """Constant-time: how much of a guess was right never shows in the time taken."""
    return hmac.compare_digest(token_hash(token), stored_hash)


@dataclass
class Seat:
    number: int
    token_hash: str
    name: str = ""  # empty: the trainee names themself on the invite page
    session_id: str = ""
    scenario: str = ""
    session_expires_at: float = 0.0  # unix time; 0 while no session runs
    ended_at: float = 0.0  # unix time its session was torn down; 0 while it runs (or never ran)
    end_reason: str = ""  # one of END_REASONS' keys once ended

    def view(self) -> dict[str, Any]:
        """What may be shown of the seat: never its token's hash."""
        return {"number": self.number, "name": self.name, "session": self.session_id,
                "scenario": self.scenario, "session_expires_at": self.session_expires_at,
                "ended_at": self.ended_at, "end_reason": self.end_reason}

    def mark_ended(self, reason: str, moment: float) -> None:
        if not self.ended_at:  # the first end says why; a later look changes nothing
            self.ended_at, self.end_reason = moment, reason


@dataclass
class Training:
    id: str
    title: str
    scenarios: list[str]
    sla_minutes: int  # 0: each scenario's own SLA
    session_minutes: int
    created_at: float
    expires_at: float
    seats: list[Seat] = field(default_factory=list)
    campaign: bool = False  # each seat plays the campaign's next for its trainee (scenarios empty)
    server_pid: int | None = None  # the server that made it (None: a file older than the field)
    server_started: float | None = None  # that process's start time: a reused pid is not it
    ended_at: float = 0.0  # its server went away without its clean-up (0: not ended early)

    def expired(self, moment: float | None = None) -> bool:
        """Past its day, or ended early (its server is gone): every token of it expired."""
        return bool(self.ended_at) or (time.time() if moment is None else moment) >= self.expires_at

    def seat_of(self, token: str) -> Seat | None:
        """The seat this invite token opens, comparing against every seat (constant time each)."""
        found = None
        for seat in self.seats:
            if token_matches(token, seat.token_hash):
                found = seat
        return found

    def scenario_for(self, seat: Seat) -> str:
        """Seats take the training's scenarios in turn; a campaign seat plays the scenario its
        session started with, :data:`CAMPAIGN` until it starts (decided then, for its trainee)."""
        if self.campaign:
            return seat.scenario or CAMPAIGN
        return self.scenarios[(seat.number - 1) % len(self.scenarios)]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Training:
        seats = [Seat(**seat) for seat in data.get("seats", [])]
        return cls(**{**data, "seats": seats})


def trainings_dir() -> Path:
    return paths.state_dir() / "trainings"


def training_path(training_id: str) -> Path:
    if not TRAINING_ID.fullmatch(training_id):
        raise NotFound(f"no training {training_id[:40]!r}")
    return trainings_dir() / f"{training_id}.toml"


def create_training(
    *, scenarios: list[str], seats: list[str] | int, session_minutes: int, sla_minutes: int = 0,
    title: str = "", days_valid: float = 1.0, campaign: bool = False,
    server: tuple[int, float | None] | None = None,
) -> tuple[Training, list[str]]:
    """A new training, saved, and its invite tokens in seat order (shown once, never stored).

    ``seats``: the trainees' names (named seats), or a number of seats whose trainees name
    themselves. ``campaign``: no list of scenarios; each seat plays the campaign's next for its
    trainee. ``server``: the pid and start time of the server that makes it. The training and
    every token expire ``days_valid`` days from now."""
    names = _seat_names(seats)
    scenarios = [s.strip() for s in scenarios if s.strip()]
    if campaign and scenarios:
        raise InvalidInput("scenarios: a campaign training names none (each trainee plays the "
                           "campaign's next)")
    if not campaign and not scenarios:
        raise InvalidInput("scenarios: name at least one scenario, or choose the campaign")
    if not 1 <= session_minutes <= MAX_SESSION_MINUTES:
        raise InvalidInput(f"session_minutes: must be from 1 to {MAX_SESSION_MINUTES}, got {session_minutes}")
    if not 0 <= sla_minutes <= MAX_SESSION_MINUTES:
        raise InvalidInput(f"sla_minutes: must be from 0 (the scenario's own) to {MAX_SESSION_MINUTES}")
    tokens = [new_token() for _ in names]
    created = time.time()
    training = Training(
        id=f"t-{secrets.token_hex(6)}", title=title.strip()[:80], scenarios=scenarios,
        sla_minutes=sla_minutes, session_minutes=session_minutes, created_at=created,
        expires_at=created + days_valid * 86400, campaign=campaign,
        server_pid=server[0] if server else None, server_started=server[1] if server else None,
        seats=[Seat(number=number, token_hash=token_hash(token), name=name)
               for number, (name, token) in enumerate(zip(names, tokens, strict=True), start=1)],
    )
    save_training(training)
    return training, tokens


def _seat_names(seats: list[str] | int) -> list[str]:
    if isinstance(seats, int):
        if not 1 <= seats <= MAX_SEATS:
            raise InvalidInput(f"seats: must be from 1 to {MAX_SEATS}, got {seats}")
        return [""] * seats
    names = [name.strip() for name in seats if name.strip()]
    if not 1 <= len(names) <= MAX_SEATS:
        raise InvalidInput(f"seats: name from 1 to {MAX_SEATS} trainees")
    for name in names:
        if not ledger.valid_player(name):
            raise InvalidInput(f"seats: {name[:40]!r} is not a trainee's name",
                               hint=f"1 to {ledger.PLAYER_MAX_LENGTH} printable characters")
    if len(set(names)) != len(names):
        raise InvalidInput("seats: two seats have the same name")
    return names


def save_training(training: Training) -> None:
    store.write_toml(training_path(training.id), training.to_dict())


def load_training(training_id: str) -> Training:
    path = training_path(training_id)
    if not path.is_file():
        raise NotFound(f"no training {training_id}")
    try:
        return Training.from_dict(store.read_toml(path))
    except (TypeError, KeyError) as exc:
        raise InvalidInput(f"{path}: not a training ({exc})") from None


def update_training(training_id: str, change: Callable[[Training], None]) -> Training:
    """Read, change and write the training under its file's lock."""
    changed: list[Training] = []

    def apply(data: dict[str, Any]) -> None:
        training = Training.from_dict(data)
        change(training)
        data.clear()
        data.update(training.to_dict())
        changed.append(training)

    try:
        store.update_toml(training_path(training_id), apply, must_exist=True)
    except FileNotFoundError:
        raise NotFound(f"no training {training_id}") from None
    return changed[0]


def list_trainings() -> list[Training]:
    directory = trainings_dir()
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.glob("t-*.toml")):
        try:
            found.append(load_training(path.stem))
        except (InvalidInput, NotFound):
            continue  # a damaged or foreign file is no training of ours
    return found
