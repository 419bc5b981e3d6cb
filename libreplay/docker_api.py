"""The Docker engine, through the Docker SDK. Connection failures become readable errors."""

from __future__ import annotations

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


@contextmanager
def engine_errors() -> Iterator[None]:
    """Map the SDK's connection and API failures to EnvironmentProblem with a hint."""
    import docker.errors
    import requests.exceptions

    try:
        yield
    except (docker.errors.DockerException, requests.exceptions.ConnectionError) as exc:
        if isinstance(exc, docker.errors.NotFound):
            raise
        raise EnvironmentProblem(
            f"the Docker engine did not answer: {exc}",
            hint="is the Docker daemon running and may you use it? `replaybook doctor` checks",
        ) from exc


@cache
def client() -> docker.DockerClient:
    import docker

    with engine_errors():
        return docker.from_env(timeout=120)


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
    """Compose projects whose containers carry this REPLAYBOOK home's label."""
    with engine_errors():
        found = client().containers.list(all=True, filters={"label": f"{HOME_LABEL}={home_id}"})
    return {c.labels.get(PROJECT_LABEL, "") for c in found} - {""}
