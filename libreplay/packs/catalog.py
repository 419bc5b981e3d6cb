"""Scenario packs: the official one shipped with replaybook, and git repositories added by users.

An added pack is a git clone under ``data/packs/<dir>`` with its record ``data/packs/<dir>.toml``
(source, name, ref). The directory name carries a hash of the source, so two sources never
share one; the display name (``owner/repo``) is what users type in ``pack/id``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from libreplay.core import paths
from libreplay.core.errors import Ambiguous, EnvironmentProblem, NotFound, PackError, ScenarioInvalid
from libreplay.packs import listing

if TYPE_CHECKING:
    from libreplay.scenario.model import Scenario

# libreplay.scenario.load (jsonschema, PyYAML) is imported where a scenario is validated: a
# list answered from its cache (libreplay.packs.listing) never loads it. libreplay.core.store
# (tomllib, tempfile) is imported where a record is read or written: a list of the official
# pack alone reads none.

OFFICIAL = "official"
# The pack name of a scenario named by a directory outside every installed pack; never given to
# an added pack, so that no pack can pass for the user's own files.
LOCAL = "local"
GITHUB_SHORTHAND = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
URL_LIKE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)")
GIT_TIMEOUT_SECONDS = 300
# What git says when the remote cannot be reached at all: the machine's problem, not the source's.
UNREACHABLE_SIGNS = (
    "could not resolve host", "failed to connect", "couldn't connect", "connection refused",
    "connection timed out", "network is unreachable", "no route to host", "operation timed out",
    "did not complete in", "ssl connect error",
)


@dataclass(frozen=True)
class Pack:
    name: str
    directory: Path
    source: str
    ref: str | None = None
    commit: str | None = None

    @property
    def official(self) -> bool:
        return self.name == OFFICIAL


@dataclass
class PackScan:
    """The scenarios of a pack, and the directories that failed validation."""

    pack: Pack
    scenarios: list[Scenario] = field(default_factory=list)
    invalid: list[ScenarioInvalid] = field(default_factory=list)


# -- listing -------------------------------------------------------------------------------


def official_pack() -> Pack:
    return Pack(OFFICIAL, paths.official_pack_dir(), source="(shipped with replaybook)")


def installed_packs() -> list[Pack]:
    """The official pack first, then added packs by name."""
    packs = [official_pack()]
    root = paths.packs_dir()
    if root.is_dir():
        records = sorted(root.glob("*.toml"))
        added = [_pack_from_record(record) for record in records]
        packs.extend(sorted((p for p in added if p.directory.is_dir()), key=lambda p: p.name))
    return packs


def get_pack(name: str) -> Pack:
    for pack in installed_packs():
        if pack.name == name:
            return pack
    known = ", ".join(p.name for p in installed_packs())
    raise NotFound(f"no pack named {name!r} (packs: {known})")


def scenario_dirs(root: Path, *, known: Callable[[str], bool] | None = None) -> Iterator[Path]:
    """Scenario directories of a pack: the root itself, its children and grandchildren.

    ``known`` may vouch for a directory (given as text) being a scenario's before meta.json is
    looked for: the list cache, for a directory whose stamps are unchanged."""
    return (Path(found) for found in scenario_paths(os.fspath(root), known=known))


def scenario_paths(root: str, *, known: Callable[[str], bool] | None = None) -> Iterator[str]:
    """:func:`scenario_dirs` as text: what a list of thousands of scenarios walks (a Path for
    each directory looked at would cost that list a tenth of its time)."""
    if not os.path.isdir(root):  # noqa: PTH112 - text paths, see above
        return

    def is_scenario(directory: str) -> bool:
        return (known is not None and known(directory)) or _is_scenario_dir(directory)

    if is_scenario(root):
        yield root
        return
    for child in _subdirectories(root):
        if is_scenario(child):
            yield child
            continue
        yield from (grandchild for grandchild in _subdirectories(child) if is_scenario(grandchild))


def _subdirectories(directory: str) -> list[str]:
    """Directories (links to one too) not hidden, by name. os.scandir, not Path.iterdir: the
    kind of each entry comes with the listing."""
    try:
        with os.scandir(directory) as entries:
            names = sorted(entry.name for entry in entries
                           if not entry.name.startswith(".") and entry.is_dir())
    except OSError:
        return []
    return [f"{directory}/{name}" for name in names]


def _is_scenario_dir(directory: str) -> bool:
    return os.path.isfile(f"{directory}/meta.json")  # noqa: PTH113 - text paths, see scenario_paths


def scan_pack(pack: Pack) -> PackScan:
    from libreplay.scenario.load import load_scenario

    scan = PackScan(pack)
    for directory in scenario_dirs(pack.directory):
        try:
            scan.scenarios.append(load_scenario(directory, pack=pack.name))
        except ScenarioInvalid as exc:
            scan.invalid.append(exc)
    return scan


def scan_all() -> list[PackScan]:
    return [scan_pack(pack) for pack in installed_packs()]


# -- naming a scenario ---------------------------------------------------------------------


def pack_of_path(directory: Path) -> str:
    """The installed pack a scenario directory belongs to, else ``local``."""
    pack = pack_containing(directory)
    return pack.name if pack is not None else LOCAL


def pack_containing(directory: Path) -> Pack | None:
    """The installed pack whose clone holds ``directory``, if any."""
    resolved = directory.expanduser().resolve()
    for pack in installed_packs():
        if resolved.is_relative_to(pack.directory.resolve()):
            return pack
    return None


def resolve_scenario(name: str) -> Scenario:
    """A scenario by id, ``pack/id`` or path. An id found in two packs is an error naming both."""
    from libreplay.scenario.load import is_scenario_dir, load_scenario

    path = Path(name).expanduser()
    if _looks_like_path(name):
        if not path.is_dir():
            raise NotFound(f"{name}: no such scenario directory")
        return load_scenario(path, pack=pack_of_path(path))  # a directory without meta.json says so
    if os.sep in name and is_scenario_dir(path):
        return load_scenario(path, pack=pack_of_path(path))
    pack_name, _, scenario_id = name.rpartition("/")
    scans = [scan_pack(get_pack(pack_name))] if pack_name else scan_all()
    matches = [s for scan in scans for s in scan.scenarios if s.id == scenario_id]
    broken = [e for scan in scans for e in scan.invalid if Path(e.scenario_dir).name == scenario_id]
    if len(matches) > 1:
        where = " and ".join(s.ref for s in matches)
        raise Ambiguous(f"scenario id {scenario_id!r} is in more than one pack: {where}",
                        hint=f"name it as pack/id, e.g. {matches[0].ref}")
    if matches:
        return matches[0]
    if broken:
        raise broken[0]
    known = sorted(s.id for scan in scans for s in scan.scenarios)
    import difflib

    close = difflib.get_close_matches(scenario_id, known, n=3)
    hint = f"did you mean {', '.join(close)}?" if close else "replay-list shows every scenario"
    raise NotFound(f"no scenario named {name!r}", hint=hint)


def scenario_dirs_named(target: str | None) -> list[tuple[Path, str]]:
    """The scenario directories ``target`` names, each with its pack's name, not yet loaded (the
    caller reports each invalid one): a directory's (a pack's clone, a folder of scenarios, one
    scenario), else an installed pack's by name, else (None) every installed pack's."""
    if target is not None and Path(target).expanduser().is_dir():
        directory = Path(target).expanduser()
        pack_name = pack_of_path(directory)
        return [(found, pack_name) for found in scenario_dirs(directory)]
    chosen = [get_pack(target)] if target else installed_packs()
    return [(found, pack.name) for pack in chosen for found in scenario_dirs(pack.directory)]


def _looks_like_path(name: str) -> bool:
    return name.startswith(("./", "../", "/", "~")) or name in (".", "..")


# -- adding and removing -------------------------------------------------------------------


@dataclass(frozen=True)
class SourceSpec:
    """Where a pack comes from, and the name it is shown under."""

    url: str
    name: str


def parse_source(source: str) -> SourceSpec:
    """``owner/repo`` (GitHub), a git URL (``https://…``, ``file://…``, ``git@host:path``) or a path."""
    if not source.strip():
        raise PackError("no source given: a local git repository, a git URL or a GitHub owner/repo")
    local = Path(source).expanduser()
    if local.exists():
        if not _is_git_repository(local):
            raise PackError(f"{source}: not a git repository (a pack is a git repository)")
        return SourceSpec(str(local.resolve()), local.resolve().name.removesuffix(".git"))
    if _looks_like_path(source):
        raise PackError(f"{source}: no such directory")
    if URL_LIKE.match(source):
        trail = re.split(r"[/:]", source.rstrip("/").removesuffix(".git"))
        name = "/".join(part for part in trail[-2:] if part)
        return SourceSpec(source, name)
    if GITHUB_SHORTHAND.match(source):
        return SourceSpec(f"https://github.com/{source}.git", source)
    raise PackError(
        f"{source}: not a local git repository, a git URL or a GitHub owner/repo",
    )


def _is_git_repository(path: Path) -> bool:
    """A work tree (``.git`` inside) or a bare repository (``HEAD`` and ``objects`` at the top)."""
    return (path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir())


def find_added_pack(source: str) -> Pack | None:
    """The pack added before from ``source``, if any: a second add of it is an update."""
    return _find_by_url(parse_source(source).url)


def add_pack(source: str, *, ref: str | None = None) -> Pack:
    """Clone ``source`` (or update it if it was added before), optionally pinned to ``ref``."""
    spec = parse_source(source)
    existing = _find_by_url(spec.url)
    if existing is not None:
        return _update(existing, ref)
    directory = paths.packs_dir() / _dir_name(spec)
    name = _unique_name(spec.name)
    commit = _clone_into(spec.url, directory, ref)
    pack = Pack(name, directory, spec.url, ref, commit)
    listing.forget(pack)  # a directory added again: no answer of its last life stands
    _write_record(pack)
    return pack


def remove_pack(name: str) -> Pack:
    if name == OFFICIAL:
        raise PackError("the official pack ships with replaybook and cannot be removed")
    pack = get_pack(name)
    listing.forget(pack)
    shutil.rmtree(pack.directory, ignore_errors=True)
    _record_path(pack.directory).unlink(missing_ok=True)
    return pack


def _clone_into(url: str, directory: Path, ref: str | None) -> str:
    """Clone to a temporary directory beside the target and move it in: a failure leaves nothing."""
    _require_git()
    import tempfile

    import git

    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".clone-", dir=directory.parent))
    try:
        repo = git.Repo.clone_from(url, tmp, env=_git_env(), kill_after_timeout=GIT_TIMEOUT_SECONDS)
        if ref:
            repo.git.checkout(ref)
        commit = repo.head.commit.hexsha
        repo.close()
        if directory.exists():
            # Left by an add that died between clone and record (its record is missing, or
            # _find_by_url would have found it): ours to replace.
            shutil.rmtree(directory)
        tmp.rename(directory)
        return commit
    except git.GitCommandError as exc:
        raise _clone_error(f"could not clone {url}", exc) from exc
    except git.GitCommandNotFound as exc:
        raise _git_missing() from exc
    except ValueError as exc:  # a ref that names nothing
        raise PackError(f"could not clone {url}: {exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _update(pack: Pack, ref: str | None) -> Pack:
    _require_git()
    import git

    pin = ref if ref is not None else pack.ref
    try:
        repo = git.Repo(pack.directory)
        repo.git.fetch("--tags", "origin", env=_git_env(), kill_after_timeout=GIT_TIMEOUT_SECONDS)
        if pin:
            repo.git.checkout(pin)
            if not repo.head.is_detached:
                repo.git.merge("--ff-only", f"origin/{pin}")
        else:
            default = repo.git.symbolic_ref("refs/remotes/origin/HEAD").removeprefix("refs/remotes/")
            repo.git.checkout(default.removeprefix("origin/"))
            repo.git.merge("--ff-only", default)
        commit = repo.head.commit.hexsha
        repo.close()
    except git.GitCommandError as exc:
        raise _clone_error(f"could not update pack {pack.name}", exc) from exc
    except git.GitCommandNotFound as exc:
        raise _git_missing() from exc
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise PackError(f"pack {pack.name}: {pack.directory} is no git clone any more",
                        hint=f"replay-remove {pack.name}, then add it again") from exc
    updated = Pack(pack.name, pack.directory, pack.source, pin, commit)
    listing.forget(updated)
    _write_record(updated)
    return updated


def head_commit(pack: Pack) -> str:
    """The commit checked out in an added pack's clone now: what its scripts are, whatever the
    record says (someone may have moved the clone by hand since the last add)."""
    _require_git()
    import git

    try:
        with git.Repo(pack.directory) as repo:
            return str(repo.head.commit.hexsha)
    except git.GitCommandNotFound as exc:
        raise _git_missing() from exc
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, git.GitCommandError, ValueError) as exc:
        raise PackError(f"pack {pack.name}: {pack.directory} has no readable commit checked out",
                        hint=f"replay-remove {pack.name}, then add it again") from exc


