"""replay-packs: the installed packs with their source, ref, commit and scenario count."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from replaybook.commands.common import JsonOption, emit, emit_json, handles_errors, make_app, table_lines

if TYPE_CHECKING:
    from libreplay.packs import catalog as packs

app = make_app("List the scenario packs: the official one and those added with replay-add.")


@app.command()
@handles_errors
def packs_(json_: JsonOption = False) -> None:
    """List packs: name, source, ref, commit and scenario count; `--json` for scripts."""
    from libreplay.packs import catalog as packs

    records = [pack_record(packs.scan_pack(pack)) for pack in packs.installed_packs()]
    if json_:
        emit_json(records)
        return
    for line in table(records):
        emit(line)


def pack_record(scan: packs.PackScan) -> dict[str, Any]:
    pack = scan.pack
    return {
        "name": pack.name,
        "source": pack.source,
        "ref": pack.ref,
        "commit": pack.commit,
        "scenarios": len(scan.scenarios),
        "invalid": len(scan.invalid),
        "path": str(pack.directory),
    }


def table(records: list[dict[str, Any]]) -> list[str]:
    rows = [
        (r["name"], r["ref"] or "-", (r["commit"] or "-")[:12],
         str(r["scenarios"]) + (f" (+{r['invalid']} invalid)" if r["invalid"] else ""), r["source"])
        for r in records
    ]
    return table_lines(("NAME", "REF", "COMMIT", "SCENARIOS", "SOURCE"), rows)


main = app
