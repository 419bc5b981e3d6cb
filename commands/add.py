"""replay-add: add a scenario pack (a git repository), or update one added before, and validate it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from libreplay.core.errors import PackError, ScenarioInvalid
from replaybook.commands.common import JsonOption, emit, emit_json, handles_errors, make_app, say
from replaybook.commands.list_ import duplicate_ids, scenario_record, table
from replaybook.commands.trust import YesOption, offer

if TYPE_CHECKING:
    from libreplay.packs import catalog as packs

NO_SCENARIO = "no scenario found (a scenario is a directory with meta.json)"

app = make_app("Add a scenario pack from GitHub (owner/repo), a git URL or a local git repository.")


@app.command()
@handles_errors
def add(
    source: Annotated[str, typer.Argument(help="owner/repo (GitHub), a git URL, or a local git repository.")],
    ref: Annotated[
        str | None, typer.Option(help="Branch, tag or commit to pin the pack to (kept on update).")
    ] = None,
    yes: YesOption = False,
    json_: JsonOption = False,
) -> None:
    """Clone SOURCE as a pack (a second add updates it) and show its scenarios.

    Invalid scenarios are listed with file and field and the exit status is 3; the pack is kept
    (its valid scenarios stay playable, `replay-remove` removes it). A new pack without a single
    scenario is not a pack: it is removed again, exit status 3. A pack's scripts run on this
    machine as you when you play it: they are listed, and you are offered to trust the pack at
    the commit just fetched (--yes trusts it; without a terminal it stays untrusted and its first
    run asks).
    """
    from libreplay.packs import catalog as packs

    before = packs.find_added_pack(source)
    say(f"{'Updating' if before else 'Cloning'} {source}" + (f" at {ref}" if ref else "") + " ...")
    pack = packs.add_pack(source, ref=ref)
    scan = packs.scan_pack(pack)
    if not scan.scenarios and not scan.invalid:
        _no_scenario(source, pack, updated=before is not None)
    _report(pack, scan, updated=before is not None, json_=json_)
    offer(pack, yes=yes)  # an update that moved the commit is asked about again
    if scan.invalid:
        raise typer.Exit(ScenarioInvalid.exit_code)


def _no_scenario(source: str, pack: packs.Pack, *, updated: bool) -> NoReturn:
    """A repository without a scenario is no pack: a new one is removed again, silently on stdout."""
    from libreplay.packs import catalog as packs

    if not updated:
        packs.remove_pack(pack.name)
        raise PackError(f"{source}: {NO_SCENARIO}")
    raise PackError(f"pack {pack.name} ({pack.directory}): after the update, {NO_SCENARIO}",
                    hint=f"replay-remove {pack.name} removes it")


def _report(pack: packs.Pack, scan: packs.PackScan, *, updated: bool, json_: bool) -> None:
    from libreplay.packs import catalog as packs

    commit = (pack.commit or "")[:12]
    say(f"{'Updated' if updated else 'Added'} pack {pack.name} at {commit}: "
        f"{len(scan.scenarios)} scenario(s), {len(scan.invalid)} invalid")
    for invalid in scan.invalid:
        say(invalid.message)
    everything = [s for other in packs.scan_all() for s in other.scenarios]
    for scenario_id, refs in duplicate_ids(everything).items():
        if any(ref.startswith(f"{pack.name}/") for ref in refs):
            say(f"Note: scenario id {scenario_id!r} is in more than one pack ({', '.join(refs)}); "
                "name it as pack/id")
    if json_:
        emit_json(_record(pack, scan, updated))
        return
    for line in table(scan.scenarios):
        emit(line)


def _record(pack: packs.Pack, scan: packs.PackScan, updated: bool) -> dict[str, Any]:
    return {
        "pack": {"name": pack.name, "source": pack.source, "ref": pack.ref, "commit": pack.commit,
                 "path": str(pack.directory)},
        "updated": updated,
        "scenarios": [scenario_record(s) for s in scan.scenarios],
        "invalid": [{"path": e.scenario_dir, "problems": e.problems} for e in scan.invalid],
    }


main = app