def _require_git() -> None:
    """GitPython refuses to import without a git executable ("Bad git executable")."""
    try:
        import git  # noqa: F401
    except ImportError as exc:
        raise _git_missing() from exc


def _git_missing() -> EnvironmentProblem:
    return EnvironmentProblem("git is not installed", hint="replaybook doctor --fix")


def _clone_error(what: str, exc: Exception) -> PackError | EnvironmentProblem:
    """An unreachable remote is the environment's problem (exit 5); anything else is the source's."""
    message = _git_message(exc)
    full_text = f"{getattr(exc, 'stderr', '')} {exc}".lower()
    if any(sign in full_text for sign in UNREACHABLE_SIGNS):
        return EnvironmentProblem(f"{what}: the remote cannot be reached: {message}",
                                  hint="check the network connection and the source's address")
    return PackError(f"{what}: {message}")


def _git_env() -> dict[str, str]:
    # Never stop to ask for credentials: a private repository without access fails at once.
    return {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}


def _git_message(exc: Exception) -> str:
    stderr = str(getattr(exc, "stderr", "") or exc).strip()
    lines = [line.strip().removeprefix("stderr: ").strip("'") for line in stderr.splitlines()]
    meaningful = [line for line in lines if line and not line.startswith("Cmd(")]
    return meaningful[-1] if meaningful else str(exc)


