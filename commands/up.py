"""replay-up: bring a scenario's real stack up as a new session; print the session id."""

from __future__ import annotations

from typing import Annotated

import typer

from replaybook.commands.common import (
    JsonOption,
    PlayerOption,
    RevealOption,
    emit_session,
    end_of_data,
    handles_errors,
    make_app,
    say,
)
from replaybook.commands.trust import YesOption, admit

app = make_app("Bring a scenario's stack up as a new session and prove its healthy baseline.")


@app.command()
@handles_errors
def up(  # noqa: PLR0917 - one parameter per option
    scenario: Annotated[str, typer.Argument(help="Scenario id, pack/id, or a scenario directory.")],
    sla: Annotated[int | None, typer.Option(help="SLA in minutes (default: the scenario's).")] = None,
    yes: YesOption = False,
    json_: JsonOption = False,
    reveal: RevealOption = False,
    player: PlayerOption = None,
    cpus: Annotated[str | None, typer.Option(
        help="CPUs each container of the session may use "
             "(default: $REPLAYBOOK_SESSION_CPUS, else 1).")] = None,
    memory: Annotated[str | None, typer.Option(
        help="Memory each container may use, swap included, e.g. 512m "
             "(default: $REPLAYBOOK_SESSION_MEMORY, else 1g).")] = None,
    pids: Annotated[str | None, typer.Option(
        help="Processes and threads each container may run "
             "(default: $REPLAYBOOK_SESSION_PIDS, else 512).")] = None,
) -> None:
    """Create a session: build and start the stack (`docker compose up --build --wait` under the
    project `replaybook-<session>`), prove the success check passes, print the session id.
    Ctrl-C or SIGTERM at any moment tears everything down. Exit 6 if the healthy stack fails
    its own check. A pack not yet trusted at its commit is shown and asked about first
    (--yes trusts it; without a terminal, exit 7 and nothing is built). Blind by default: the
    talk on stderr does not name the scenario, and Compose's build output shows with --reveal.
    Every container runs under the host's ceiling (--cpus, --memory, --pids); a pack's own lower
    limits stay."""
    from libreplay.packs import catalog as packs
    from libreplay.session import lifecycle as sessions
    from libreplay.session.limits import session_ceiling

    limits = session_ceiling(cpus, memory, pids)  # a bad value refused before anything else
    found = packs.resolve_scenario(scenario)
    admit(found, yes=yes)  # before the build: the compose build already runs the pack's Dockerfiles
    state = sessions.up(found, sla_minutes=sla, on_progress=say, reveal=reveal, player=player,
                         limits=limits)
    say(f"session {state.id} is up and healthy: next, replay-break {state.id}")
    emit_session(state, json_)
    end_of_data()  # replay-break, reading the id, need not wait for this process's exit


main = app
