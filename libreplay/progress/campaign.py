"""The campaign: which scenario to play next, and why (``replaybook next``, ``run --next``,
``stats``'s Next line, the offer after a lost session). The rule is in docs/progress.md.

Every installed scenario gets one :class:`Suggestion` of a kind, from its sessions in the ledger:

- ``retry``: the last session was lost (timeout, abandoned). Due again after (misses in a row - 1)
  days, at most :data:`RETRY_COOL_DOWN_CAP_DAYS`: at once after the first miss, while a scenario
  lost over and over cools down and lets the campaign move on.
- ``new``: never played. Due now; the easiest first.
- ``review``: the last session was a shaky win (:func:`shaky`). Due after an interval that grows
  with the wins in a row: :data:`REVIEW_INTERVALS_DAYS`. A mastered scenario whose rest is over
  comes back as a review too (a check-up).
- ``rest``: the last session was a clean win (mastered). It rests :data:`REST_DAYS` days, and is
  suggested only when nothing else is due, the one rested longest first.

:func:`plan` is pure (entries, scenarios and a date in; no clock, no files), so the rule is
deterministic for a given ledger and date; :func:`suggest_next` gathers this machine's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from libreplay.session.state import OUTCOME_ABANDONED, OUTCOME_TIMEOUT

if TYPE_CHECKING:
    from libreplay.session.ledger import LedgerEntry, Ledgers

RETRY = "retry"
NEW = "new"
REVIEW = "review"
REST = "rest"
RETRY_COOL_DOWN_CAP_DAYS = 7
# After a shaky win: the n-th win in a row comes back after REVIEW_INTERVALS_DAYS[n - 1] days
# (the last one for every win beyond).
REVIEW_INTERVALS_DAYS = (1, 3, 7, 14, 30)
REST_DAYS = 30  # a clean win rests this long, then comes back as a check-up (a review)
# A win is shaky when it took more than this many hints, or more than this share of the SLA.
SHAKY_HINTS = 1
SHAKY_SHARE_OF_SLA = 0.5
SHAKY_REASONS_SHOWN = 2  # a reason stays one short line

_MISSED = {OUTCOME_TIMEOUT: "timed out", OUTCOME_ABANDONED: "abandoned"}


@dataclass(frozen=True)
class CampaignScenario:
    """What the campaign needs of an installed scenario."""

    ref: str  # pack/id (as `replaybook run` and the ledger's pack+scenario give it)
    title: str
    difficulty: int  # 1..5 from meta.json
    pack_order: int  # the pack's position among installed packs (official first), for ties
    place: int = 0  # its place in the track the campaign walks (from 1), 0 for the whole catalogue


@dataclass(frozen=True)
class Suggestion:
    """One scenario's place in the campaign."""

    ref: str  # pack/id, what `replaybook run` is given
    title: str
    difficulty: int
    kind: str  # "retry" | "new" | "review" | "rest" (see the module's note)
    reason: str  # one short line, why this one now (shown by stats, next and run's offer)
    due: date  # when it is due (today or earlier for what is due now)


def plan(
    entries: Sequence[LedgerEntry], scenarios: Sequence[CampaignScenario], today: date,
) -> list[Suggestion]:
    """Every installed scenario, in the order the campaign would have them played.

    ``entries`` in the order played (as read_ledgers gives them); those of scenarios not in
    ``scenarios`` are left out. Order: retries due, new ones, reviews due (each oldest due first),
    then what is not due yet (soonest first), then what rests (rested longest first); every tie
    broken by difficulty, pack order and ref.
    """
    played = _sessions_by_scenario(entries, scenarios)
    placed = [_place(scenario, played.get(scenario.ref, []), today) for scenario in scenarios]
    placed.sort(key=lambda item: _order(item, today))
    return [suggestion for suggestion, _scenario in placed]


def suggest(
    entries: Sequence[LedgerEntry], scenarios: Sequence[CampaignScenario], today: date,
) -> Suggestion | None:
    """What to play next: the plan's first, None when no scenario is installed."""
    ordered = plan(entries, scenarios, today)
    return ordered[0] if ordered else None


