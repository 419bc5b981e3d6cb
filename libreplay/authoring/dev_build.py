"""What of a scenario's directory is baked into its running stack, so that ``replaybook dev``
can say when an edit needs the stack rebuilt (``r``) rather than the break run again (``b``).

A stack carries, from its directory, only what the build and the start took in: the compose
file, each built service's Dockerfile and the files it ``COPY``s or ``ADD``s, and the bind
sources (the session copies them when the stack is made). Scripts, fault files and meta.json
are read again by every break, solve and check, so they never need a rebuild.

:func:`build_inputs` fingerprints those files (path -> content digest); the dev loop takes one
when it builds the stack and another after each edit, and :func:`changed_inputs` names the
files that differ. Reading the files is cheap: a scenario directory is small, and no file is
read past :data:`MAX_READ_BYTES` nor opened unless it is a regular file inside the directory (a
``dockerfile: /dev/zero`` would otherwise make every validation read forever).

The fingerprint of what a stack was built from is taken of the scenario directory itself, just
before the build, and kept in the session directory (:func:`save_inputs`): the session's own
copy of the scenario is no measure of it, since its compose file is the session's model.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import shlex
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from libreplay.scenario.compose_file import read_compose_text
from libreplay.scenario.load import find_compose_file
from libreplay.scenario.model import is_inside
from libreplay.scenario.track import shares_a_track

MISSING = "missing"
MAX_FILES = 2000  # a COPY of a whole tree is followed this far: a scenario is small
DEFAULT_DOCKERFILE = "Dockerfile"
NOT_A_FILE = "not a regular file"
MAX_READ_BYTES = 64 * 1024 * 1024  # a file is fingerprinted this far (and by its size)
CHUNK_BYTES = 1024 * 1024
BUILT_INPUTS_FILE = ".built-inputs.json"  # in the session directory (a dot-file: no watcher reacts)


def build_inputs(directory: Path) -> dict[str, str]:
    """Every file of ``directory`` its stack is built and started from, by relative path, with a
    digest of its content (``missing`` for one that is named but not there); for a scenario in a
    track, the files it builds from the track's directory too (``../image/Dockerfile``)."""
    compose = find_compose_file(directory)
    if compose is None:
        return {}
    files = {compose}
    document = _compose_document(compose, directory)
    for service in _services(document):
        files |= _service_inputs(service, directory)
    return {_relative(path, directory): _digest(path) for path in sorted(files)[:MAX_FILES]}


def build_root(directory: Path) -> Path:
    """Where the scenario's images may be built from: its track's directory when it sits in one
    (docs/scenario-format.md, "Tracks"), else its own."""
    return shares_a_track(directory) or directory


