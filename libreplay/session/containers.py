"""The containers of a session's services, as found on the engine by their Compose labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from libreplay.core.errors import NotFound
from libreplay.session.state import SessionState


@dataclass(frozen=True)
class ServiceContainer:
    """The container of one service, as far as the trainee's shell needs to know it."""

    id: str
    name: str
    service: str
    status: str  # docker's: running, restarting, exited, created, paused, dead
    exit_code: int | None
    image_path: str  # the PATH the image sets, so the hint directory can go in front of it
    started_at: str = ""  # the engine's State.StartedAt: a restart of the same container changes it

    @property
    def running(self) -> bool:
        return self.status == "running"


DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def find_container(state: SessionState, service: str) -> ServiceContainer:
    """The container of ``service`` in the session's Compose project, running or not.

    Raises NotFound when the project has no container for the service, EnvironmentProblem
    when the Docker engine does not answer.
    """
    import docker.errors

    from libreplay.engine import docker_api

    try:
        found = docker_api.labelled("containers", project=state.project, service=service)
    except docker.errors.NotFound:
        found = []  # a container removed while it was being listed: the stack is going away
    if not found:
        raise NotFound(
            f"session {state.id}: no container for service {service!r}",
            hint="the stack may have been taken down (replay-sessions lists the live sessions)",
        )
    # A recreated service can leave an old container behind for a moment: prefer a running one.
    found.sort(key=lambda c: c.status != "running")
    return _describe(found[0], service)


def _describe(container: Any, service: str) -> ServiceContainer:
    attrs = container.attrs
    env = attrs.get("Config", {}).get("Env") or []
    image_path = next((e.split("=", 1)[1] for e in env if e.startswith("PATH=")), DEFAULT_PATH)
    state = attrs.get("State", {})
    status = "restarting" if state.get("Restarting") else str(container.status)
    exit_code = state.get("ExitCode")
    return ServiceContainer(
        id=str(container.id),
        name=str(container.name),
        service=service,
        status=status,
        exit_code=int(exit_code) if isinstance(exit_code, int) else None,
        image_path=image_path,
        started_at=str(state.get("StartedAt") or ""),
    )
