"""The Compose v2 program: found once, called directly with an environment replaybook chooses."""

from __future__ import annotations

import os
import shutil
from functools import cache
from pathlib import Path

from libreplay.core.errors import EnvironmentProblem
from libreplay.core.proc import run

VERSION_TIMEOUT_SECONDS = 30
# Where the docker CLI looks for its Compose plugin, after $DOCKER_CONFIG/cli-plugins.
PLUGIN_DIRS = (
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
)


@cache
def compose_program() -> str:
    """The Compose v2 program, found where the docker CLI finds its plugin.

    Calling it directly (not through ``docker compose``) lets replaybook choose its environment
    exactly: the docker CLI would need HOME or DOCKER_CONFIG to find the plugin.
    """
    config = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    for directory in (str(Path(config) / "cli-plugins"), *PLUGIN_DIRS):
        candidate = Path(directory) / "docker-compose"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("docker-compose")
    if found and _is_compose_v2(found):
        return found
    raise EnvironmentProblem(
        "Docker Compose v2 is not installed", hint="`replaybook doctor --fix` installs it"
    )


def _is_compose_v2(program: str) -> bool:
    """A ``docker-compose`` on PATH may be the old Python v1, which resolves nothing the same way."""
    answer = run([program, "version", "--short"], timeout=VERSION_TIMEOUT_SECONDS)
    major = answer.stdout.strip().lstrip("v").partition(".")[0]
    return answer.ok and major.isdigit() and int(major) >= 2


def compose_argv(*args: str) -> list[str]:
    """Every Compose call of replaybook goes through here."""
    return [compose_program(), *args]
