"""The host ports a session publishes (on loopback only: libreplay/scenario/sandbox.py), and who
holds one already.

Asked by replay-up before anything of a new session is made, so a second session of a scenario
that publishes ``18080`` is refused with the session that holds it named, instead of failing
half-way through ``docker compose up``. Scenarios that publish nothing never get here, and run
side by side as before.
"""

from __future__ import annotations

import errno
import json
import socket
from collections.abc import Iterable
from dataclasses import dataclass

from libreplay.core.errors import EnvironmentProblem
from libreplay.scenario.model import Scenario
from libreplay.scenario.sandbox import LOOPBACK, HostPort, model_ports
from libreplay.session.model import MODEL_FILE
from libreplay.session.state import SessionState, list_sessions


@dataclass(frozen=True)
class Holder:
    """What holds a host port: a session (of this home or another), or another program."""

    session: str | None = None
    state: SessionState | None = None  # the session's state, when it is of this home

    def says(self, reveal: bool) -> str:
        if self.session is None:
            return "another program on this machine"
        if self.state is None:
            return f"session {self.session} of another replaybook home"
        # Blind play: a session still in play is named by its title, its id only to an author.
        named = self.state.scenario if reveal else repr(self.state.title or "untitled")
        return f"session {self.session} ({named})"


def require_free(scenario: Scenario, ports: Iterable[HostPort], *, reveal: bool = False,
                 excluding: str | None = None, sessions_only: bool = False) -> None:
    """Raise EnvironmentProblem (exit 5) naming the holder of the first of ``ports`` that is
    held: by a session (``excluding`` this one), or (unless ``sessions_only``) by any other
    program on this machine."""
    for port in ports:
        holder = holder_of(port, excluding=excluding, sessions_only=sessions_only)
        if holder is None:
            continue
        if holder.session is not None:
            end = f"replay-down {holder.session}"
            if holder.state is None:
                end += " with that REPLAYBOOK_HOME (or replay-down --all there)"
            raise EnvironmentProblem(
                f"port {port.address} is held by {holder.says(reveal)}; end it with {end}"
            )
        raise EnvironmentProblem(
            f"port {port.address} is held by {holder.says(reveal)}: {scenario.compose_file.name} "
            f"publishes it for service {port.service}",
            hint=f"stop what listens there (`ss -lntup | grep :{port.published}` shows it), then start again",
        )


def holder_of(port: HostPort, *, excluding: str | None = None, sessions_only: bool = False) -> Holder | None:
    """Who holds ``port`` on the host's loopback, or None when it is free (or, with
    ``sessions_only``, when no session holds it)."""
    for state in list_sessions():
        if state.id != excluding and (port.published, port.protocol) in _published_by(state):
            return Holder(state.id, state)
    session = _session_on_engine(port, excluding)
    if session is not None:
        return Holder(session)
    # A remote engine publishes on its own host's loopback, which no bind of ours can test: there
    # another program's hold shows only as the engine's own refusal at start (stack.start).
    local = _engine_is_local()
    return Holder() if not sessions_only and local and _bound_by_a_program(port) else None


def _engine_is_local() -> bool:
    from libreplay.engine.docker_api import engine_is_local

    return engine_is_local()


def _published_by(state: SessionState) -> set[tuple[int, str]]:
    """The (host port, protocol) pairs a session's model publishes (its own file, written by
    replaybook at up: a session still starting may not have it yet, and the engine is asked next)."""
    try:
        model = json.loads((state.directory / MODEL_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    return {(port.published, port.protocol) for port in model_ports(model)}


def _session_on_engine(port: HostPort, excluding: str | None) -> str | None:
    """A session of any replaybook home whose container publishes ``port`` (an orphan too)."""
    from libreplay.engine import docker_api

    with docker_api.engine_errors():
        containers = docker_api.client().containers.list(
            filters={"label": docker_api.SESSION_LABEL, "publish": f"{port.published}/{port.protocol}"}
        )
    sessions = {str(c.labels.get(docker_api.SESSION_LABEL)) for c in containers} - {excluding}
    return min(sessions) if sessions else None


def _bound_by_a_program(port: HostPort) -> bool:
    """Whether binding the port on loopback fails because it is in use (what Docker would meet).

    SO_REUSEADDR on TCP: a connection of a past session still in TIME_WAIT is no holder (UDP
    has no such state, and there the option would let two sockets share the port)."""
    tcp = port.protocol == "tcp"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM) as probe:
        if tcp:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port.published))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False
