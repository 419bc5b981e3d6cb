"""The trainee's shell in a service container: the ``docker exec`` that opens it."""

from __future__ import annotations

import shlex

from libreplay.session.containers import ServiceContainer
from libreplay.session.state import CHANNEL_MOUNT

# Prefer bash for its line editing; fall back to sh in minimal images. Interactive but NOT a
# login shell: a login shell runs /etc/profile, which on Debian-based images sets PATH from
# scratch for root and so would drop the hint directory put in front of it.
SHELL_COMMAND = "command -v bash >/dev/null && exec bash -i || exec sh -i"


def shell_argv(container: ServiceContainer, *, docker_bin: str = "docker") -> list[str]:
    """``docker exec -it`` into the container with the hint channel first on PATH."""
    path = f"{CHANNEL_MOUNT}/bin:{container.image_path}"
    return [docker_bin, "exec", "-it", "-e", f"PATH={path}", container.id, "sh", "-c", SHELL_COMMAND]


def shell_command_line(container: ServiceContainer, *, docker_bin: str = "docker") -> str:
    """The same as one shell-quoted line (what asciinema's ``-c`` takes)."""
    return shlex.join(shell_argv(container, docker_bin=docker_bin))
