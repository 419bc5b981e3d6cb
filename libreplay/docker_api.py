"""The Docker engine, through the Docker SDK. Connection failures become readable errors.

The engine is the one DOCKER_HOST names (the SDK's and the docker CLI's rule), else the local
socket; :func:`client` keeps one client per engine address, so a process (a test) that points
DOCKER_HOST elsewhere gets a client for that engine, not the first one it ever used.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cache
from typing import TYPE_CHECKING, Any

from libreplay.errors import EnvironmentProblem

if TYPE_CHECKING:
    import docker

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
SESSION_LABEL = "org.replaybook.session"
HOME_LABEL = "org.replaybook.home"


ENGINE_HINT = "is the Docker daemon running and may you use it? `replaybook doctor` checks"
DEFAULT_ENGINE = "unix:///var/run/docker.sock"
PING_TIMEOUT_SECONDS = 10
# What the SDK's docker.from_env reads: a client is kept per combination of them.
_ENGINE_ENV = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or DEFAULT_ENGINE


@contextmanager
def engine_errors() -> Iterator[None]:
    """Map the SDK's connection and API failures to EnvironmentProblem with a hint."""
    import docker.errors
    import requests.exceptions

    try:
        yield
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        if isinstance(exc, docker.errors.NotFound):
            raise
        raise engine_problem(exc) from exc


def engine_problem(exc: BaseException) -> EnvironmentProblem:
    """One line saying which engine failed and how, from whatever the SDK raised."""
    import docker.errors

    if isinstance(exc, docker.errors.APIError) and exc.response is not None:
        said = str(exc.explanation or exc).strip().splitlines()[0]
        return EnvironmentProblem(f"the Docker engine at {engine_address()} refused: {said}")
    return EnvironmentProblem(
        f"the Docker engine at {engine_address()} did not answer ({_reason(exc)})", hint=ENGINE_HINT
    )


def _reason(exc: BaseException) -> str:
    """The operating system's word for it (connection refused, no such file…), else the text."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror.lower()
        if isinstance(current, TimeoutError) or "timed out" in str(current).lower():
            return "timed out"
        pending += [a for a in current.args if isinstance(a, BaseException)]
        pending += [c for c in (current.__cause__, current.__context__) if c is not None]
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def client() -> docker.DockerClient:
    """The client of the engine DOCKER_HOST names now (one per address, kept for the process)."""
    return _client_for(tuple(os.environ.get(name, "") for name in _ENGINE_ENV))


@cache
def _client_for(_engine: tuple[str, ...]) -> docker.DockerClient:
    import docker

    with engine_errors():
        return docker.from_env(timeout=120)


def ensure_engine() -> None:
    """Raise EnvironmentProblem unless the engine answers now (a quick ping, no retries)."""
    with engine_errors():
        api = client().api
        api.get(f"{api.base_url}/_ping", timeout=PING_TIMEOUT_SECONDS).raise_for_status()


def engine_answers() -> bool:
    try:
        ensure_engine()
    except EnvironmentProblem:
        return False
    return True


def project_filter(project: str) -> dict[str, Any]:
    return {"label": f"{PROJECT_LABEL}={project}"}


def remove_project_objects(project: str) -> None:
    """Force-remove whatever `compose down` left of a project (the last line of defence)."""
    import docker.errors

    api = client()
    with engine_errors():
        for container in api.containers.list(all=True, filters=project_filter(project)):
            with suppress(docker.errors.NotFound):
                container.remove(force=True, v=True)
        for network in api.networks.list(filters=project_filter(project)):
            with suppress(docker.errors.NotFound):
                network.remove()
        for volume in api.volumes.list(filters=project_filter(project)):
            with suppress(docker.errors.NotFound):
                volume.remove(force=True)


def projects_of_home(home_id: str) -> set[str]:
    """Compose projects whose containers, networks or volumes carry this REPLAYBOOK home's label
    (a network whose containers never came up is found too)."""
    label = {"label": f"{HOME_LABEL}={home_id}"}
    api = client()
    with engine_errors():
        containers = api.containers.list(all=True, filters=label)
        others = [*api.networks.list(filters=label), *api.volumes.list(filters=label)]
    projects = {c.labels.get(PROJECT_LABEL, "") for c in containers}
    projects |= {(o.attrs.get("Labels") or {}).get(PROJECT_LABEL, "") for o in others}
    return projects - {""}
