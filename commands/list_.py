"""replay-list: every scenario of every pack, as a table or as JSON."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from replaybook.commands.common import (
    JsonOption,
    emit_json,
    emit_lines,
    handles_errors,
    make_app,
    say,
    table_lines,
)

if TYPE_CHECKING:
    from libreplay.packs.listing import PackListing, ScenarioSummary
    from libreplay.packs.tracks import TrackListing
    from libreplay.scenario.model import Scenario

    # `list` shows summaries from its cache; `add` shows the scenarios it has just loaded.
    Listed = Scenario | ScenarioSummary

app = make_app("List the scenarios of every pack (the official one and those added).")


@app.command()
@handles_errors
def list_(
    tag: Annotated[str | None, typer.Option(help="Only scenarios carrying this tag.")] = None,
    pack: Annotated[str | None, typer.Option(help="Only the scenarios of this pack.")] = None,
    track: Annotated[str | None, typer.Option(help="Only the scenarios of this track, in its order.")] = None,
    tracks: Annotated[bool, typer.Option("--tracks", help="List the tracks instead of scenarios.")] = False,
    json_: JsonOption = False,
) -> None:
    """List scenarios: ID, difficulty and title; `--json` for scripts."""
    # Here, so that --help never loads the catalogue; the listing answers from its cache of
    # validation results, which it checks against the files (libreplay/packs/listing.py).
    from libreplay.packs import catalog as packs
    from libreplay.packs.listing import list_packs

    if tracks and (track or tag):
        raise typer.BadParameter("--tracks lists the tracks: leave out --track and --tag")
    scans = list_packs([packs.get_pack(pack)] if pack else packs.installed_packs())
    for scan in scans:
        for invalid in scan.invalid:
            say(f"Warning: skipped an invalid scenario in pack {scan.pack.name}: {invalid}")
    if tracks or track:
        _list_tracks(scans, track, tag, json_=json_)
        return
    scenarios = [s for scan in scans for s in scan.scenarios if tag is None or tag in s.tags]
    for scenario_id, refs in duplicate_ids(scenarios).items():
        say(f"Note: scenario id {scenario_id!r} is in more than one pack ({', '.join(refs)}); "
            "name it as pack/id")
    if json_:
        emit_json([scenario_record(s) for s in scenarios])
        return
    emit_lines(table(scenarios))


def _list_tracks(scans: Sequence[PackListing], name: str | None, tag: str | None, *, json_: bool) -> None:
    """``--tracks``: one line per track; ``--track NAME``: its scenarios in order, what the track
    covers said first (on stderr: stdout is the table)."""
    from libreplay.packs import tracks as tracks_

    found = tracks_.tracks_of(scans)
    if name is None:
        if json_:
            emit_json([track_record(listing) for listing in found])
        else:
            rows = [(listing.ref, str(len(listing.scenarios)), listing.track.title) for listing in found]
            emit_lines(table_lines(("TRACK", "SCENARIOS", "TITLE"), rows))
        return
    chosen = tracks_.named(found, name)
    scenarios = [s for listing in chosen for s in listing.scenarios if tag is None or tag in s.tags]
    if json_:
        emit_json([scenario_record(s) for s in scenarios])
        return
    for listing in chosen:
        say(f"Track {listing.ref}: {listing.track.title}")
        if listing.track.description:
            say(listing.track.description)
    emit_lines(table(scenarios))


def track_record(listing: TrackListing) -> dict[str, Any]:
    return {
        "name": listing.track.name,
        "pack": listing.pack,
        "ref": listing.ref,
        "title": listing.track.title,
        "description": listing.track.description,
        "scenarios": [summary.ref for summary in listing.scenarios],
        "path": str(listing.track.directory),
    }


def scenario_record(listed: Listed) -> dict[str, Any]:
    scenario = _summary(listed)
    return {
        "id": scenario.id,
        "pack": scenario.pack,
        "ref": scenario.ref,
        "title": scenario.title,
        "difficulty": scenario.difficulty,
        "tags": list(scenario.tags),
        "faults": list(scenario.faults),
        "sla_minutes": scenario.sla_minutes,
        "path": str(scenario.directory),
        "track": scenario.track,
        "track_place": scenario.track_place or None,
    }


def duplicate_ids(scenarios: Sequence[Listed]) -> dict[str, list[str]]:
    """Ids that more than one pack uses, each with the ``pack/id`` names that tell them apart."""
    refs: dict[str, list[str]] = {}
    for scenario in scenarios:
        refs.setdefault(scenario.id, []).append(scenario.ref)
    return {scenario_id: names for scenario_id, names in refs.items() if len(names) > 1}


def table(scenarios: Sequence[Listed]) -> list[str]:
    """The seed's table: ``ID DIFF TITLE`` with a rule under the header."""
    from libreplay.packs import catalog as packs

    rows = [(s.id if s.pack == packs.OFFICIAL else s.ref, str(s.difficulty), s.title) for s in scenarios]
    return table_lines(("ID", "DIFF", "TITLE"), rows)


def _summary(listed: Listed) -> ScenarioSummary:
    from libreplay.packs.listing import ScenarioSummary, summarize

    return listed if isinstance(listed, ScenarioSummary) else summarize(listed)


main = app
