"""replay-list: every scenario of every pack, as a table or as JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from replaybook.commands.common import JsonOption, emit, emit_json, handles_errors, make_app, say, table_lines

if TYPE_CHECKING:
    from libreplay.scenario.model import Scenario

app = make_app("List the scenarios of every pack (the official one and those added).")


@app.command()
@handles_errors
def list_(
    tag: Annotated[str | None, typer.Option(help="Only scenarios carrying this tag.")] = None,
    pack: Annotated[str | None, typer.Option(help="Only the scenarios of this pack.")] = None,
    json_: JsonOption = False,
) -> None:
    """List scenarios: ID, difficulty and title; `--json` for scripts."""
    from libreplay.packs import catalog as packs  # here, so that --help never loads the catalogue

    scans = [packs.scan_pack(packs.get_pack(pack))] if pack else packs.scan_all()
    scenarios = [s for scan in scans for s in scan.scenarios if tag is None or tag in s.tags]
    for scan in scans:
        for invalid in scan.invalid:
            say(f"Warning: skipped an invalid scenario in pack {scan.pack.name}: {invalid.message}")
    for scenario_id, refs in duplicate_ids(scenarios).items():
        say(f"Note: scenario id {scenario_id!r} is in more than one pack ({', '.join(refs)}); "
            "name it as pack/id")
    if json_:
        emit_json([scenario_record(s) for s in scenarios])
        return
    for line in table(scenarios):
        emit(line)


def scenario_record(scenario: Scenario) -> dict[str, Any]:
    return {
        "id": scenario.id,
        "pack": scenario.pack,
        "ref": scenario.ref,
        "title": scenario.title,
        "difficulty": scenario.difficulty,
        "tags": list(scenario.tags),
        "faults": [fault.name for fault in scenario.faults],
        "sla_minutes": scenario.sla_minutes,
        "path": str(scenario.directory),
    }


def duplicate_ids(scenarios: list[Scenario]) -> dict[str, list[str]]:
    """Ids that more than one pack uses, each with the ``pack/id`` names that tell them apart."""
    refs: dict[str, list[str]] = {}
    for scenario in scenarios:
        refs.setdefault(scenario.id, []).append(scenario.ref)
    return {scenario_id: names for scenario_id, names in refs.items() if len(names) > 1}


def table(scenarios: list[Scenario]) -> list[str]:
    """The seed's table: ``ID DIFF TITLE`` with a rule under the header."""
    from libreplay.packs import catalog as packs

    rows = [(s.id if s.pack == packs.OFFICIAL else s.ref, str(s.difficulty), s.title) for s in scenarios]
    return table_lines(("ID", "DIFF", "TITLE"), rows)


main = app
