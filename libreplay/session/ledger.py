"""The ledger: one JSON line per session that reached the clock, and the score.

Score (deterministic, documented in docs/scoring.md): a fix that held earns 400 points plus
up to 600 more for speed, falling in a straight line with the share of the SLA used before the
fix landed (the hold is not charged); minus 50 for each hint taken, 150 for each guard tripped
(a shortcut caught) and 75 for each relapse (a fix that did not hold). A fix never scores below
100; a timeout or an abandoned session scores 0.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from libreplay.core import paths
from libreplay.core.errors import InvalidInput, NotFound
from libreplay.core.store import append_jsonl
from libreplay.session.state import ERROR, OUTCOME_SUCCESS, SessionState

FIX_POINTS = 400
SPEED_POINTS = 600
HINT_PENALTY = 50
GUARD_PENALTY = 150
RELAPSE_PENALTY = 75
MIN_FIX_SCORE = 100


def score(
    *, fixed: bool, elapsed_seconds: float, sla_seconds: float, hints_used: int,
    guards_tripped: int = 0, relapses: int = 0,
) -> int:
    if not fixed:
        return 0
    left = max(0.0, 1.0 - elapsed_seconds / sla_seconds) if sla_seconds > 0 else 0.0
    penalties = HINT_PENALTY * hints_used + GUARD_PENALTY * guards_tripped + RELAPSE_PENALTY * relapses
    return max(MIN_FIX_SCORE, FIX_POINTS + round(SPEED_POINTS * left) - penalties)


def record(state: SessionState) -> dict[str, Any]:
    """The ledger line for a session that has ended; appended under the ledger's lock."""
    line = {
        "session": state.id,
        "scenario": state.scenario,
        "pack": state.pack,
        "fault": state.fault,
        "started_at": state.started_at.isoformat() if state.started_at else None,
        "ended_at": state.ended_at.isoformat() if state.ended_at else None,
        "outcome": state.outcome,
        "elapsed_seconds": round(state.elapsed_seconds(), 2),
        "sla_seconds": state.sla_seconds,
        "hints_used": state.hints_used,
        "hints_total": state.hints_total,
        "score": state.score,
        "relapses": state.relapses,
        "guards_tripped": list(state.guards_tripped),
        "transcript": state.transcript,
        "player": state.player or default_player(),  # a session started before the field existed
        "status": state.status,  # "error": the scenario failed, not the trainee (the campaign skips it)
    }
    append_jsonl(paths.ledger_path(), line)
    return line


def read_ledger() -> list[dict[str, Any]]:
    """This machine's ledger, line by line as written (lines a reader cannot use left out)."""
    return [entry.line for entry in read_ledgers().entries]


def personal_best(scenario: str, pack: str | None = None) -> dict[str, Any] | None:
    """The best successful run of a scenario: highest score, then fastest."""
    wins = [
        entry
        for entry in read_ledgers().entries
        if entry.scenario == scenario and (pack is None or entry.pack == pack) and entry.won
    ]
    if not wins:
        return None
    return max(wins, key=lambda entry: (entry.score, -(entry.elapsed_seconds or 0.0))).line


# -- who played ----------------------------------------------------------------------------------

PLAYER_MAX_LENGTH = 64


def default_player() -> str:
    """The OS user's name, as the ledger's ``player`` (a user with no name: ``uid<n>``)."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (a bare container)
        name = ""
    return name if valid_player(name) else f"uid{os.getuid()}"


def valid_player(name: str) -> bool:
    return 0 < len(name) <= PLAYER_MAX_LENGTH and name.isprintable() and name.strip() == name


def check_player(name: str) -> str:
    """``name`` as a player's name, or InvalidInput naming the option."""
    if not valid_player(name):
        raise InvalidInput(
            f"--player: {name!r} is not a player's name",
            hint=f"1 to {PLAYER_MAX_LENGTH} printable characters, no leading or trailing space",
        )
    return name


# -- reading ledgers -------------------------------------------------------------------------------
# Strict about nothing a reader does not need: a line is used when it is a JSON object naming a
# scenario and an outcome; every other field is read leniently (a wrong type reads as missing),
# unknown fields are kept as they are, and no reader ever writes a ledger.


@dataclass(frozen=True)
class LedgerEntry:
    """One session as its ledger line records it."""

    line: dict[str, Any]  # the line as written, every field kept (export writes it out again)
    source: Path  # the ledger it was read from
    number: int  # its line number there (from 1)

    @property
    def scenario(self) -> str:
        return str(self.line["scenario"])

    @property
    def outcome(self) -> str:
        return str(self.line["outcome"])

    @property
    def won(self) -> bool:
        return self.outcome == OUTCOME_SUCCESS

    @property
    def errored(self) -> bool:
        """The session ended because the scenario or replaybook failed (recorded as abandoned)."""
        return self.line.get("status") == ERROR

    @property
    def pack(self) -> str:
        return _text(self.line.get("pack")) or ""

    @property
    def ref(self) -> str:
        """``pack/scenario``: the scenario's name in every pack (replaybook list's REF)."""
        return f"{self.pack}/{self.scenario}" if self.pack else self.scenario

    @property
    def session(self) -> str | None:
        return _text(self.line.get("session"))

    @property
    def fault(self) -> str | None:
        return _text(self.line.get("fault"))

    @property
    def player(self) -> str | None:
        """Who played (lines written before the field existed have none)."""
        return _text(self.line.get("player"))

    @property
    def transcript(self) -> str | None:
        return _text(self.line.get("transcript"))

    @property
    def started_at(self) -> datetime | None:
        return _moment(self.line.get("started_at"))

    @property
    def ended_at(self) -> datetime | None:
        return _moment(self.line.get("ended_at"))

    @property
    def played_at(self) -> datetime | None:
        """When the session was played: its clock's start, else its end."""
        return self.started_at or self.ended_at

    @property
    def elapsed_seconds(self) -> float | None:
        """Time on the clock: to the fix for a win (the hold not counted), else to the end."""
        return _number(self.line.get("elapsed_seconds"))

    @property
    def sla_seconds(self) -> float | None:
        """The SLA played against; under a second reads as absent (no ratio to it is meaningful)."""
        sla = _number(self.line.get("sla_seconds"))
        return sla if sla is not None and sla >= 1 else None

    @property
    def hints_used(self) -> int:
        return int(_number(self.line.get("hints_used")) or 0)

    @property
    def hints_total(self) -> int:
        return int(_number(self.line.get("hints_total")) or 0)

    @property
    def score(self) -> int:
        return int(_number(self.line.get("score")) or 0)

    @property
    def relapses(self) -> int:
        return int(_number(self.line.get("relapses")) or 0)

    @property
    def guards_tripped(self) -> list[str]:
        tripped = self.line.get("guards_tripped")
        return [str(name) for name in tripped] if isinstance(tripped, list) else []