def installed_scenarios(track: str | None = None) -> list[CampaignScenario]:
    """The installed packs' valid scenarios, from the list cache (what ``replay-list`` shows);
    with ``track``, only that track's, each with its place in the track (NotFound when no
    installed pack has a track of that name)."""
    from libreplay.packs.catalog import installed_packs
    from libreplay.packs.listing import list_packs

    listings = list_packs(installed_packs())
    if track is not None:
        from libreplay.packs.tracks import named, tracks_of

        chosen = {listing.ref for listing in named(tracks_of(listings), track)}
    return [
        CampaignScenario(ref=summary.ref, title=summary.title, difficulty=summary.difficulty,
                         pack_order=order, place=summary.track_place if track is not None else 0)
        for order, listing in enumerate(listings)
        for summary in listing.scenarios
        if track is None or f"{summary.pack}/{summary.track}" in chosen
    ]


def suggest_next(
    ledgers: Ledgers | None = None, *, today: date | None = None, player: str | None = None,
    excluding: str | None = None, track: str | None = None,
) -> Suggestion | None:
    """This machine's ledger (or the given one) against the installed packs; today: the UTC date
    (the ledger's calendar: a session's day is the UTC date of its start).

    ``player``: that player's sessions only (lines recording another player, or none, left out),
    as ``stats --player`` counts them; None: every line. ``excluding``: the plan's first scenario
    other than this ref (the offer after a miss, whose ``r`` already plays the one missed).
    ``track``: that track's scenarios only, new ones in the track's order (docs/progress.md)."""
    from libreplay.session.ledger import read_ledgers

    entries = (ledgers if ledgers is not None else read_ledgers()).entries
    if player is not None:
        entries = [entry for entry in entries if entry.player == player]
    ordered = plan(entries, installed_scenarios(track), today or datetime.now(UTC).date())
    return next((suggestion for suggestion in ordered if suggestion.ref != excluding), None)


# -- one scenario -----------------------------------------------------------------------------


def shaky(entry: LedgerEntry) -> list[str]:
    """Why a win was shaky (empty: a clean win): more than one hint, over half the SLA on the
    clock, a guard tripped, a relapse. A figure the line lacks counts as nothing against it."""
    why: list[str] = []
    if entry.hints_used > SHAKY_HINTS:
        why.append(f"{entry.hints_used} hints")
    elapsed, sla = entry.elapsed_seconds, entry.sla_seconds
    if elapsed is not None and sla and elapsed > SHAKY_SHARE_OF_SLA * sla:
        why.append(f"{round(100 * elapsed / sla)}% of the SLA")
    if entry.guards_tripped:
        why.append("a guard tripped")
    if entry.relapses:
        why.append("a relapse" if entry.relapses == 1 else f"{entry.relapses} relapses")
    return why


def _sessions_by_scenario(
    entries: Sequence[LedgerEntry], scenarios: Sequence[CampaignScenario],
) -> dict[str, list[LedgerEntry]]:
    """Each installed scenario's sessions, in the order played, those that ended in error left
    out. A line without a pack (written before packs existed) belongs to the one installed
    scenario of its id, if only one has it."""
    refs = {scenario.ref for scenario in scenarios}
    by_id: dict[str, list[str]] = {}
    for ref in refs:
        by_id.setdefault(ref.rpartition("/")[2], []).append(ref)
    played: dict[str, list[LedgerEntry]] = {}
    for entry in entries:
        if entry.errored:  # the scenario or replaybook failed, not the trainee: no lesson in it
            continue
        ref = entry.ref
        if "/" not in ref and len(by_id.get(ref, [])) == 1:  # no pack: the ref is the bare id
            ref = by_id[ref][0]
        if ref in refs:
            played.setdefault(ref, []).append(entry)
    return played


