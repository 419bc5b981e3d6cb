"""The Debian base image every official scenario builds on: ``debian:bookworm-slim``.

Real users have Docker Hub and simply pull it. Where no registry answers, the image is built
from the Debian archive: ``debootstrap --variant=minbase`` into a temporary root filesystem,
apt caches removed, and the tree streamed as a tar into ``docker import``. The temporary tree
is removed however the build ends (error, Ctrl-C, SIGTERM); anything debootstrap left mounted
inside it is unmounted first, so removal can never reach into /proc or /dev of the host.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from libreplay.core.errors import EnvironmentProblem, InvalidInput, ReplayError
from libreplay.core.proc import stop_process
from libreplay.core.signals import signals_raise

BASE_IMAGE = "debian:bookworm-slim"
DEFAULT_SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
LABEL = "org.replaybook.base"
PULL_TIMEOUT_SECONDS = 120
DEBOOTSTRAP_TIMEOUT_SECONDS = 1800
IMPORT_TIMEOUT_SECONDS = 600
TAG_TIMEOUT_SECONDS = 60
SUITES = ("bookworm", "trixie", "bullseye")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BaseImageResult:
    tag: str
    how: str  # "present", "pulled" or "debootstrap"
    image_id: str


def default_tag(suite: str) -> str:
    return f"debian:{suite}-slim"


def image_id(tag: str) -> str | None:
    """The id of the local image ``tag``, or None when the engine has no such image."""
    import docker.errors

    from libreplay.engine.docker_api import client, engine_errors

    try:
        with engine_errors():
            return str(client().images.get(tag).id)
    except docker.errors.ImageNotFound:
        return None


def ensure_base_image(
    *,
    tag: str | None = None,
    suite: str = DEFAULT_SUITE,
    force: bool = False,
    pull: bool = True,
    progress: Progress = lambda _line: None,
) -> BaseImageResult:
    """Make sure ``tag`` (default ``debian:<suite>-slim``) exists: present, pulled or built.

    ``force`` obtains it again even when present; ``pull=False`` goes straight to debootstrap.
    """
    if suite not in SUITES:
        raise InvalidInput(f"--suite: {suite!r} is not a Debian suite replaybook knows ({', '.join(SUITES)})")
    tag = tag or default_tag(suite)
    existing = image_id(tag)
    if existing and not force:
        return BaseImageResult(tag, "present", existing)
    if pull:
        pulled = _try_pull(default_tag(suite), tag, progress)
        if pulled:
            return BaseImageResult(tag, "pulled", pulled)
    return build_with_debootstrap(tag=tag, suite=suite, progress=progress)


def _try_pull(source: str, tag: str, progress: Progress) -> str | None:
    progress(f"$ docker pull {source}")
    try:
        result = subprocess.run(["docker", "pull", source], capture_output=True, text=True,
                                timeout=PULL_TIMEOUT_SECONDS, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        progress(f"pull failed ({exc}); building from the Debian archive instead")
        return None
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["unknown error"])[-1]
        progress(f"pull failed ({reason}); building from the Debian archive instead")
        return None
    if tag != source:
        _docker_tag(source, tag)
    return image_id(tag)


def _docker_tag(source: str, tag: str) -> None:
    argv = ["docker", "tag", source, tag]
    command = " ".join(argv)
    try:
        result = subprocess.run(argv, capture_output=True, text=True,
                                timeout=TAG_TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired as exc:
        raise EnvironmentProblem(f"`{command}` did not finish within {TAG_TIMEOUT_SECONDS} s",
                                 hint="replaybook doctor") from exc
    except OSError as exc:
        raise EnvironmentProblem(f"`{command}` could not run: {exc}", hint="replaybook doctor") from exc
    if result.returncode != 0:
        reason = result.stderr.strip() or f"exit status {result.returncode}"
        raise EnvironmentProblem(f"`{command}` failed: {reason}", hint="replaybook doctor")


def replaybook_program() -> str:
    """Our executable by absolute path when it sits beside this Python (sudo resets PATH, and
    ``make setup`` runs the venv's), else the bare name."""
    executable = Path(sys.executable).with_name("replaybook")
    return str(executable) if executable.exists() else "replaybook"


def sudo_hint(arguments: str = "base-image") -> str:
    """The command a non-root user runs instead."""
    return f"sudo {replaybook_program()} {arguments}"


def build_with_debootstrap(*, tag: str, suite: str = DEFAULT_SUITE, progress: Progress) -> BaseImageResult:
    if os.geteuid() != 0:
        raise EnvironmentProblem(
            "building the base image with debootstrap needs root (it creates device nodes and "
            "files owned by other users)",
            hint=f"run: {sudo_hint(f'base-image --suite {suite}')}",
        )
    if shutil.which("debootstrap") is None:
        raise EnvironmentProblem("debootstrap is not installed",
                                 hint="apt-get update && apt-get install -y debootstrap")
    if shutil.which("docker") is None:
        raise EnvironmentProblem("the docker command is not installed", hint="replaybook doctor")
    # debootstrap needs a file system that allows device nodes and executables: not a tmpfs /tmp.
    parent = "/var/tmp" if Path("/var/tmp").is_dir() else None
    rootfs = Path(tempfile.mkdtemp(prefix="replaybook-rootfs-", dir=parent))
    try:
        with signals_raise():
            _run_streaming(["debootstrap", "--variant=minbase", suite, str(rootfs), MIRROR],
                           progress, DEBOOTSTRAP_TIMEOUT_SECONDS)
            _clean_apt(rootfs)
            new_id = _import(rootfs, tag, progress)
    finally:
        remove_rootfs(rootfs, progress)
    return BaseImageResult(tag, "debootstrap", new_id)


def _clean_apt(rootfs: Path) -> None:
    """What the official slim images drop: downloaded packages and package lists."""
    for pattern in ("var/cache/apt/archives/*.deb", "var/cache/apt/*.bin", "var/lib/apt/lists/*"):
        for path in rootfs.glob(pattern):
            if path.is_file() and path.name != "lock":
                path.unlink()
    for directory in ("var/cache/apt/archives/partial", "var/lib/apt/lists/partial"):
        (rootfs / directory).mkdir(parents=True, exist_ok=True)


def _import(rootfs: Path, tag: str, progress: Progress) -> str:
    changes = ["--change", 'CMD ["bash"]', "--change", f"LABEL {LABEL}=debootstrap"]
    progress(f"$ tar -C {rootfs} -c . | docker import {' '.join(changes)} - {tag}")
    try:
        tar = subprocess.Popen(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", "-", "."],
                               stdout=subprocess.PIPE)
    except OSError as exc:
        raise EnvironmentProblem(f"tar could not run: {exc}") from exc
    try:
        result = subprocess.run(["docker", "import", *changes, "-", tag], stdin=tar.stdout,
                                capture_output=True, text=True, timeout=IMPORT_TIMEOUT_SECONDS,
                                check=False)
    except subprocess.TimeoutExpired as exc:
        # run() has killed docker import; the engine may still be writing layers, so say so.
        stderr = _text(exc.stderr).strip()
        raise ReplayError(f"docker import did not finish within {IMPORT_TIMEOUT_SECONDS} s"
                          + (f": {stderr}" if stderr else ""),
                          hint=f"check the engine (replaybook doctor); a half-imported {tag} may need "
                               "`docker image rm` before trying again") from exc
    except OSError as exc:
        raise EnvironmentProblem(f"docker import could not run: {exc}", hint="replaybook doctor") from exc
    finally:
        if tar.stdout:
            tar.stdout.close()
        _stop(tar)
    if result.returncode != 0 or tar.returncode not in (0, None):
        raise ReplayError(f"docker import failed: {result.stderr.strip() or 'tar failed'}")
    progress(f"imported {tag} ({result.stdout.strip()[:19]})")
    return result.stdout.strip()


def _run_streaming(argv: Sequence[str], progress: Progress, timeout: float) -> None:
    """Run ``argv`` with its output passed line by line to ``progress``; stop it on any exit."""
    progress("$ " + " ".join(argv))
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             errors="replace")
    # A mirror that stops answering must not hang us: the timer ends the child, which ends the loop.
    timer = threading.Timer(timeout, child.kill)
    timer.start()
    try:
        assert child.stdout is not None
        for line in child.stdout:
            progress(line.rstrip())
        child.wait()
    finally:
        timer.cancel()
        _stop(child)
    if child.returncode != 0:
        raise ReplayError(f"{argv[0]} failed with exit status {child.returncode}",
                          hint="its output is above")


def _stop(child: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    """Wait for a child we are abandoning (Ctrl-C): it must not write into a tree being removed."""
    stop_process(child, grace=10)


def mounts_under(root: Path) -> list[Path]:
    resolved = root.resolve()
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) > 1:
            point = Path(fields[1].replace("\\040", " "))
            if point == resolved or resolved in point.parents:
                found.append(point)
    return found


def remove_rootfs(rootfs: Path, progress: Progress) -> None:
    """Unmount whatever debootstrap left mounted inside (deepest first), then delete the tree."""
    for point in sorted(mounts_under(rootfs), key=lambda p: len(p.parts), reverse=True):
        try:
            subprocess.run(["umount", "-l", str(point)], capture_output=True, check=False, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            progress(f"Warning: umount {point}: {exc}")  # the check below keeps the tree then
    if mounts_under(rootfs):
        progress(f"Warning: {rootfs} still has mounts; left in place rather than deleting through them")
        return
    shutil.rmtree(rootfs, ignore_errors=True)


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""
