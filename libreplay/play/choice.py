"""Which scenario ``replaybook run`` plays: one the trainee named, one drawn at random, or the
campaign's suggestion (``run --next``, ``replaybook next``).

Either way the scenario is looked up once, here, before anything is built: a typo fails at
once, and the same :class:`~libreplay.scenario.model.Scenario` is what the pack's trust is
checked on.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from libreplay.core.errors import NotFound
from libreplay.packs import catalog
from libreplay.scenario.model import Scenario

if TYPE_CHECKING:
    from libreplay.progress.campaign import Suggestion
    from libreplay.session.ledger import Ledgers


@dataclass(frozen=True)
class Choice:
    name: str  # what replay-up is given: the name as typed, or the drawn scenario's pack/id
    scenario: Scenario
    drawn: bool = False  # not named by the trainee (drawn or suggested): announced by title only
    reason: str = ""  # a suggestion's: why this one now


def named(name: str) -> Choice:
    """The scenario called ``name`` (id, pack/id or directory); NotFound and friends otherwise."""
    return Choice(name, catalog.resolve_scenario(name))


def drawn(tag: str | None = None, *, rng: random.Random | None = None) -> Choice:
    """A scenario drawn at random from every installed pack (only those with ``tag``, if given)."""
    found = [s for scan in catalog.scan_all() for s in scan.scenarios if tag is None or tag in s.tags]
    if not found:
        raise NotFound(f"no scenario has the tag {tag!r}" if tag else "no scenario is installed")
    chosen = (rng or random).choice(found)
    return Choice(chosen.ref, chosen, drawn=True)


def suggestion(ledgers: Ledgers | None = None, *, player: str | None = None,
               excluding: str | None = None, track: str | None = None) -> Suggestion:
    """The campaign's suggestion for ``ledgers`` (None: this machine's ledger), of ``player``'s
    sessions only when one is named, and other than the scenario ``excluding`` names (a ref)
    when given, on ``track`` only when one is named; NotFound when there is none (no scenario
    installed, or only that one; no such track)."""
    from libreplay.progress.campaign import suggest_next

    found = suggest_next(ledgers, player=player, excluding=excluding, track=track)
    if found is None:
        which = "no other scenario" if excluding is not None else "no scenario"
        which += f" of track {track!r}" if track is not None else ""
        raise NotFound(f"{which} is installed, so there is none to suggest",
                       hint="replay-add SOURCE adds a pack of scenarios")
    return found


def suggested(chosen: Suggestion | None = None) -> Choice:
    """The scenario the campaign suggests (``chosen``, or asked now), looked up like a named one."""
    chosen = chosen or suggestion()
    return Choice(chosen.ref, catalog.resolve_scenario(chosen.ref), drawn=True, reason=chosen.reason)
