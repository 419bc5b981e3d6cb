"""What ``list`` shows of each pack, from a cache of validation results that is never trusted stale.

Validating every scenario on every ``list`` costs seconds at catalogue scale (2,000 scenarios),
so each pack's results are kept in ``<state>/list-cache/<pack>.json``. An entry holds what the
list shows of one scenario directory (its summary, or why it is invalid) with the paths its
validation consulted (:class:`libreplay.scenario.load.Checked`) and their stamps.

An entry is used only while it still describes the files:

- the file's format version, the pack's directory, its checked-out commit (read from
  ``.git`` without git), the validator's own files and the versions that can change a verdict
  (replaybook's, Python's, PyYAML's and jsonschema's files) are those the entry was made with;
- the scenario directory, every file whose contents validation read (meta.json, the compose
  file) and the directories on the way to every consulted path have the same stamp now (type
  and mode, inode, device, size, mtime and ctime in ns). A path validation only looked for
  (a script, a ``cp`` source, a compose file name it did not find) is covered by the directory
  that holds it: creating, removing, renaming or replacing an entry changes that directory's
  mtime and ctime (see :func:`_paths_to_stamp`). The one path above the scenario, its track file
  (``../track.json``), is stamped itself, absent as :data:`ABSENT` (its directory's stamp would
  change with every sibling scenario added or removed).

Anything else means validating that directory again: a scenario edited, added, removed or
broken shows as it is on the next ``list``. Entries are not stored where a stamp could not
tell (a symbolic link among those paths, any other ``..``, a file changed within RACY_SECONDS before
validation began, whose timestamp a later change might repeat). A cache file
that cannot be read or has the wrong shape is ignored and written again; one that cannot be
written leaves the list as it is. ``add``, ``update`` and ``remove`` drop the pack's file
(:func:`forget`).
"""

from __future__ import annotations

import json
import os
import stat
import struct
import sys
import time
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from libreplay.core import paths
from libreplay.core.errors import ReplayError
from libreplay.scenario.track import TRACK_FILE

if TYPE_CHECKING:
    from libreplay.packs.catalog import Pack
    from libreplay.scenario.load import Checked
    from libreplay.scenario.model import Scenario

FORMAT_VERSION = 3
# Coarse file-system clocks (a jiffy; a second on ext3, two on FAT) may give a file changed
# just after we read it the timestamp we saw: such an entry is validated again next time.
RACY_SECONDS = 2
# The validator itself: a change to these files (or to this module) changes every answer.
VALIDATOR_DIR = Path(__file__).resolve().parent.parent / "scenario"
ERRORS_MODULE = Path(__file__).resolve().parent.parent / "core" / "errors.py"

Stamp = tuple[int, int, int, int, int, int]  # mode, inode, device, size, mtime and ctime in ns
# A stamp as an entry keeps it: the six numbers packed and written in hex, a fixed 96 characters,
# so that stamps side by side need no separator. Packing is half the cost of writing them in
# decimal, in the loop that runs thousands of times per list. A time beyond what 64 bits of
# nanoseconds hold (the year 2262) cannot be packed: that path is not stamped, it is validated.
STAMP = struct.Struct("<QQQqqq")
ABSENT: Stamp = (0, 0, 0, 0, 0, 0)  # the stamp of a track file that is not there (no inode is 0)
TRACK_STAMP = f"../{TRACK_FILE}"  # the track file of the directory the scenario sits in
# The fields of a valid scenario's summary, in the order the cache file keeps them (a list:
# its keys cost a list of two thousand scenarios a third of its JSON parsing).
SUMMARY_FIELDS = ("id", "title", "difficulty", "tags", "faults", "sla_minutes", "directory", "track",
                  "track_place")


class ScenarioSummary(NamedTuple):
    """What ``list`` shows of a valid scenario (a tuple: made thousands of times per list)."""

    id: str
    title: str
    difficulty: int
    tags: tuple[str, ...]
    faults: tuple[str, ...]
    sla_minutes: int
    path: str  # the scenario's directory, resolved (a string: a Path costs, two thousand times)
    pack: str
    track: str | None = None  # the name of the track it belongs to (scenario/track.py)
    track_place: int = 0  # its place in that track's order, from 1

    @property
    def directory(self) -> Path:
        return Path(self.path)

    @property
    def ref(self) -> str:
        """The unambiguous name ``pack/id``."""
        return f"{self.pack}/{self.id}"


