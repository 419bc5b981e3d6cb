"""The tracks of the installed packs, each with its valid scenarios in the track's order
(``replaybook list --tracks``, ``list --track NAME``; the campaign's ``--track``).

Which scenario belongs to which track, and at which place, comes from the list cache
(libreplay.packs.listing); a track's title and description from its track file, read once per
track shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from libreplay.core.errors import NotFound
from libreplay.scenario.model import Track
from libreplay.scenario.track import TrackInvalid, load_track

if TYPE_CHECKING:
    from libreplay.packs.listing import PackListing, ScenarioSummary


@dataclass(frozen=True)
class TrackListing:
    track: Track
    pack: str
    scenarios: tuple[ScenarioSummary, ...]  # the valid ones, in the track's order

    @property
    def ref(self) -> str:
        return f"{self.pack}/{self.track.name}"


def tracks_of(listings: Iterable[PackListing]) -> list[TrackListing]:
    """Every track that has a valid scenario, pack by pack (in the order given), then by name."""
    found: list[TrackListing] = []
    for listing in listings:
        grouped: dict[str, list[ScenarioSummary]] = {}  # by track directory: a name may repeat
        for summary in listing.scenarios:
            if summary.track is not None:
                grouped.setdefault(str(Path(summary.path).parent), []).append(summary)
        tracks = []
        for members in grouped.values():
            members.sort(key=lambda summary: summary.track_place)
            track = _track_file(members[0])
            if track is not None:
                tracks.append(TrackListing(track, listing.pack.name, tuple(members)))
        found += sorted(tracks, key=lambda made: (made.track.name, str(made.track.directory)))
    return found


def named(tracks: Sequence[TrackListing], name: str) -> list[TrackListing]:
    """The tracks called ``name`` (one per pack that has it); NotFound naming those there are."""
    chosen = [listing for listing in tracks if name in (listing.track.name, listing.ref)]
    if not chosen:
        known = ", ".join(sorted({listing.track.name for listing in tracks})) or "none installed"
        raise NotFound(f"no track named {name!r} (tracks: {known})",
                       hint="replaybook list --tracks shows them; a track whose file is wrong has no "
                            "valid scenario: replaybook list names the file and field")
    return chosen


def _track_file(member: ScenarioSummary) -> Track | None:
    """The track file of the directory the scenario sits in, as it reads now (it was valid when
    the scenario was; changed since into something wrong, the track is left out until the next
    list validates its scenarios again)."""
    try:
        return load_track(Path(member.path).parent)
    except TrackInvalid:
        return None
