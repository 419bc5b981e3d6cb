"""Per-session copies of what a scenario binds, held by the engine itself (issue 15).

A bind names a host path, and a remote engine (``DOCKER_HOST=ssh://…``, a Docker context)
cannot see this machine's files. So a session's copy of each bind source lives in a named
volume of its own on the engine, filled through the Engine API, and the service binds the
copy from the volume's own directory on the engine's host:

1. one volume per bind source (``<project>_bind-<n>``), labelled with the session's project,
   session and home, so the session's teardown (and ``replay-down --all``) removes it by label
   with the rest of the stack;
2. one short-lived helper container, created (never started) from the base image with every
   volume mounted, receives each copy as a tar (``put_archive``): only the archive travels;
3. the service's bind source becomes ``<the volume's Mountpoint>/<name>``, a path the engine
   itself reported, on its own host.

One mechanism for a local and a remote engine alike. A bind stays a bind (a file bind binds one
file; ``read_only`` keeps its meaning; two services binding one source share one copy), the
trainee's edits die with the session (the volume is removed at teardown), and nothing under
the session directory is mounted into a container.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from libreplay.core.errors import EnvironmentProblem, ScenarioFailure
from libreplay.engine import docker_api

HELPER_ROOT = PurePosixPath("/mnt")  # where the helper mounts each volume (r0, r1, …)
MAX_BIND_BYTES = 256 * 1024 * 1024  # what one session may send of a scenario's bound files


@dataclass(frozen=True)
class BindCopy:
    """One bind source of the scenario and where its session copy lives on the engine."""

    index: int
    source: Path  # resolved, inside the scenario directory

    @property
    def entry(self) -> str:
        """The copy's name inside its volume: the source's own name (``root`` for the scenario
        directory itself), so ``docker inspect`` on the engine reads sensibly."""
        return self.source.name or "root"

    def volume(self, project: str) -> str:
        return f"{project}_bind-{self.index}"


def bind_archive(copy: BindCopy, hidden: set[Path], *, under: str = "") -> bytes:
    """A tar of the bind source as the container will see it, rooted at its entry name (below
    the directory ``under``, whose own entry the tar leaves out).

    Left out: ``.git`` and what the trainee must never see (``hidden``: meta.json, scripts,
    fault files). Symbolic links travel as links (they resolve inside the container, never on
    the host). A source that does not exist is an empty directory, as Compose would have made."""
    buffer = io.BytesIO()
    total = 0

    def keep(member: tarfile.TarInfo, path: Path) -> tarfile.TarInfo | None:
        nonlocal total
        if path.name == ".git" or _resolved(path) in hidden:
            return None
        total += member.size
        if total > MAX_BIND_BYTES:
            raise ScenarioFailure(f"{copy.source}: more than {MAX_BIND_BYTES // 2**20} MiB to bind")
        return member

    try:
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            name = f"{under}/{copy.entry}" if under else copy.entry
            if not copy.source.exists() and not copy.source.is_symlink():
                directory = tarfile.TarInfo(name)
                directory.type, directory.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(directory)
            else:
                _add(tar, copy.source, name, keep)
    except OSError as exc:
        raise ScenarioFailure(f"{copy.source}: could not be copied for the session ({exc})") from exc
    return buffer.getvalue()


_TAR_END = b"\0" * (2 * tarfile.BLOCKSIZE)  # the two zero blocks that end a tar


def _without_end(archive: bytes) -> bytes:
    """A tar's members without its end, so that tars can be joined into one: tarfile pads the
    archive to a whole record with zero blocks after the two that end it."""
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.getmembers()
        end = tar.offset
    return archive[:end]


def _add(tar: tarfile.TarFile, path: Path, name: str,
         keep: Callable[[tarfile.TarInfo, Path], tarfile.TarInfo | None]) -> None:
    """``path`` under ``name``, walking directories ourselves so that a left-out entry is never
    read and a link is never followed (``tar.add``'s filter sees no host path)."""
    member = tar.gettarinfo(str(path), arcname=name)
    kept = keep(member, path)
    if kept is None:
        return
    member = kept
    if member.isreg():
        with path.open("rb") as content:
            tar.addfile(member, content)
        return
    tar.addfile(member)
    if member.isdir():
        for child in sorted(path.iterdir()):
            _add(tar, child, f"{name}/{child.name}", keep)


def _resolved(path: Path) -> Path:
    """``path`` with its links resolved; a loop of links (which points at nothing) as it is."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path


def hold_on_engine(copies: Sequence[BindCopy], *, project: str, labels: dict[str, str],
                   hidden: set[Path]) -> dict[int, str]:
    """Put each copy into a fresh volume of its own on the engine; the engine's path of each
    copy (what the service binds), by index. A session's project is new, so nothing of it is
    on the engine yet; ``replaybook dev``'s rebuild removes the project's objects, these volumes
    among them, before it prepares again (each engine call here costs: none is made twice)."""
    if not copies:  # nothing to ask of the engine
        return {}
    # One archive for every copy, each under its volume's mount point in the helper: one
    # put_archive (each mounts the helper's file system: ~0.1 s). Bad input: nothing made yet.
    archive = b"".join(_without_end(bind_archive(copy, hidden, under=f"r{copy.index}")) for copy in copies)
    archive += _TAR_END
    client = docker_api.client()
    volume_labels = {**labels, docker_api.PROJECT_LABEL: project, docker_api.BIND_LABEL: "1"}
    held: dict[int, str] = {}
    with docker_api.engine_errors():
        volumes = {
            copy.index: client.volumes.create(name=copy.volume(project), labels=volume_labels)
            for copy in copies
        }
        helper = _helper(project, volume_labels, {copy.index: copy.volume(project) for copy in copies})
        try:
            problem = docker_api.put_file(helper, str(HELPER_ROOT), archive)
            if problem is not None:
                raise ScenarioFailure(f"the engine refused the session's copies of its binds ({problem})")
            for copy in copies:
                mountpoint = str(volumes[copy.index].attrs.get("Mountpoint") or "")
                if not mountpoint:
                    raise EnvironmentProblem(
                        f"the Docker engine at {docker_api.engine_address()} gives volume "
                        f"{copy.volume(project)} no mountpoint: a scenario that binds files needs "
                        "the engine's local volume driver"
                    )
                held[copy.index] = str(PurePosixPath(mountpoint) / copy.entry)
        finally:
            with suppress(Exception):
                client.api.remove_container(helper, force=True)
    return held


def _helper(project: str, labels: dict[str, str], volumes: dict[int, str]) -> str:
    """A container that never runs, only holds the volumes while their copies are put in."""
    import docker.errors
    import docker.types

    from libreplay.host.baseimage import BASE_IMAGE

    api = docker_api.client().api
    mounts = [docker.types.Mount(str(HELPER_ROOT / f"r{index}"), name, type="volume")
              for index, name in sorted(volumes.items())]
    try:
        made = api.create_container(
            BASE_IMAGE, command=["true"], labels=labels, network_disabled=True,
            host_config=api.create_host_config(mounts=mounts, network_mode="none"),
            name=f"{project}_bind-helper",
        )  # fmt: skip
    except docker.errors.ImageNotFound:
        raise EnvironmentProblem(
            f"{BASE_IMAGE} is not on the Docker engine at {docker_api.engine_address()}: the "
            "session's copies of what the scenario binds are put in through it",
            hint="`replaybook doctor --fix` puts the base image on the engine",
        ) from None
    return str(made["Id"])


def remove_bind_volumes(project: str) -> None:
    """The bind volumes (and a helper left by a killed prepare) of a project, whose stack is down."""
    import docker.errors

    with docker_api.engine_errors():
        for container in docker_api.client().containers.list(
            all=True, filters={"label": [f"{docker_api.PROJECT_LABEL}={project}", docker_api.BIND_LABEL]}
        ):
            with suppress(docker.errors.NotFound):
                container.remove(force=True)
        for volume in docker_api.client().volumes.list(
            filters={"label": [f"{docker_api.PROJECT_LABEL}={project}", docker_api.BIND_LABEL]}
        ):
            with suppress(docker.errors.NotFound):
                volume.remove(force=True)
