"""``replaybook new-pack DIR``: a new scenario pack, a git repository with its first commit.

The pack is written into a temporary directory beside DIR, committed there and renamed into
place, so a failure at any step leaves nothing behind: not DIR, not a half-written file, not
the parents this call made. DIR may not exist yet (its missing parents are made, as
``git init`` and ``mkdir -p`` do) or may be an empty directory; anything else is refused.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from libreplay.authoring import template_files
from libreplay.core.errors import EnvironmentProblem, InvalidInput, ReplayError

# (file under templates/pack/, its path in the pack): dot-files are stored without their dot.
PACK_FILES: tuple[tuple[str, str], ...] = (
    ("Makefile", "Makefile"),
    ("README.md", "README.md"),
    ("gitignore", ".gitignore"),
    ("github-workflow.yml", ".github/workflows/replaybook.yml"),
    ("gitlab-ci.yml", ".gitlab-ci.yml"),
)
# Used for the first commit only when no git identity is configured; the user's git
# configuration is never written.
FALLBACK_AUTHOR = ("replaybook new-pack", "new-pack@replaybook.invalid")
FIRST_COMMIT_MESSAGE = "New replaybook pack: Makefile, README, CI for GitHub and GitLab"
BRANCH = "main"


@dataclass(frozen=True)
class NewPack:
    directory: Path
    commit: str
    files: tuple[str, ...]
    fallback_author: bool  # no git identity was configured: the first commit is FALLBACK_AUTHOR's


def create_pack(directory: Path) -> NewPack:
    """Make ``directory`` a pack; raise InvalidInput (exit 3) for a DIR that cannot be one."""
    target = directory.expanduser().absolute()
    if ".." in target.parts:
        target = target.resolve()
    _refuse_unusable(target)
    made_parents = _make_parents(target.parent)
    staging: Path | None = None
    try:
        with template_files.writing(target, "the pack"):
            staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
            staging.chmod(_directory_mode())  # mkdtemp's 0700 is for the staging, not the pack
            for template_name, pack_path in PACK_FILES:
                template_files.write_file(
                    template_files.template_root() / "pack" / template_name,
                    staging / pack_path,
                    {"pack": target.name, "pip_spec": installed_pip_spec()},
                )
            commit, fallback = _first_commit(staging)
            _move_into_place(staging, target)
            staging = None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
            _remove_parents(made_parents)
    return NewPack(target, commit, tuple(path for _, path in PACK_FILES), fallback)


# What a pip requirement written into a CI file may contain: nothing that could end its quotes.
PIP_SPEC_CHARACTERS = re.compile(r"^[A-Za-z0-9._:/@+=#~%-]+$")


def installed_pip_spec() -> str:
    """The pip requirement another machine can install this replaybook from, or "" when there
    is none: a release from an index is ``replaybook==<version>``, an install from a git URL is
    that URL at its commit, a wheel's URL is itself; a local checkout or file is no use to CI."""
    from importlib import metadata

    try:
        distribution = metadata.distribution("replaybook")
    except metadata.PackageNotFoundError:
        return ""
    origin = distribution.read_text("direct_url.json")
    spec = f"replaybook=={distribution.version}" if origin is None else _spec_from_direct_url(origin)
    return spec if PIP_SPEC_CHARACTERS.match(spec) else ""


def _spec_from_direct_url(text: str) -> str:
    """PEP 610's record of where pip installed from, as a requirement (or "" for a local one)."""
    try:
        origin = json.loads(text)
        url = str(origin["url"])
    except (ValueError, KeyError, TypeError):
        return ""
    if url.startswith("file:"):
        return ""
    vcs = origin.get("vcs_info")
    if isinstance(vcs, dict) and vcs.get("vcs") == "git" and vcs.get("commit_id"):
        return f"git+{url}@{vcs['commit_id']}"
    return url if "archive_info" in origin else ""


def _move_into_place(staging: Path, target: Path) -> None:
    """A new DIR is the staging directory renamed; an existing empty DIR is kept (it may be the
    author's working directory) and receives the staged entries, all of them or none."""
    if not target.exists():
        staging.rename(target)
        return
    moved: list[Path] = []
    try:
        for entry in sorted(staging.iterdir()):
            entry.rename(target / entry.name)
            moved.append(target / entry.name)
    except OSError:
        for path in moved:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        raise
    staging.rmdir()


def _directory_mode() -> int:
    """What mkdir would give a new directory under the current umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o777 & ~umask


def _refuse_unusable(target: Path) -> None:
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise InvalidInput(
            f"{target} is a file: new-pack makes a directory",
            hint="name a directory that does not exist yet, or an empty one",
        )
    if target.is_dir() and any(target.iterdir()):
        count = sum(1 for _ in target.iterdir())
        raise InvalidInput(
            f"{target} is not empty ({count} entries): new-pack starts a pack in a new or empty directory",
            hint="name a new directory; to add a scenario to an existing pack: replaybook new ID --pack DIR",
        )
    blocking = next((p for p in target.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise InvalidInput(f"{blocking} is a file: {target} cannot be made below it")


def _make_parents(parent: Path) -> list[Path]:
    """Make the missing parents of the pack, returning the ones made (deepest last)."""
    missing = [p for p in (parent, *parent.parents) if not p.exists()]
    made: list[Path] = []
    try:
        with template_files.writing(parent, "the pack"):
            for path in reversed(missing):
                path.mkdir()
                made.append(path)
    except ReplayError:
        _remove_parents(made)
        raise
    return made


def _remove_parents(made: list[Path]) -> None:
    for path in reversed(made):
        try:
            path.rmdir()
        except OSError:
            return  # someone else put something there meanwhile: theirs now


def _first_commit(work_tree: Path) -> tuple[str, bool]:
    """git init on ``main`` and commit every file; the hexsha and whether the fallback author was used."""
    try:
        import git
    except ImportError as exc:  # GitPython refuses to import without a git executable
        raise EnvironmentProblem("git is not installed", hint="replaybook doctor --fix") from exc
    try:
        repo = git.Repo.init(work_tree, initial_branch=BRANCH)
        try:
            repo.index.add([path for _, path in PACK_FILES])
            fallback = not _has_identity(repo)
            actor = git.Actor(*FALLBACK_AUTHOR) if fallback else None
            commit = repo.index.commit(FIRST_COMMIT_MESSAGE, author=actor, committer=actor)
            return commit.hexsha, fallback
        finally:
            repo.close()
    except git.GitCommandError as exc:
        raise EnvironmentProblem(f"git could not make the pack's first commit: {_git_message(exc)}") from exc


def _has_identity(repo: Any) -> bool:
    """What ``git commit`` itself would need: a name and an email, from the environment or config."""
    reader = repo.config_reader()
    name = os.environ.get("GIT_AUTHOR_NAME") or reader.get_value("user", "name", "")
    email = os.environ.get("GIT_AUTHOR_EMAIL") or reader.get_value("user", "email", "")
    return bool(str(name).strip() and str(email).strip())


def _git_message(exc: Exception) -> str:
    lines = [line.strip() for line in str(getattr(exc, "stderr", "") or exc).splitlines()]
    return next((line for line in reversed(lines) if line), str(exc))
