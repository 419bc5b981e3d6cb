"""The files ``new-pack`` and ``new`` write: read from the package's ``templates/`` directory.

``templates/pack/`` holds a pack's files, ``templates/scenario/<stack>/`` one scenario per
stack. Setuptools' package-data globs skip dot-files, so files whose real name starts with a
dot are stored without it and renamed when written (``PACK_FILES``). A ``{{name}}`` in a
README or a CI file is replaced by its value; nothing else is templated, so shell scripts,
Makefiles and JSON are stored exactly as they are written.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path

from libreplay.core import paths
from libreplay.core.errors import InvalidInput, NotFound
from libreplay.core.signals import signals_raise
from libreplay.core.store import disk_errors

# Files whose placeholders are filled in; every other file is copied byte for byte.
RENDERED = frozenset({"README.md", "github-workflow.yml", "gitlab-ci.yml"})
# The official pack's copies of the supervisor loop are kept identical within each generation;
# new scenarios take the documented one (with -e ENV_FILE) from this scenario, not a copy of ours.
SUPERVISE_FROM = "001-nginx-502"
EXECUTABLE_MODE = 0o755
PLAIN_MODE = 0o644


def template_root() -> Path:
    return Path(str(files("libreplay.authoring") / "templates"))


def supervise_source() -> Path:
    source = paths.official_pack_dir() / SUPERVISE_FROM / "supervise"
    if not source.is_file():
        raise NotFound(f"{source}: the official pack's supervise loop is missing (a broken install?)")
    return source


def render(text: str, values: Mapping[str, str]) -> str:
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    return text


def template_files(root: Path) -> Iterator[Path]:
    """Every file under ``root``, relative to it, in a stable order."""
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            yield path.relative_to(root)


def write_file(source: Path, target: Path, values: Mapping[str, str]) -> None:
    """Copy ``source`` to ``target`` (parents made), its placeholders filled if it is rendered;
    scripts get the executable bit whatever the install kept of it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.name in RENDERED:
        target.write_text(render(source.read_text(encoding="utf-8"), values), encoding="utf-8")
    else:
        shutil.copyfile(source, target)
    executable = target.suffix == ".sh" or target.name == "supervise"
    target.chmod(EXECUTABLE_MODE if executable else PLAIN_MODE)


@contextmanager
def writing(target: Path, what: str) -> Iterator[None]:
    """What goes wrong while writing ``target`` as a typed error naming it: a full disk is the
    machine's problem (exit 5, from disk_errors), anything else (no permission, a read-only file
    system) asks for another place (exit 3). SIGTERM or SIGHUP meanwhile raise Interrupted, so
    the staging directory is removed as after any failure."""
    try:
        with signals_raise(), disk_errors(target):  # a stop signal still runs the callers' clean-up
            yield
    except OSError as exc:
        raise InvalidInput(
            f"{target}: cannot write {what} there: {exc.strerror or exc}",
            hint="choose a directory you can write to",
        ) from None