def _place(
    scenario: CampaignScenario, sessions: list[LedgerEntry], today: date,
) -> tuple[Suggestion, CampaignScenario]:
    if not sessions:
        reason = f"not played yet (difficulty {scenario.difficulty})"
        return _suggestion(scenario, NEW, reason, today), scenario
    last = sessions[-1]
    last_day = _last_day(sessions, today)
    in_a_row = _run_length(sessions, won=last.won)
    if not last.won:
        return _retry(scenario, last, last_day, in_a_row, today), scenario
    why = shaky(last)
    if why:
        due = _after(last_day, _review_interval(in_a_row), today)
        shown = ", ".join(why[:SHAKY_REASONS_SHOWN])
        reason = f"shaky win {_when(last_day, today)} ({shown}): review {_due(due, today)}"
        return _suggestion(scenario, REVIEW, reason, due), scenario
    rested_until = _after(last_day, REST_DAYS, today)
    if rested_until <= today:
        reason = f"mastered {_when(last_day, today)}: time for a check-up"
        return _suggestion(scenario, REVIEW, reason, rested_until), scenario
    reason = f"mastered {_when(last_day, today)} (clean win): resting until {rested_until.isoformat()}"
    return _suggestion(scenario, REST, reason, rested_until), scenario


def _retry(
    scenario: CampaignScenario, last: LedgerEntry, last_day: date | None, misses: int, today: date,
) -> Suggestion:
    due = _after(last_day, min(misses - 1, RETRY_COOL_DOWN_CAP_DAYS), today)
    missed = _MISSED.get(last.outcome, "lost")
    if misses == 1:
        reason = f"{missed} {_when(last_day, today)}: try it again"
    elif due <= today:
        reason = f"lost {misses} times in a row, last {_when(last_day, today)}: cooled down, try again"
    else:
        reason = f"lost {misses} times in a row: cooling down, back {_due(due, today)}"
    return _suggestion(scenario, RETRY, reason, due)


def _suggestion(scenario: CampaignScenario, kind: str, reason: str, due: date) -> Suggestion:
    return Suggestion(ref=scenario.ref, title=scenario.title, difficulty=scenario.difficulty,
                      kind=kind, reason=reason, due=due)


def _last_day(sessions: list[LedgerEntry], today: date) -> date | None:
    """The (UTC) day of the scenario's latest session with a time, never after ``today`` (a clock
    ahead, a ledger from a zone already tomorrow); None when no session has a time. Sessions come
    in the order played, so the latest is the last with a time (times are parsed on each look)."""
    for entry in reversed(sessions):
        played_at = entry.played_at
        if played_at is not None:
            return min(played_at.date(), today)  # the reader gives times in UTC
    return None


def _after(last_day: date | None, days: int, today: date) -> date:
    """``days`` after the last session; a scenario played at no known date was played long ago,
    and what it makes due is due today."""
    return last_day + timedelta(days=days) if last_day is not None else today


def _run_length(sessions: list[LedgerEntry], *, won: bool) -> int:
    """How many sessions at the end were all wins (``won``) or all losses."""
    count = 0
    for entry in reversed(sessions):
        if entry.won != won:
            break
        count += 1
    return count


def _review_interval(wins_in_a_row: int) -> int:
    return REVIEW_INTERVALS_DAYS[min(wins_in_a_row, len(REVIEW_INTERVALS_DAYS)) - 1]


def _when(day: date | None, today: date) -> str:
    if day is None:
        return "at an unknown date"
    ago = (today - day).days
    if ago == 0:
        return "today"
    return "yesterday" if ago == 1 else f"{ago} days ago"


def _due(due: date, today: date) -> str:
    if due <= today:
        return "due now"
    return "tomorrow" if due == today + timedelta(days=1) else f"on {due.isoformat()}"


# -- order ------------------------------------------------------------------------------------

# Tiers, in the order played: what is due, then what is not due yet, then what rests.
_DUE_TIER = {RETRY: 0, NEW: 1, REVIEW: 2}
_NOT_DUE_TIER = 3
_REST_TIER = 4


def _order(
    item: tuple[Suggestion, CampaignScenario], today: date,
) -> tuple[int, date, int, int, int, str]:
    suggestion, scenario = item
    if suggestion.kind == REST:
        tier = _REST_TIER
    elif suggestion.due <= today:
        tier = _DUE_TIER[suggestion.kind]
    else:
        tier = _NOT_DUE_TIER
    due = today if suggestion.kind == NEW else suggestion.due
    # On a track its order comes before difficulty: new ones are played as the track lays them out.
    return tier, due, scenario.place, scenario.difficulty, scenario.pack_order, scenario.ref