@dataclass
class PackListing:
    """A pack's valid scenarios, and the messages of those that failed validation."""

    pack: Pack
    scenarios: list[ScenarioSummary] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)


def list_packs(packs: Iterable[Pack]) -> list[PackListing]:
    validator = _validator_stamp()
    return [_list_pack(pack, validator) for pack in packs]


def forget(pack: Pack) -> None:
    """Drop the pack's cache file: it was added, updated or removed."""
    with suppress(OSError):
        cache_path(pack).unlink(missing_ok=True)


def cache_path(pack: Pack) -> Path:
    name = "official" if pack.official else pack.directory.name
    return paths.list_cache_dir() / f"{name}.json"


# -- one pack ----------------------------------------------------------------------------


def _list_pack(pack: Pack, validator: str) -> PackListing:
    from libreplay.packs.catalog import scenario_paths

    header = {"version": FORMAT_VERSION, "directory": str(pack.directory),
              "commit": head_commit_cheaply(pack.directory), "validator": validator}
    path = cache_path(pack)
    cached = _read_entries(path, header)
    holding: dict[str, dict[str, Any]] = {}

    def still_holds(directory: str) -> bool:
        """Whether the cached entry still describes ``directory``, which is then a scenario's
        (its meta.json is among the stamps): found so, it needs no other look."""
        entry = cached.get(directory)
        if entry is None or "meta.json" not in entry["paths"]:
            return False
        if _stamps_now(directory, entry["paths"]) != entry["stamps"]:
            return False
        holding[directory] = entry
        return True

    entries: dict[str, dict[str, Any]] = {}
    listing = PackListing(pack)
    changed = False
    for directory in scenario_paths(os.fspath(pack.directory), known=still_holds if cached else None):
        entry = holding.get(directory)
        if entry is None:
            entry = _validated(Path(directory), pack.name)
            changed = changed or entry["paths"] is not None
        if entry["paths"] is not None:
            entries[directory] = entry
        _add_to(listing, entry, pack.name)
    if changed or entries.keys() != cached.keys():
        _write_entries(path, header, entries)
    return listing


def _add_to(listing: PackListing, entry: dict[str, Any], pack_name: str) -> None:
    summary = entry["summary"]
    if summary is None:
        listing.invalid.append(entry["invalid"])
        return
    scenario_id, title, difficulty, tags, faults, sla_minutes, directory, track, place = summary
    listing.scenarios.append(ScenarioSummary(
        id=scenario_id, title=title, difficulty=difficulty, tags=tuple(tags), faults=tuple(faults),
        sla_minutes=sla_minutes, path=directory, pack=pack_name, track=track, track_place=place,
    ))


def _validated(directory: Path, pack_name: str) -> dict[str, Any]:
    """A fresh entry for ``directory``; its ``paths`` is None where it must not be stored."""
    from libreplay.scenario.load import check_scenario

    started_ns = time.time_ns()
    checked = check_scenario(directory, pack=pack_name)
    entry: dict[str, Any] = {"summary": _summary(checked), "paths": None, "stamps": None,
                             "invalid": checked.invalid.message if checked.invalid else None}
    consulted = _paths_to_stamp(directory, checked)
    stamps = _stamps(directory, consulted) if consulted is not None else None
    if consulted is None or stamps is None or _racy(stamps, started_ns):
        return entry
    # A path gone since needs no stamp: the directory that held it is stamped, and changed.
    found = [(name, stamp) for name, stamp in zip(consulted, stamps, strict=True) if stamp is not None]
    joined = _joined([stamp for _, stamp in found])
    if joined is not None:
        entry["paths"] = [name for name, _ in found]
        entry["stamps"] = joined
    return entry


def summarize(scenario: Scenario) -> ScenarioSummary:
    """What ``list`` shows of a loaded scenario."""
    return ScenarioSummary(
        id=scenario.id, title=scenario.title, difficulty=scenario.difficulty, tags=scenario.tags,
        faults=tuple(fault.name for fault in scenario.faults), sla_minutes=scenario.sla_minutes,
        path=str(scenario.directory), pack=scenario.pack,
        track=scenario.track.name if scenario.track else None,
        track_place=scenario.track.place_of(scenario.directory) if scenario.track else 0,
    )


