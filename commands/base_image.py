"""replay-base-image: make sure the Debian base image the scenarios build on exists."""

from __future__ import annotations

from typing import Annotated

import typer

from libreplay.host.debian import DEFAULT_SUITE
from replaybook.commands.common import JsonOption, emit, emit_json, handles_errors, make_app, say

app = make_app("Make sure the Debian base image (debian:bookworm-slim) exists: pull it or build it.")


@app.command()
@handles_errors
def base_image(
    force: Annotated[bool, typer.Option("--force", help="Obtain it again even if it exists.")] = False,
    suite: Annotated[str, typer.Option(help="Debian suite.")] = DEFAULT_SUITE,
    tag: Annotated[
        str | None, typer.Option(help="Tag to create instead of debian:<suite>-slim (for testing a build).")
    ] = None,
    from_archive: Annotated[
        bool, typer.Option("--from-archive", help="Skip docker pull; build with debootstrap (needs root).")
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Ensure the base image exists: if present say so, else docker pull, else build it from the
    Debian archive with debootstrap (as root) and docker import. Progress goes to stderr."""
    from libreplay.host import baseimage  # not for --help: it loads the process and engine layers

    result = baseimage.ensure_base_image(tag=tag, suite=suite, force=force, pull=not from_archive,
                                         progress=say)
    messages = {
        "present": f"{result.tag} is present ({result.image_id[:19]})",
        "pulled": f"{result.tag} pulled ({result.image_id[:19]})",
        "debootstrap": f"{result.tag} built from the Debian archive ({result.image_id[:19]})",
    }
    say(messages[result.how])
    if json_:
        emit_json({"tag": result.tag, "how": result.how, "id": result.image_id})
    else:
        emit(result.tag)


main = app