@dataclass(frozen=True)
class SkippedLine:
    """A ledger line no reader can use: corrupted, truncated, or not a session's."""

    source: Path
    number: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: line {self.number}: skipped ({self.reason})"


@dataclass(frozen=True)
class Ledgers:
    """Sessions read from one ledger or merged from several, in the order they were played."""

    entries: list[LedgerEntry] = field(default_factory=list)
    skipped: list[SkippedLine] = field(default_factory=list)  # one per line left out
    repeated: int = 0  # lines for a session already read (the same ledger given twice, a copy)


def read_ledgers(files: Sequence[Path] = ()) -> Ledgers:
    """The sessions of ``files`` merged (none given: this machine's ledger, empty if missing).

    A file given that cannot be read raises NotFound or InvalidInput naming it; a line that
    cannot be used is left out and reported in ``skipped``. A session met twice (same id,
    scenario and start) counts once. Entries come in the order played, lines without a time last.
    """
    sources = list(files) or [paths.ledger_path()]
    entries: list[LedgerEntry] = []
    skipped: list[SkippedLine] = []
    seen: set[tuple[str, str, str]] = set()
    repeated = 0
    for source in sources:
        data = _ledger_bytes(source, required=bool(files))
        for entry_or_skip in _lines(source, data):
            if isinstance(entry_or_skip, SkippedLine):
                skipped.append(entry_or_skip)
                continue
            key = _identity(entry_or_skip)
            if key is not None and key in seen:
                repeated += 1
                continue
            if key is not None:
                seen.add(key)
            entries.append(entry_or_skip)
    entries.sort(key=_play_order)  # stable: file order among equals
    return Ledgers(entries, skipped, repeated)


def _ledger_bytes(source: Path, *, required: bool) -> bytes:
    try:
        return source.read_bytes()
    except FileNotFoundError:
        if required:
            raise NotFound(f"{source}: no such ledger") from None
        return b""  # nothing played on this machine yet
    except IsADirectoryError:
        raise InvalidInput(f"{source}: is a directory, not a ledger") from None
    except OSError as error:
        raise InvalidInput(f"{source}: cannot be read: {error.strerror or error}") from None


def _lines(source: Path, data: bytes) -> Iterable[LedgerEntry | SkippedLine]:
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield SkippedLine(source, number, "not UTF-8 text")
            continue
        try:
            line = json.loads(text, parse_float=_finite_float, parse_constant=_no_constant)
        except json.JSONDecodeError as error:
            yield SkippedLine(source, number, f"not JSON: {error.msg} (column {error.colno})")
            continue
        except (ValueError, RecursionError):  # a number of thousands of digits; nesting too deep
            yield SkippedLine(source, number, "not JSON a reader can take (too long a number, or too deep)")
            continue
        reason = _unusable(line)
        if reason:
            yield SkippedLine(source, number, reason)
        else:
            yield LedgerEntry(line, source, number)


def _unusable(line: Any) -> str:
    if not isinstance(line, dict):
        return "not a JSON object"
    for key in ("scenario", "outcome"):
        if not isinstance(line.get(key), str) or not line[key]:
            return f"no {key}"
    return ""


def _finite_float(text: str) -> float | None:
    """A JSON number with a fraction or exponent; one beyond any float (``1e999``) as null, so
    that no line read holds an infinity that a JSON writer would have to refuse or mangle."""
    number = float(text)
    return number if number - number == 0 else None  # inf - inf is nan, and nan != 0


def _no_constant(_name: str) -> None:
    """``NaN``, ``Infinity``, ``-Infinity``: Python's json reads them, JSON has no such values:
    read as null."""


def _identity(entry: LedgerEntry) -> tuple[str, str, str] | None:
    if entry.session is None:
        return None
    return (entry.session, entry.ref, str(entry.line.get("started_at")))


_NEVER = datetime.max.replace(tzinfo=UTC)


def _play_order(entry: LedgerEntry) -> datetime:
    return entry.played_at or _NEVER


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# Every figure a ledger line records is a count, a score or seconds: never negative, and far below
# this (a billion seconds is 31 years). Beyond it a figure reads as absent, so that sums, means
# and ratios of figures from a hostile line cannot overflow.
MAX_FIGURE = 1e9


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float
        return None
    return number if 0 <= number <= MAX_FIGURE else None  # also no NaN or infinity


def _moment(value: Any) -> datetime | None:
    """An ISO 8601 time as the ledger writes it; a time without a zone is taken as UTC."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
        # In UTC once, here: a time at the calendar's edge with a zone (9999-12-31T23:59-01:00)
        # has no UTC equivalent, and is as unusable as a time that does not parse.
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None
