"""A session's Compose stack: one resolved, checked model kept in the session directory.

``prepare`` has Compose resolve the pack's compose file, checks the result against the
allow-list (libreplay/scenario/sandbox.py) and writes the session's own model
(libreplay/session/model.py): labels tying every container to the session and to this
REPLAYBOOK home, stable image names for built services (so sessions share images instead of
tagging one per session), per-session copies of bind sources, and the probe that runs the
``http_200`` check from inside the scenario's own network.
Every later Compose call of the session, its scripts' included, uses that model only.

The scenario's scripts and fault files are the session's own copy (libreplay.session.snapshot),
taken at up: the pack's checkout is never run from.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from libreplay.core import paths
from libreplay.core.errors import ScenarioFailure
from libreplay.core.proc import Completed, run
from libreplay.engine import docker_api
from libreplay.engine.compose import compose_argv
from libreplay.engine.docker_api import HOME_LABEL, SESSION_LABEL
from libreplay.scenario.model import Scenario
from libreplay.scenario.sandbox import HostPort, ResolvedModel, check, model_ports
from libreplay.session.limits import Limits, session_ceiling
from libreplay.session.model import MODEL_FILE, SessionParts, session_model
from libreplay.session.ports import require_free
from libreplay.session.snapshot import files_dir

PROBE_IMAGE_REPO = "replaybook/probe"
UP_TIMEOUT_SECONDS = 1200  # a cold build of a scenario's images on 2 cores
DOWN_TIMEOUT_SECONDS = 120
STEP_TIMEOUT_SECONDS = 60
SCRIPT_TIMEOUT_SECONDS = 120
CONTAINER_NUMBER_LABEL = "com.docker.compose.container-number"  # Compose's: which replica
ONE_OFF_LABEL = "com.docker.compose.oneoff"  # Compose's: "True" on a `compose run` container
PORT_TAKEN = re.compile(r"port is already allocated|address already in use", re.IGNORECASE)


def home_id(state_dir: Path | None = None) -> str:
    """Identifies a REPLAYBOOK home on the engine, so `down --all` finds only its stacks."""
    directory = state_dir or paths.state_dir()
    return hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Stack:
    scenario: Scenario
    session_id: str
    project: str
    session_dir: Path

    @property
    def model_file(self) -> Path:
        """The session's resolved compose model: the only compose file the session uses."""
        return self.session_dir / MODEL_FILE

    @property
    def files_dir(self) -> Path:
        """The session's copy of the scenario's scripts and fault files, laid out as in the
        scenario directory: scripts run there, fault files are copied from there."""
        return files_dir(self.session_dir)

    def scenario_file(self, name: str) -> Path:
        """A script or fault file the scenario names, in the session's copy."""
        return self.files_dir / name

    def env(self) -> dict[str, str]:
        """The environment scenario scripts and compose calls run with."""
        env = dict(os.environ)
        env.update(
            {
                "SCENARIO_DIR": str(self.files_dir),
                "COMPOSE_PROJECT_NAME": self.project,
                "COMPOSE_FILE": str(self.model_file),
                "REPLAYBOOK_SESSION": self.session_id,
            }
        )
        env.pop("DOCKER_DEFAULT_PLATFORM", None)
        return env

    # -- compose -----------------------------------------------------------------------------

    def compose(
        self, *args: str, timeout: float, on_progress: Callable[[str], None] | None = None,
        project: str | None = None,
    ) -> Completed:
        return run(
            compose_argv("--project-name", project or self.project, "--file", str(self.model_file), *args),
            timeout=timeout,
            # Every path of the model is absolute: the session's directory is a working directory
            # that is there for as long as the stack is, whatever becomes of the pack.
            cwd=self.session_dir,
            env=self.env(),
            on_stderr=on_progress,
            stream_stdout=on_progress is not None,
        )

    def up(self, on_progress: Callable[[str], None] | None = None) -> None:
        """Build the images, then start the stack and wait until its services are running/healthy."""
        self.build(on_progress)
        self.start(on_progress)

    def build(self, on_progress: Callable[[str], None] | None = None) -> None:
        """Build the images (from cache when nothing changed).

        The build runs under a project name stable per scenario directory: Compose labels
        images with their project, so building under the session's name (one `up --build`)
        would give every session a new image and leave the last one dangling.
        """
        built = self.compose(
            "build", timeout=UP_TIMEOUT_SECONDS, on_progress=on_progress, project=self.build_project
        )
        if not built.ok:
            _engine_still_answers()
            raise ScenarioFailure(
                f"{self.scenario.ref}: its images did not build (docker compose build "
                f"{built.how_it_ended}):\n{built.tail()}",
                hint="`replaybook doctor` checks the engine and the base image the scenarios build from",
            )

    def start(self, on_progress: Callable[[str], None] | None = None) -> None:
        """Start the built stack and wait until its services are running/healthy."""
        started = self.compose(
            "up", "--detach", "--wait", "--remove-orphans",
            timeout=UP_TIMEOUT_SECONDS, on_progress=on_progress,
        )  # fmt: skip
        if not started.ok:
            _engine_still_answers()
            if PORT_TAKEN.search(started.stderr):
                # Another session took a port between replay-up's check and this start: name it.
                # (Not "another program": this session's own first services hold ports by now.)
                require_free(self.scenario, self.host_ports(), excluding=self.session_id, sessions_only=True)
            # The services' own last words, before the teardown takes them away.
            logs = self.compose("logs", "--no-color", "--tail", "10", timeout=STEP_TIMEOUT_SECONDS)
            raise ScenarioFailure(
                f"{self.scenario.ref}: the stack did not come up (docker compose up "
                f"{started.how_it_ended}):\n{started.tail()}\nLast lines of its services' logs:\n"
                f"{logs.tail(30)}",
                hint="a service exited or never became healthy",
            )

    def copy_into(self, service: str, source: Path, dest: str) -> str | None:
        """Copy the host file ``source`` to the path ``dest`` in every container of the service
        (each replica, as `docker compose cp` does), one call to the engine each: content, mode
        and times as the host file has them; its owner is the host file's numeric uid and gid as
        the tar carries them (where `docker compose cp` without ``-a`` would give root's).
        ``dest`` names the file itself: a directory there is refused (the engine's answer), not
        replaced and not copied into. None, or why it could not."""
        containers = [
            found for found in docker_api.labelled("containers", project=self.project, service=service)
            if found.labels.get(ONE_OFF_LABEL) != "True"  # a `compose run` container is no replica
        ]
        if not containers:
            return f"service {service!r} has no container"
        target = PurePosixPath(dest)
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            tar.add(source, arcname=target.name, recursive=False)
        for container in sorted(containers, key=_replica_number):
            problem = docker_api.put_file(container.id, str(target.parent), archive.getvalue())
            if problem is not None:
                return problem
        return None

    def host_ports(self) -> tuple[HostPort, ...]:
        """What the session's model publishes on the host's loopback."""
        return model_ports(json.loads(self.model_file.read_text(encoding="utf-8")))

    def down(self) -> Completed:
        return self.compose(
            "down", "--volumes", "--remove-orphans", "--timeout", "3", timeout=DOWN_TIMEOUT_SECONDS
        )

    def run_script(self, name: str, timeout: float = SCRIPT_TIMEOUT_SECONDS) -> Completed:
        """A scenario script, on the host, with bash, from the session's copy and in it (the
        scenario directory as it was at up: the pack may have moved on or gone since)."""
        return run(
            ["bash", str(self.scenario_file(name))],
            timeout=timeout,
            cwd=self.files_dir,
            env=self.env(),
        )

    # -- the session's model ----------------------------------------------------------------

    def resolve(self) -> ResolvedModel:
        """Compose's model of the scenario for this session's project, checked against the
        allow-list (raises ScenarioInvalid when refused). Writes nothing: asked before the
        session exists, so what it publishes can be checked first (session/ports.py)."""
        return check(self.scenario, self.project)

    def prepare(
        self, probe_image: str, resolved: ResolvedModel | None = None, limits: Limits | None = None
    ) -> None:
        """Write the session's model from ``resolved`` (resolved and checked now when not given;
        raises ScenarioInvalid when refused), each container under ``limits`` (when not given:
        the ceiling the environment sets, session/limits.py)."""
        labels = {SESSION_LABEL: self.session_id, HOME_LABEL: home_id()}
        # The probe also fetches the http_200 guards' targets, from inside the network.
        probe = self._probe_service(probe_image, labels) if self.scenario.probes_http else None
        parts = SessionParts(self.project, self.session_dir, labels, self.image_name, probe,
                             limits or session_ceiling())
        session_model(self.scenario, parts, resolved)

    @property
    def scenario_digest(self) -> str:
        return hashlib.sha256(str(self.scenario.directory).encode()).hexdigest()[:8]

    @property
    def build_project(self) -> str:
        return f"replaybook-build-{self.scenario_digest}"

    def image_name(self, service: str) -> str:
        """Stable per scenario directory and service: rebuilt from cache, shared by sessions."""
        slug = re.sub(r"[^a-z0-9_.-]+", "-", f"{self.scenario.id}-{service}".lower())
        return f"replaybook/{slug}:{self.scenario_digest}"

    def _probe_service(self, image: str, labels: dict[str, str]) -> dict[str, Any]:
        return {
            "image": image,
            "init": True,
            "labels": labels,
            "environment": {"PROBE_URL": self.probe_url()},
            "restart": "unless-stopped",
        }

    def probe_url(self) -> str:
        """The success URL as seen from inside the scenario network (see docs/scenario-format.md)."""
        return probe_url(self.scenario)


def _replica_number(container: Any) -> int:
    number = container.labels.get(CONTAINER_NUMBER_LABEL, "1")
    return int(number) if number.isdigit() else 1


def _engine_still_answers() -> None:
    """A build or start that failed because the engine went away is the machine's problem
    (EnvironmentProblem, exit 5), not the scenario's."""
    from libreplay.engine.docker_api import ensure_engine

    ensure_engine()


def probe_url(scenario: Scenario, target: str | None = None) -> str:
    """A URL of the scenario (the success target unless ``target`` is given) as the probe inside
    the network fetches it: ``localhost`` is the shell service; a published host port maps to its
    service and port."""
    target = target or scenario.success_target or ""
    parts = urlsplit(target)
    if parts.hostname not in ("localhost", "127.0.0.1"):
        return target
    port = parts.port
    host, new_port = scenario.shell, port
    # A browser on the host would use the scheme's port when the URL names none.
    wanted = port if port is not None else (443 if parts.scheme == "https" else 80)
    for published in scenario.published_ports:
        if published.host_port == wanted:
            host, new_port = published.service, published.container_port
            break
    netloc = host if new_port is None else f"{host}:{new_port}"
    if parts.username:
        netloc = f"{parts.username}:{parts.password or ''}@{netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
