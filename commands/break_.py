"""replay-break: inject the session's fault, prove it broke, start the SLA clock."""

from __future__ import annotations

import select
import sys
from typing import Annotated

import typer

from replaybook.commands.common import (
    RevealOption,
    SessionArgument,
    emit,
    end_of_data,
    handles_errors,
    make_app,
    say,
    session_from,
)

app = make_app("Inject the fault, prove the check fails, and start the SLA clock.")


@app.command("break")
@handles_errors
def break_(
    session: SessionArgument = None,
    fault: Annotated[
        str | None, typer.Option(help="The fault variant to inject (default: drawn at random).")
    ] = None,
    reveal: RevealOption = False,
) -> None:
    """Break a ready session (SESSION from stdin when omitted); print its id. Exit 6 if the
    fault does not make the check fail; the stack is then torn down. Blind by default: the
    fault drawn (and, for a mistyped --fault, the valid names) is named only with --reveal."""
    if session is None:
        _after_the_pipes_start()
    from libreplay.session import lifecycle as sessions

    if session is None:
        # In a pipe, replay-up takes a while yet: meet the engine meanwhile.
        sessions.ready_to_break()
    session_id = session_from(session)
    state = sessions.break_session(session_id, fault_name=fault, on_progress=say, reveal=reveal)
    drawn = f" (fault {state.fault})" if reveal else ""
    say(f"session {state.id} is broken{drawn}; the SLA clock is running")
    emit(state.id)
    end_of_data()


# replay-up's own start (imports, Compose's resolution of the model, the build) is work for
# the CPU, its wait for the services is not: on a small machine our imports would slow the
# former down, so they wait this long for the session id first (it comes sooner only when up
# is over early).
PIPE_HEAD_START_SECONDS = 1.5


def _after_the_pipes_start() -> None:
    try:
        if sys.stdin is None or sys.stdin.isatty():
            return  # no pipe: session_from says what to do
        select.select([sys.stdin], [], [], PIPE_HEAD_START_SECONDS)
    except (OSError, ValueError, TypeError):  # no descriptor (a test's input): nothing to wait for
        return


main = app
