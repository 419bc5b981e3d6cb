"""Images on the engine, through the Docker SDK: look one up, pull, tag, import a root file system.

Every call goes through :func:`libreplay.engine.docker_api.client` and its one error mapping
(:func:`~libreplay.engine.docker_api.engine_errors`), so an engine that does not answer reads the
same here as everywhere else. A pull and an import are bounded in time as a whole, not only per
read: both run in a worker thread that this one stops waiting for at the time limit.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from libreplay.core.errors import EnvironmentProblem, ReplayError
from libreplay.engine import docker_api


def image_id(tag: str) -> str | None:
    """The id of the local image ``tag``, or None when the engine has no such image."""
    import docker.errors

    try:
        with docker_api.engine_errors():
            return str(docker_api.client().images.get(tag).id)
    except docker.errors.ImageNotFound:
        return None


class BuildFailed(Exception):
    """The engine could not build an image; ``log`` is the end of its build output."""

    def __init__(self, reason: str, log: str) -> None:
        super().__init__(reason)
        self.log = log


def build(context: Path, tag: str, *, labels: dict[str, str]) -> None:
    """Build the image of ``context`` (its Dockerfile) as ``tag``; BuildFailed when it fails."""
    import docker.errors

    with docker_api.engine_errors():
        try:
            docker_api.client().images.build(path=str(context), tag=tag, rm=True, labels=labels)
        except docker.errors.BuildError as exc:
            log = "".join(str(chunk.get("stream", "")) for chunk in exc.build_log)[-2000:]
            raise BuildFailed(str(exc), log) from exc


def pull(reference: str, *, timeout: float) -> None:
    """Pull ``reference`` from its registry within ``timeout`` seconds.

    Raises EnvironmentProblem with the engine's reason when the registry cannot give it (no
    network, no such image) or the time runs out.
    """
    from docker.utils import parse_repository_tag

    repository, version = parse_repository_tag(reference)

    def pulling(stop: threading.Event) -> None:
        with _engine_problems():
            api = docker_api.client().api
            for event in api.pull(repository, tag=version or "latest", stream=True, decode=True):
                if stop.is_set():
                    return  # given up on: leave the rest to the engine
                if event.get("error"):
                    raise EnvironmentProblem(f"the registry refused {reference}: {_said(event)}")

    if not _within(timeout, pulling):
        # The engine may go on pulling until our connection closes; nothing waits for it.
        raise EnvironmentProblem(f"pulling {reference} did not finish within {timeout:g} s")


def tag(source: str, target: str) -> None:
    """Give the local image ``source`` the name ``target`` too (``docker tag``)."""
    from docker.utils import parse_repository_tag

    repository, version = parse_repository_tag(target)
    try:
        with _engine_problems():
            docker_api.client().api.tag(source, repository, version or "latest")
    except EnvironmentProblem as problem:
        raise EnvironmentProblem(f"tagging {source} as {target} failed: {problem.message}",
                                 hint=problem.hint or "replaybook doctor") from problem


def import_rootfs(tarball: Iterable[bytes], target: str, *, changes: Sequence[str], timeout: float) -> str:
    """Import a root file system streamed as a tar under the name ``target`` (``docker import``,
    with Dockerfile ``changes``); the new image's id.

    A stream that fails (it raises) aborts the upload, so no cut tar is ever imported. Past
    ``timeout`` seconds in all: ReplayError, the engine perhaps still writing layers.
    """
    from docker.utils import parse_repository_tag

    repository, version = parse_repository_tag(target)

    def importing(stop: threading.Event) -> str:
        with docker_api.engine_errors():
            return str(docker_api.client().api.import_image(
                src=_until(stop, tarball), repository=repository, tag=version or "latest",
                changes=list(changes), stream_src=True,
            ))

    said: list[str] = []
    if not _within(timeout, lambda stop: said.append(importing(stop))):
        raise ReplayError(f"docker import did not finish within {timeout:g} s",
                          hint=f"check the engine (replaybook doctor); a half-imported {target} may need "
                               "`docker image rm` before trying again")
    errors = [_said(event) for event in _events(said[0]) if event.get("error")]
    if errors:
        raise ReplayError(f"docker import failed: {errors[-1]}")
    new_id = image_id(target)
    if new_id is None:
        raise ReplayError(f"docker import failed: the engine has no image {target} afterwards")
    return new_id


# -- helpers ----------------------------------------------------------------------------------


class _Abandoned(Exception):
    """The upload was given up on (time limit or interrupt): it must fail, never end early."""


def _until(stop: threading.Event, chunks: Iterable[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        if stop.is_set():
            raise _Abandoned
        yield chunk
    if stop.is_set():
        raise _Abandoned


def _within(seconds: float, work: Callable[[threading.Event], Any]) -> bool:
    """Run ``work(stop)`` in a worker thread; False when it is still running after ``seconds``.

    ``stop`` is set however this returns (time limit, an interrupt of this thread, done), so the
    work ends at its next step. Whatever ``work`` raised is raised here.
    """
    stop = threading.Event()
    failure: list[BaseException] = []

    def worker() -> None:
        try:
            work(stop)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread, which raises it
            failure.append(exc)

    # A daemon: a worker blocked on the engine must not hold the process at exit.
    thread = threading.Thread(target=worker, name="engine-images", daemon=True)
    thread.start()
    try:
        thread.join(seconds)
    finally:
        stop.set()
    if thread.is_alive():
        return False
    if failure:
        raise failure[0]
    return True


@contextmanager
def _engine_problems() -> Iterator[None]:
    """engine_errors, with the SDK's NotFound (no such image here or in the registry) mapped too."""
    import docker.errors

    try:
        with docker_api.engine_errors():
            yield
    except docker.errors.NotFound as missing:
        raise docker_api.engine_problem(missing) from missing


def _events(text: str) -> Iterator[dict[str, Any]]:
    """The JSON messages of an engine's streamed answer, one a line; other lines are skipped."""
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            yield event


def _said(event: dict[str, Any]) -> str:
    detail = event.get("errorDetail")
    message = detail.get("message") if isinstance(detail, dict) else None
    return str(message or event.get("error") or "unknown error").strip()
