"""Who answers for a session, and which sessions nobody answers for any more (orphans).

A session records its owner (REPLAYBOOK_OWNER_PID, set by `replaybook run`) and its holder
(the replay-* command working on it right now), each with the process's start time so a
reused pid is not mistaken for it. Either one dead means a SIGKILL left the stack behind.
This module is light on purpose: every replay-* command asks it at start-up.
"""

from __future__ import annotations

from libreplay.session.state import SessionState, list_sessions


def start_time(pid: int) -> float | None:
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def find_orphans() -> list[str]:
    """Sessions whose owner or holder process is gone."""
    return [s.id for s in list_sessions() if not _answered_for(s)]


def _answered_for(state: SessionState) -> bool:
    return process_alive(state.owner_pid, state.owner_started) and process_alive(
        state.holder_pid, state.holder_started
    )


def process_alive(pid: int | None, started: float | None) -> bool:
    """True when nobody is recorded, or the recorded process is still the same one."""
    if pid is None:
        return True
    if pid <= 0:  # a damaged record: no process of ours has that id
        return False
    import psutil

    try:
        process = psutil.Process(pid)
        if started is not None and abs(process.create_time() - started) > 1:
            return False
        return bool(process.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False