def _summary(checked: Checked) -> list[Any] | None:
    """The summary as the cache file keeps it: its :data:`SUMMARY_FIELDS`, in order."""
    if checked.scenario is None:
        return None
    summary = summarize(checked.scenario)
    return [summary.id, summary.title, summary.difficulty, list(summary.tags), list(summary.faults),
            summary.sla_minutes, summary.path, summary.track, summary.track_place]


# -- stamps --------------------------------------------------------------------------------


def _paths_to_stamp(directory: Path, checked: Checked) -> list[str] | None:
    """What must keep its stamp for validation's answer to hold, relative to ``directory``
    (``""`` is the directory itself), sorted; None when a consulted path leaves it, goes through
    ``..`` or is a link, which a stamp could not follow.

    Only a file whose contents were read (meta.json, the compose file) is stamped itself, with
    every directory above its own. Of any other path validation only asked whether it is there,
    of which kind, and where it leads: the directories on its way, its own included, answer
    that, since creating, removing, renaming or replacing an entry (by a link, say) changes the
    stamp of the directory that holds it."""
    root = directory.resolve()
    wanted = {""}
    for path in checked.consulted:
        if path == root:
            continue
        if path == root.parent / TRACK_FILE:  # its track, or where one would be (ABSENT)
            wanted.add(TRACK_STAMP)
            continue
        try:
            parts = path.relative_to(root).parts
        except ValueError:
            return None
        if ".." in parts or path.is_symlink():
            return None
        itself = path in checked.read and os.path.lexists(path)
        above = len(parts) - 1 if itself else len(parts)
        wanted.update("/".join(parts[:end]) for end in range(1, above))
        if itself:
            wanted.add("/".join(parts))
    return sorted(wanted)


def _stamps(directory: Path, relative: list[str]) -> list[Stamp | None] | None:
    """The stamp of each path in order (None: it does not exist), or None where a symbolic link
    makes a stamp meaningless: what validation saw lies elsewhere. ``directory`` is taken as
    found (not resolved: a link above it that changes target changes every inode below)."""
    base = os.fspath(directory)
    stamps: list[Stamp | None] = []
    for name in relative:
        try:
            found = os.lstat(f"{base}/{name}" if name else base)
        except (FileNotFoundError, NotADirectoryError):
            stamps.append(ABSENT if name == TRACK_STAMP else None)
            continue
        except (OSError, ValueError):  # unreadable, or a NUL byte: validate every time
            return None
        if stat.S_ISLNK(found.st_mode):
            return None
        stamps.append((found.st_mode, found.st_ino, found.st_dev, found.st_size,
                       found.st_mtime_ns, found.st_ctime_ns))
    return stamps


def _stamps_now(base: str, relative: list[str]) -> str | None:
    """The stamps of the paths below ``base`` now, as :func:`_joined` writes them; None where
    one is gone, a link, or cannot be packed. The list's hot loop, thousands of times: no tuple
    is built."""
    parts = []
    pack = STAMP.pack
    for name in relative:
        try:
            found = os.lstat(f"{base}/{name}" if name else base)
            if stat.S_ISLNK(found.st_mode):
                return None
            parts.append(pack(found.st_mode, found.st_ino, found.st_dev, found.st_size,
                              found.st_mtime_ns, found.st_ctime_ns))
        except FileNotFoundError:
            if name != TRACK_STAMP:
                return None
            parts.append(pack(*ABSENT))
        except (OSError, ValueError, struct.error):
            return None
    return b"".join(parts).hex()


def _joined(stamps: list[Stamp]) -> str | None:
    """Stamps as an entry keeps them (see :data:`STAMP`): compared as they are, so no digest could
    ever collide; None where one cannot be packed."""
    try:
        return b"".join(STAMP.pack(*stamp) for stamp in stamps).hex()
    except struct.error:
        return None


def _racy(stamps: list[Stamp | None], started_ns: int) -> bool:
    limit = started_ns - RACY_SECONDS * 1_000_000_000
    return any(stamp is not None and max(stamp[4], stamp[5]) >= limit for stamp in stamps)


def _validator_stamp() -> str:
    """The stamps of the validator's files, this module's and the errors' (how an invalid scenario
    is told), and of what else can change a verdict (:func:`_versions_stamp`): what the answers
    depend on besides the scenario's own files (an upgrade, or an edit in a checkout).
    Unreadable, it matches nothing, so that nothing cached is used."""
    files = sorted([*VALIDATOR_DIR.glob("*.py"), *VALIDATOR_DIR.glob("*.json"), Path(__file__),
                    ERRORS_MODULE])
    try:
        own = ";".join(f"{file.name} {file.stat().st_size} {file.stat().st_mtime_ns}" for file in files)
        return f"{own};{_versions_stamp()}"
    except OSError:
        return f"unreadable at {time.time_ns()}"


