"""replay-remove: remove a pack that was added (its clone and its record)."""

from __future__ import annotations

from typing import Annotated

import typer

from replaybook.commands.common import handles_errors, make_app, say

app = make_app("Remove an added scenario pack.")


@app.command()
@handles_errors
def remove(
    pack: Annotated[str, typer.Argument(help="The pack's name, as replay-packs shows it.")],
) -> None:
    """Remove PACK: its clone and its record. The official pack cannot be removed."""
    from libreplay.packs import catalog as packs
    from libreplay.packs import trust

    removed = packs.remove_pack(pack)
    trust.forget(removed)  # a pack added again later is asked about again
    say(f"Removed pack {removed.name} ({removed.source})")


main = app
