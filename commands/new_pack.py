"""replay-new-pack: start a scenario pack (a git repository with a Makefile, a README and CI)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from replaybook.commands.common import JsonOption, emit, emit_json, handles_errors, make_app, say

app = make_app("Start a scenario pack: a git repository with a Makefile, a README and CI workflows.")


@app.command()
@handles_errors
def new_pack(
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", help="The pack's directory: new (parents are made) or empty.")
    ],
    json_: JsonOption = False,
) -> None:
    """Start a scenario pack in DIR: a git repository with a Makefile, a README and CI.

    Writes Makefile, README.md, .gitignore, GitHub and GitLab CI files, makes the first commit
    and prints DIR. A DIR that is a file or not empty is refused (exit 3) and nothing is written."""
    from libreplay.authoring import newpack

    made = newpack.create_pack(directory)
    if made.fallback_author:
        name, email = newpack.FALLBACK_AUTHOR
        say(f"Note: no git identity is configured, so the first commit is by {name} <{email}>;"
            " your git configuration was not changed.")
    if json_:
        emit_json({"directory": str(made.directory), "commit": made.commit, "files": list(made.files),
                   "fallback_author": made.fallback_author})
    else:
        emit(str(made.directory))
    say(f"Made the pack {made.directory} (first commit {made.commit[:12]}). Next:")
    say(f"  cd {made.directory} && make new ID=001-my-incident   (or POSTMORTEM=file.md to draft from one)")


main = app
