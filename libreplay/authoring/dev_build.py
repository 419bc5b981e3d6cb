"""What of a scenario's directory is baked into its running stack, so that ``replaybook dev``
can say when an edit needs the stack rebuilt (``r``) rather than the break run again (``b``).

A stack carries, from its directory, only what the build and the start took in: the compose
file, each built service's Dockerfile and the files it ``COPY``s or ``ADD``s, and the bind
sources (the session copies them when the stack is made). Scripts, fault files and meta.json
are read again by every break, solve and check, so they never need a rebuild.

:func:`build_inputs` fingerprints those files (path -> content digest); the dev loop takes one
when it builds the stack and another after each edit, and :func:`changed_inputs` names the
files that differ. Reading the files is cheap: a scenario directory is small.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from libreplay.scenario.compose_file import read_compose_text
from libreplay.scenario.load import find_compose_file
from libreplay.scenario.model import is_inside

MISSING = "missing"
MAX_FILES = 2000  # a COPY of a whole tree is followed this far: a scenario is small
DEFAULT_DOCKERFILE = "Dockerfile"


def build_inputs(directory: Path) -> dict[str, str]:
    """Every file of ``directory`` its stack is built and started from, by relative path, with a
    digest of its content (``missing`` for one that is named but not there)."""
    compose = find_compose_file(directory)
    if compose is None:
        return {}
    files = {compose}
    document = _compose_document(compose, directory)
    for service in _services(document):
        files |= _service_inputs(service, directory)
    return {_relative(path, directory): _digest(path) for path in sorted(files)[:MAX_FILES]}


def changed_inputs(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The paths whose content differs between two fingerprints (added and removed ones too)."""
    return sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))


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
    try:
        text = compose.read_text(errors="replace")
    except OSError:
        return {}
    return read_compose_text(text, compose.name, directory).document or {}


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
    context = (directory / str(build.get("context") or ".")).resolve()
    if not is_inside(directory, context):
        return found
    dockerfile = context / str(build.get("dockerfile") or DEFAULT_DOCKERFILE)
    found.add(dockerfile)
    try:
        text = dockerfile.read_text(errors="replace")
    except OSError:
        return found
    for source in copied_sources(text):
        found |= {path for path in _matches(context, source) if is_inside(directory, path)}
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
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return MISSING


def _relative(path: Path, directory: Path) -> str:
    try:
        return str(path.relative_to(directory.resolve()))
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
