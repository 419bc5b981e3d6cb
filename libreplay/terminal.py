"""What the trainee's terminal needs from the library: inert text and the service containers.

Scenario packs are untrusted: a page, title or hint could carry escape sequences that
would move the cursor, retitle the window, change colours or worse (OSC 52 writes the
clipboard). Everything a scenario provides goes through :func:`inert` before it is drawn.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any

from libreplay.errors import NotFound
from libreplay.state import CHANNEL_MOUNT, SessionState

# A whole escape sequence first (so its parameters vanish with it; an unterminated string
# sequence ends at the line's end), then any single control
# character left: C0 except newline and tab, DEL, and C1 (U+0080-U+009F, which some terminals
# treat like ESC + a letter).
_ESCAPE_SEQUENCE = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]?             # CSI: ESC [ params intermediates final
    | \x9b[0-?]*[ -/]*[@-~]?             # 8-bit CSI
    | \x1b[\]PX^_].*?(?:\x07|\x1b\\|\x9c|(?=\n)|$)   # OSC, DCS, SOS, PM, APC to their end
    | [\x90\x98\x9d-\x9f].*?(?:\x07|\x1b\\|\x9c|(?=\n)|$)  # the same, 8-bit introducers
    | \x1b[ -/]*[0-~]?                   # any other ESC sequence (ESC c, ESC ( B, ESC 7 …)
    """,
    re.VERBOSE,
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Unicode characters that reorder or hide text (bidi overrides, zero-width joiners used to
# disguise commands) are not escape sequences, but they make what is shown differ from what is
# there; they are dropped as well.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
REPLACEMENT = "?"


def inert(text: str, *, keep_newlines: bool = True) -> str:
    """``text`` with every escape sequence and control character made harmless.

    Sequences are removed whole; stray control characters become ``?`` so that something
    visibly odd remains. Tabs become spaces (their width depends on the terminal). Carriage
    returns are dropped (``\\r\\n`` stays one line break).
    """
    text = text.replace("\r\n", "\n").replace("\t", "    ")
    text = _ESCAPE_SEQUENCE.sub("", text)
    text = _INVISIBLE.sub("", text)
    if not keep_newlines:
        text = text.replace("\n", " ")
    return _CONTROL.sub(REPLACEMENT, text)


def clock(seconds: int | float) -> str:
    """``mm:ss`` (``h:mm:ss`` from an hour on), truncated to the second; the HUD and the debrief."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


# -- the containers of a session -------------------------------------------------------------


@dataclass(frozen=True)
class ServiceContainer:
    """The container of one service, as far as the trainee's shell needs to know it."""

    id: str
    name: str
    service: str
    status: str  # docker's: running, restarting, exited, created, paused, dead
    exit_code: int | None
    image_path: str  # the PATH the image sets, so the hint directory can go in front of it

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

    from libreplay import docker_api

    labels = [f"{docker_api.PROJECT_LABEL}={state.project}", f"{docker_api.SERVICE_LABEL}={service}"]
    try:
        with docker_api.engine_errors():
            found = docker_api.client().containers.list(all=True, filters={"label": labels})
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
    )


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