def changed_inputs(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The paths whose content differs between two fingerprints (added and removed ones too)."""
    return sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))


def save_inputs(session_dir: Path, inputs: dict[str, str]) -> None:
    """Keep the fingerprint of what the session's stack was built from (written aside and
    renamed: a reader never sees half of it). One that cannot be written is no failure: the
    console then measures against the directory as it finds it."""
    target = session_dir / BUILT_INPUTS_FILE
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    try:
        partial.write_text(json.dumps(inputs, indent=1, sort_keys=True), encoding="utf-8")
        partial.replace(target)
    except OSError:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)


def saved_inputs(session_dir: Path) -> dict[str, str] | None:
    """The fingerprint :func:`save_inputs` kept; None when there is none or it is damaged."""
    text = _read_bounded(session_dir / BUILT_INPUTS_FILE)
    if text is None:
        return None
    try:
        found = json.loads(text)
    except ValueError:
        return None
    if not isinstance(found, dict) or not all(isinstance(v, str) for v in found.values()):
        return None
    return {str(key): value for key, value in found.items()}


def copied_sources(dockerfile: str) -> list[str]:
    """The sources of every ``COPY`` and ``ADD`` of a Dockerfile's text, as written (globs
    included): what the build takes from its context. A copy from another stage or image
    (``--from=``) and a URL take nothing from it."""
    sources: list[str] = []
    for instruction in _instructions(dockerfile):
        words = _words(instruction)
        if not words or words[0].upper() not in ("COPY", "ADD"):
            continue
        arguments = words[1:]
        if any(word.lower().startswith("--from") for word in arguments):
            continue
        paths = [word for word in arguments if not word.startswith("--")]
        sources += [p for p in paths[:-1] if "://" not in p and not p.startswith("git@")]
    return sources


# -- the compose file's build and binds --------------------------------------------------------


def _compose_document(compose: Path, directory: Path) -> dict[str, Any]:
    data = _read_bounded(compose)
    if data is None:
        return {}
    return read_compose_text(data.decode(errors="replace"), compose.name, directory).document or {}


def _services(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    services = document.get("services")
    if isinstance(services, dict):
        yield from (spec for spec in services.values() if isinstance(spec, dict))


def _service_inputs(service: dict[str, Any], directory: Path) -> set[Path]:
    found = {path for path in _bind_sources(service, directory) if is_inside(directory, path)}
    build = service.get("build")
    if isinstance(build, str):
        build = {"context": build}
    if not isinstance(build, dict):
        return found
    root = build_root(directory)
    context = (directory / str(build.get("context") or ".")).resolve()
    if not is_inside(root, context):
        return found
    dockerfile = context / str(build.get("dockerfile") or DEFAULT_DOCKERFILE)
    if not is_inside(root, dockerfile):  # an absolute or escaping path: not the scenario's
        return found
    found.add(dockerfile.resolve())
    data = _read_bounded(dockerfile)
    if data is None:
        return found
    for source in copied_sources(data.decode(errors="replace")):
        found |= {path for path in _matches(context, source) if is_inside(root, path)}
    return found


def _bind_sources(service: dict[str, Any], directory: Path) -> Iterator[Path]:
    volumes = service.get("volumes")
    for entry in volumes if isinstance(volumes, list) else []:
        if isinstance(entry, str):
            source = entry.split(":", 1)[0]
        elif isinstance(entry, dict) and entry.get("type") == "bind":
            source = str(entry.get("source") or "")
        else:
            continue
        if source.startswith((".", "/")):  # a path; anything else names a volume
            yield from _files_under((directory / source).resolve())


def _matches(context: Path, source: str) -> Iterator[Path]:
    relative = source.lstrip("/") or "."
    matched = context.glob(relative) if glob.has_magic(relative) else [context / relative]
    for path in matched:
        yield from _files_under(path.resolve())


def _files_under(path: Path) -> Iterator[Path]:
    """``path`` itself when it is not a directory (missing ones too: they show as ``missing``),
    else every file below it (dot-directories such as ``.git`` left out)."""
    if not path.is_dir():
        yield path
        return
    count = 0
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            count += 1
            if count > MAX_FILES:
                return
            yield Path(root) / name


def _digest(path: Path) -> str:
    """The content's digest; a link is known by its target's name (a build copies the link), and
    anything else that is not a regular file (a device, a FIFO, a directory) is never opened."""
    try:
        found = path.lstat()
    except (OSError, ValueError):
        return MISSING
    if stat.S_ISLNK(found.st_mode):
        try:
            return "link " + hashlib.sha256(os.fsencode(path.readlink())).hexdigest()
        except OSError:
            return MISSING
    if not stat.S_ISREG(found.st_mode):
        return NOT_A_FILE
    digest = hashlib.sha256(str(found.st_size).encode() + b"\0")
    return digest.hexdigest() if _stream(path, digest.update) else MISSING


def _read_bounded(path: Path) -> bytes | None:
    """A regular file's first :data:`MAX_READ_BYTES` (links followed, as for any file the build
    reads); None for a missing file or anything else."""
    chunks: list[bytes] = []
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return None
    except (OSError, ValueError):
        return None
    return b"".join(chunks) if _stream(path, chunks.append) else None


def _stream(path: Path, take: Callable[[bytes], object]) -> bool:
    """Hand ``path``'s first :data:`MAX_READ_BYTES` to ``take``; False when it cannot be read.
    Opened without blocking and checked again once open: what was a regular file at the check
    may have been swapped for a FIFO or a device since."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except (OSError, ValueError):
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        left = MAX_READ_BYTES
        while left > 0:
            chunk = os.read(fd, min(CHUNK_BYTES, left))
            if not chunk:
                break
            take(chunk)
            left -= len(chunk)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _relative(path: Path, directory: Path) -> str:
    try:
        return str(path.relative_to(directory.resolve()))
    except ValueError:
        pass
    try:  # from the track's directory: named as the compose file does, from the scenario's
        return str(Path("..") / path.relative_to(directory.resolve().parent))
    except ValueError:
        return str(path)


# -- Dockerfile text ---------------------------------------------------------------------------


def _instructions(text: str) -> Iterator[str]:
    """Each instruction on one line: comments dropped, ``\\`` continuations joined."""
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield pending + line
        pending = ""
    if pending:
        yield pending


def _words(instruction: str) -> list[str]:
    """An instruction's words, in its shell form (``COPY a b /dst``) or its JSON form
    (``COPY ["a", "/dst"]``)."""
    keyword, _, rest = instruction.partition(" ")
    rest = rest.strip()
    if rest.startswith("["):
        try:
            listed = json.loads(rest)
        except ValueError:
            listed = None
        if isinstance(listed, list) and all(isinstance(word, str) for word in listed):
            return [keyword, *listed]
    try:
        return [keyword, *shlex.split(rest)]
    except ValueError:
        return [keyword, *rest.split()]
