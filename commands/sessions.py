"""replay-sessions: the sessions of this home that are still up."""

from __future__ import annotations

from replaybook.commands.common import (
    JsonOption,
    emit,
    emit_json,
    handles_errors,
    make_app,
    say,
    table_lines,
)

app = make_app("List live sessions: id, status, scenario, and whether the owner is gone (orphan).")


@app.command()
@handles_errors
def sessions_(json_: JsonOption = False) -> None:
    """List the sessions whose stacks are up."""
    from libreplay.session import owners, state

    live = state.list_sessions()
    orphans = set(owners.find_orphans())
    for session_id, problem in state.damaged_sessions():
        say(f"Note: session {session_id} cannot be read: {problem.message}. `replay-down --all` removes it.")
    if json_:
        emit_json([{**s.to_dict(), "orphan": s.id in orphans} for s in live])
        return
    orphan = "  (orphan: replay-down --all)"
    rows = [(s.id, s.status, f"{s.pack}/{s.scenario}" + (orphan if s.id in orphans else "")) for s in live]
    for line in table_lines(("SESSION", "STATUS", "SCENARIO"), rows):
        emit(line)


main = app
