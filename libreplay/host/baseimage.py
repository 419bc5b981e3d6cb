"""The Debian base image every official scenario builds on: ``debian:bookworm-slim``.

Real users have Docker Hub and simply pull it. Where no registry answers, the image is built
from the Debian archive: ``debootstrap --variant=minbase`` into a temporary root filesystem,
apt caches removed, and the tree streamed as a tar into ``docker import``. The temporary tree
is removed however the build ends (error, Ctrl-C, SIGTERM); anything debootstrap left mounted
inside it is unmounted first, so removal can never reach into /proc or /dev of the host.

The host tools (debootstrap, tar, umount) run through libreplay.core.proc; the image itself
is pulled, tagged and imported through the Docker SDK (libreplay.engine.images).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from libreplay.core import proc
from libreplay.core.errors import EnvironmentProblem, InvalidInput, ReplayError
from libreplay.core.signals import signals_raise
from libreplay.engine import images
from libreplay.engine.docker_api import BASE_IMAGE_LABEL
from libreplay.host.debian import DEFAULT_SUITE

BASE_IMAGE = "debian:bookworm-slim"
MIRROR = "http://deb.debian.org/debian"
PULL_TIMEOUT_SECONDS = 120
DEBOOTSTRAP_TIMEOUT_SECONDS = 1800
IMPORT_TIMEOUT_SECONDS = 600
UMOUNT_TIMEOUT_SECONDS = 60
SUITES = ("bookworm", "trixie", "bullseye")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BaseImageResult:
    tag: str
    how: str  # "present", "pulled" or "debootstrap"
    image_id: str


def default_tag(suite: str) -> str:
    return f"debian:{suite}-slim"


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
    existing = images.image_id(tag)
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
        images.pull(source, timeout=PULL_TIMEOUT_SECONDS)
    except ReplayError as failed:
        reason = (failed.message.strip().splitlines() or ["unknown error"])[-1]
        progress(f"pull failed ({reason}); building from the Debian archive instead")
        return None
    if tag != source:
        images.tag(source, tag)
    return images.image_id(tag)


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
    changes = ['CMD ["bash"]', f"LABEL {BASE_IMAGE_LABEL}=debootstrap"]
    shown = " ".join(f"--change {change}" for change in changes)
    progress(f"$ tar -C {rootfs} -c . | docker import {shown} - {tag}")
    tar = ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", "-", "."]
    try:
        with proc.reading(tar, timeout=IMPORT_TIMEOUT_SECONDS, on_stderr=_lines_to(progress)) as tarball:
            new_id = images.import_rootfs(tarball, tag, changes=changes, timeout=IMPORT_TIMEOUT_SECONDS)
    except proc.ProcessFailed as failed:
        raise ReplayError(f"docker import failed: tar failed ({failed.message})") from failed
    progress(f"imported {tag} ({new_id[:19]})")
    return new_id


def _run_streaming(argv: Sequence[str], progress: Progress, timeout: float) -> None:
    """Run ``argv`` with its output passed line by line to ``progress``; stop it on any exit."""
    progress("$ " + " ".join(argv))
    # A mirror that stops answering must not hang us: the time limit stops the whole tree.
    ran = proc.run(argv, timeout=timeout, on_stderr=_lines_to(progress), stream_stdout=True)
    if not ran.ok:
        raise ReplayError(f"{argv[0]} failed with exit status {ran.exit_code}", hint="its output is above")


def _lines_to(progress: Progress) -> Progress:
    """Progress for a tool's output lines, without the trailing blanks (a progress bar's CR)."""
    return lambda line: progress(line.rstrip())


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
            proc.run(["umount", "-l", str(point)], timeout=UMOUNT_TIMEOUT_SECONDS)
        except ReplayError as exc:
            progress(f"Warning: umount {point}: {exc.message}")  # the check below keeps the tree then
    if mounts_under(rootfs):
        progress(f"Warning: {rootfs} still has mounts; left in place rather than deleting through them")
        return
    shutil.rmtree(rootfs, ignore_errors=True)