def _dir_name(spec: SourceSpec) -> str:
    import hashlib  # here: listing, the frequent caller of this module, never needs it

    digest = hashlib.sha256(spec.url.encode()).hexdigest()[:10]
    slug = re.sub(r"[^a-z0-9._-]+", "-", spec.name.lower()).strip("-") or "pack"
    return f"{slug}-{digest}"


def _record_path(directory: Path) -> Path:
    return directory.with_name(directory.name + ".toml")


def _write_record(pack: Pack) -> None:
    from libreplay.core.store import write_toml

    record = {"name": pack.name, "source": pack.source, "ref": pack.ref, "commit": pack.commit}
    write_toml(_record_path(pack.directory), record)


def _pack_from_record(record: Path) -> Pack:
    from libreplay.core.store import read_toml

    data = read_toml(record)
    return Pack(
        name=str(data.get("name", record.stem)),
        directory=record.with_suffix(""),
        source=str(data.get("source", "")),
        ref=data.get("ref"),
        commit=data.get("commit"),
    )


def _find_by_url(url: str) -> Pack | None:
    return next((p for p in installed_packs()[1:] if p.source == url), None)


def _unique_name(name: str) -> str:
    taken = {p.name for p in installed_packs()} | {LOCAL}
    candidate, counter = name, 2
    while candidate in taken:
        candidate, counter = f"{name}-{counter}", counter + 1
    return candidate
