"""replay-validate: check scenarios without starting anything."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from libreplay.core.errors import ScenarioInvalid
from replaybook.commands.common import emit, handles_errors, make_app, say

app = make_app("Validate scenarios: every problem, each naming its file and field.")


@app.command()
@handles_errors
def validate(
    targets: Annotated[
        list[str] | None,
        typer.Argument(help="Scenario ids, pack/id, scenario directories or pack directories."),
    ] = None,
) -> None:
    """Validate scenarios; exits 3 if any is invalid. With no argument, every installed pack."""
    from libreplay.scenario import sandbox
    from libreplay.scenario.load import load_scenario

    directories = _directories(targets or [])
    invalid = 0
    for directory, pack_name in directories:
        try:
            scenario = load_scenario(directory, pack=pack_name)
            # What Compose itself resolves is what runs: that model is checked too.
            warnings = [*scenario.warnings, *sandbox.validate(scenario)]
        except ScenarioInvalid as exc:
            invalid += 1
            say(exc.message)
            continue
        for warning in warnings:
            say(f"{directory}: warning: {warning}")
        emit(f"ok  {scenario.ref}")
    if invalid:
        say(f"{invalid} of {len(directories)} scenario(s) invalid")
        raise typer.Exit(ScenarioInvalid.exit_code)


def _directories(targets: list[str]) -> list[tuple[Path, str]]:
    from libreplay.packs import catalog as packs

    if not targets:
        return packs.scenario_dirs_named(None)
    found: list[tuple[Path, str]] = []
    for target in targets:
        path = Path(target).expanduser()
        if path.is_dir():  # a directory without scenarios is validated itself: it says what is missing
            found += packs.scenario_dirs_named(target) or [(path, packs.pack_of_path(path))]
            continue
        scenario = packs.resolve_scenario(target)
        found.append((scenario.directory, scenario.pack))
    return found


main = app