def _versions_stamp() -> str:
    """replaybook's version, Python's, and the files of the libraries validation runs (PyYAML,
    with its libyaml extension or without, and jsonschema). Stamped by ``os.stat``, not read
    from their ``__version__`` nor from importlib.metadata: a warm list imports neither library
    (importing them is most of a cold list's cost), and importlib.metadata alone costs ~20 ms.
    An upgrade or a reinstall writes the files anew (inode, ctime), so it shows here."""
    import importlib.util

    import libreplay

    parts = [f"replaybook {libreplay.__version__}", f"python {sys.version}"]
    for library, files in (("yaml", ("__init__.py", "_yaml*")), ("jsonschema", ("__init__.py",))):
        spec = importlib.util.find_spec(library)
        if spec is None or not spec.submodule_search_locations:
            parts.append(f"{library} missing")
            continue
        package = Path(next(iter(spec.submodule_search_locations)))
        found = sorted(path for pattern in files for path in package.glob(pattern))
        parts.extend(f"{library}/{path.name} {_stamp_of(path)}" for path in found)
    return ";".join(parts)


def _stamp_of(path: Path) -> str:
    status = path.stat()
    return f"{status.st_ino} {status.st_size} {status.st_mtime_ns} {status.st_ctime_ns}"


# -- the commit, without git ---------------------------------------------------------------


def head_commit_cheaply(directory: Path) -> str | None:
    """The commit checked out in a clone, read from ``.git`` directly (gitpython costs more than
    the whole list); None where that takes more than a plain clone's files (a worktree,
    an unborn branch), which leaves the stamps alone to tell."""
    git_dir = directory / ".git"
    try:
        head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
        if not head.startswith("ref: "):
            return head or None
        ref = head.removeprefix("ref: ")
        if ".." in ref:
            return None
        loose = git_dir / ref
        if loose.is_file():
            return loose.read_text(encoding="utf-8").strip() or None
        return _packed_ref(git_dir / "packed-refs", ref)
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def _packed_ref(packed: Path, ref: str) -> str | None:
    for line in packed.read_text(encoding="utf-8").splitlines():
        commit, _, name = line.partition(" ")
        if name == ref:
            return commit
    return None


# -- the cache file ------------------------------------------------------------------------


def _read_entries(path: Path, header: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The file's entries if it was written for this header, else none: a missing, unreadable,
    damaged or outdated file is simply rebuilt."""
    try:
        data = json.loads(path.read_bytes())
        if not isinstance(data, dict) or any(data.get(key) != value for key, value in header.items()):
            return {}
        entries = data["entries"]
        if not isinstance(entries, dict):
            return {}
        return {key: entry for key, entry in entries.items() if _well_formed(entry)}
    except (OSError, ValueError, KeyError, RecursionError):
        return {}


def _well_formed(entry: Any) -> bool:
    """Whether an entry has the shape this module writes, as far as using it could fail or show
    the wrong kind of value (anything else is validated again). Its contents are not what makes
    it trusted: its stamps are compared with the files'."""
    if type(entry) is not dict or type(entry.get("stamps")) is not str:
        return False
    if type(entry.get("paths")) is not list:
        return False
    summary = entry.get("summary")
    if summary is None:
        return type(entry.get("invalid")) is str
    if type(summary) is not list or len(summary) != len(SUMMARY_FIELDS):
        return False
    scenario_id, title, difficulty, tags, faults, sla_minutes, directory, track, place = summary
    return (
        type(scenario_id) is str and type(title) is str and type(directory) is str
        and type(difficulty) is int and type(sla_minutes) is int
        and type(tags) is list and type(faults) is list
        and (track is None or type(track) is str) and type(place) is int
    )


def _write_entries(path: Path, header: dict[str, Any], entries: dict[str, dict[str, Any]]) -> None:
    """Written atomically; a cache that cannot be written (a read-only or full disk) only costs
    the next list its speed."""
    from libreplay.core.store import write_atomic

    data = json.dumps({**header, "entries": entries}, separators=(",", ":")).encode()
    with suppress(OSError, ReplayError):
        write_atomic(path, data)
