"""The session's snapshot of its scenario: what replay-up loaded, validated and admitted, kept in
the session directory, so that no later step of the session reads the pack again.

  scenario.json   every field of the :class:`Scenario` as loaded and validated at up
  scenario/       a private copy of the scenario directory (less ``.git``), links kept as links,
                  except that every file meta.json names (the scripts: break, check, each
                  fault's script and solve; the fault files: ``cp`` sources) is a real file
                  with the content it had, so nothing the session runs points back into the pack

Scripts run with ``scenario/`` as their working directory and ``SCENARIO_DIR``
(libreplay.session.stack), so a script that reads any file of its scenario by a path relative
to the scenario directory finds the copy, as it found the original before. Nothing of it is
mounted into a container.
The snapshot's ``Scenario.directory`` still says where the scenario was loaded from (the stable
image names are derived from it); no step after up reads a file through it.

It is taken once, at up, while the clone is at the commit the user trusted: a ``replay-add``
update or a ``replay-remove`` of the pack during the session changes nothing of the session.
A snapshot that is missing or damaged is refused naming the file (and field), like a damaged
``session.toml``; ``replay-down`` still removes the session's stack by its project name.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from dataclasses import MISSING, fields, is_dataclass
from functools import cache
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

from libreplay.core.errors import InvalidInput, NotFound, ScenarioFailure
from libreplay.core.store import NO_ROOM, disk_errors, write_atomic
from libreplay.scenario.model import Scenario, is_inside, json_type, show_value
from libreplay.session.state import known_session_dir

SNAPSHOT_FILE = "scenario.json"
FILES_DIR = "scenario"
FORMAT = 1  # the layout of scenario.json; a session written by another layout is refused
MAX_COPY_BYTES = 256 << 20  # the session's copy of the scenario directory
MAX_SNAPSHOT_BYTES = 4 << 20  # far above any scenario; a damaged file is not read without bound


def files_dir(session_dir: Path) -> Path:
    """The session's copy of the scenario's scripts and fault files."""
    return session_dir / FILES_DIR


def snapshot_file(session_dir: Path) -> Path:
    return session_dir / SNAPSHOT_FILE


# -- what the session needs of the pack --------------------------------------------------------


def named_files(scenario: Scenario) -> dict[str, tuple[str, bool]]:
    """Every file of the scenario directory a session may use after up, by its relative path:
    the field that names it, and whether it must exist. A fault's solve need not (only
    ``replaybook test`` runs it, and says so when it is missing)."""
    named: dict[str, tuple[str, bool]] = {}
    if scenario.success_condition == "exit_zero":
        named["check.sh"] = ("success_condition", True)
    for index, guard in enumerate(scenario.guards):
        if guard.script is not None:
            named[guard.script] = (f"guards[{index}].script", True)
    for index, fault in enumerate(scenario.faults):
        where = f"faults[{index}]"
        if fault.script is not None:
            named[fault.script] = (f"{where}.script", True)
        for number, step in enumerate(fault.steps):
            if step.src is not None:
                named[step.src] = (f"{where}.steps[{number}].src", True)
        named.setdefault(fault.solve, (f"{where}.solve", False))
    return named


# -- writing, at up ----------------------------------------------------------------------------


def write_snapshot(scenario: Scenario, session_dir: Path, *, admitted_commit: str | None = None) -> None:
    """Copy the files the session needs, then write ``scenario.json`` (atomically, last: a
    snapshot file means a complete copy).

    ``admitted_commit``: the commit of an added pack that was trusted when up began. The clone
    is checked to be still there once the files are copied, so the copy is that commit's code;
    were it moved meanwhile, ScenarioFailure, and the session is not started.
    """
    copies = files_dir(session_dir)
    with disk_errors(copies):
        _copy_scenario(scenario, copies)
    if admitted_commit is not None:
        _require_admitted_commit(scenario, admitted_commit)
    _write_scenario_json(scenario, session_dir)


def refresh_snapshot(scenario: Scenario, session_dir: Path) -> None:
    """Take the snapshot again, from ``scenario`` as just loaded from its directory: what
    ``replaybook dev`` does before it breaks or solves again, so the author's edited scripts and
    fault files are what the running session uses (the compose model is left as it is: a
    changed build or compose file needs the stack rebuilt).

    The new copy is made beside the old one (a dot-directory, which no watcher of the session
    directory reacts to) and swapped in by two renames, so a failed copy leaves the old one
    whole; ``scenario.json`` is rewritten last, as at up."""
    copies = files_dir(session_dir)
    fresh = session_dir / f".{FILES_DIR}-fresh"
    stale = session_dir / f".{FILES_DIR}-stale"
    for leftover in (fresh, stale):
        shutil.rmtree(leftover, ignore_errors=True)  # of a refresh cut short
    try:
        with disk_errors(fresh):
            _copy_scenario(scenario, fresh)
        if copies.exists():
            copies.rename(stale)
        fresh.rename(copies)
    finally:
        for leftover in (fresh, stale):
            shutil.rmtree(leftover, ignore_errors=True)
    _write_scenario_json(scenario, session_dir)


def _copy_scenario(scenario: Scenario, copies: Path) -> None:
    """The scenario directory into ``copies``, every file it names a real file (see the module)."""
    _copy_tree(scenario.directory, copies)
    for name, (_field, required) in named_files(scenario).items():
        source = scenario.directory / name
        if required or (source.is_file() and is_inside(scenario.directory, source)):
            _copy_into(source, copies / name, copies)


def _write_scenario_json(scenario: Scenario, session_dir: Path) -> None:
    text = json.dumps({"format": FORMAT, "scenario": _encoded(scenario)}, indent=1, ensure_ascii=True)
    write_atomic(snapshot_file(session_dir), text.encode(), create_parents=False, mode=0o600)


def _copy_tree(source: Path, copy: Path) -> None:
    """The scenario directory as it is, in a directory no other user may enter: links copied as
    links (they resolve in the copy as in the pack; a loop of them is harmless), files with
    their modes, directories always writable by us (the teardown must be able to remove what
    is in them); ``.git`` and anything that is not a file, directory or link (a FIFO, a socket)
    left out, and the whole bounded in size."""
    _require_bounded(source)
    copy.mkdir(mode=0o700)
    try:
        shutil.copytree(source, copy, symlinks=True, ignore=_left_out, dirs_exist_ok=True)
    except (OSError, shutil.Error) as exc:
        if isinstance(exc, OSError) and exc.errno in NO_ROOM:
            raise  # disk_errors names the directory
        raise ScenarioFailure(f"{source}: could not be copied for the session ({exc})") from exc
    for directory, _dirs, _files in os.walk(copy):  # copytree gave each the pack's own mode
        Path(directory).chmod(stat.S_IMODE(os.lstat(directory).st_mode) | stat.S_IRWXU)
    copy.chmod(0o700)


def _left_out(directory: str, names: list[str]) -> set[str]:
    kept = (stat.S_ISREG, stat.S_ISDIR, stat.S_ISLNK)
    return {name for name in names
            if name == ".git" or not any(kind(os.lstat(Path(directory) / name).st_mode) for kind in kept)}


def _require_bounded(source: Path) -> None:
    """A scenario directory is scripts, configuration and small apps: one far larger would cost
    every session a copy of it."""
    size = 0
    for directory, dirs, files in os.walk(source):
        dirs[:] = [d for d in dirs if d != ".git"]
        size += sum(os.lstat(Path(directory) / name).st_size for name in files)
        if size > MAX_COPY_BYTES:
            raise ScenarioFailure(
                f"{source}: holds more than {MAX_COPY_BYTES >> 20} MiB, more than a session copies",
                hint="keep large files (data sets, binaries) out of the scenario directory",
            )


def _copy_into(source: Path, copy: Path, copies: Path) -> None:
    """The file's content (a link the loader found inside the scenario is followed: a link in the
    copy would point back into the pack) and its mode bits, so a script can run a fellow one."""
    try:
        if not is_inside(copies, copy.parent):  # a directory link of the pack's leading out
            raise OSError(0, "it lies behind a link that leads out of the scenario")
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.unlink(missing_ok=True)  # the tree's copy may be a link: never write through it
        shutil.copy(source, copy, follow_symlinks=True)
    except OSError as exc:
        if exc.errno in NO_ROOM:
            raise  # disk_errors names the directory
        why = exc.strerror or exc
        raise ScenarioFailure(f"{source}: could not be copied for the session ({why})") from exc


def _require_admitted_commit(scenario: Scenario, admitted: str) -> None:
    """The copy was taken at the admitted commit: the clone is still there now it is done."""
    from libreplay.packs import trust

    now = trust.commit_of(scenario)
    if now != admitted:
        raise ScenarioFailure(
            f"{scenario.ref}: its pack moved from commit {trust.short(admitted)} to "
            f"{trust.short(now or '(none)')} while the session started, so none of its scripts was taken",
            hint="play again: a new commit asks for trust first",
        )


def _encoded(value: Any) -> Any:
    """A dataclass as JSON-ready data: paths as text, tuples as lists, field by field."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encoded(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_encoded(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _encoded(item) for key, item in value.items()}
    return value


# -- reading, at every later step --------------------------------------------------------------


def load_snapshot(session_id: str) -> Scenario:
    """The scenario as replay-up snapshotted it. NotFound when the file is missing; InvalidInput
    naming the file and field when it is damaged, or when a file it names is missing from the
    session's copy."""
    session_dir = known_session_dir(session_id)
    path = snapshot_file(session_dir)
    data = _read_json(path, session_id)
    damaged = _Damaged(path, session_id)
    if not isinstance(data, dict):
        raise damaged.problem(f"must hold a JSON object, got {json_type(data)}")
    if data.get("format") != FORMAT:
        raise damaged.problem(f"format: must be {FORMAT}, got {show_value(data.get('format'))}")
    scenario: Scenario = _decoded(data.get("scenario"), Scenario, "scenario", damaged)
    _require_copies(scenario, files_dir(session_dir), damaged)
    return scenario


class _Damaged:
    """Names the damaged snapshot, and how its session still goes away."""

    def __init__(self, path: Path, session_id: str) -> None:
        self.path = path
        self.session_id = session_id

    def problem(self, text: str) -> InvalidInput:
        hint = f"the session's snapshot is damaged: `replay-down {self.session_id}` removes its stack"
        return InvalidInput(f"{self.path}: {text}", hint=hint)


def _read_json(path: Path, session_id: str) -> Any:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_SNAPSHOT_BYTES + 1)
    except (FileNotFoundError, NotADirectoryError):
        if path.parent.is_dir():
            raise NotFound(
                f"session {session_id}: its snapshot {path} is missing",
                hint=f"`replay-down {session_id}` removes its stack",
            ) from None
        raise NotFound(f"no session {session_id!r}", hint="replay-sessions lists the live ones") from None
    except OSError as exc:
        raise _Damaged(path, session_id).problem(f"cannot be read: {exc.strerror or exc}") from None
    damaged = _Damaged(path, session_id)
    if len(raw) > MAX_SNAPSHOT_BYTES:
        raise damaged.problem(f"larger than {MAX_SNAPSHOT_BYTES >> 20} MiB")
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise damaged.problem("not valid JSON: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise damaged.problem(f"not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:  # an integer of thousands of digits; nesting
        raise damaged.problem(f"not valid JSON: {exc or 'nested too deeply'}") from None


def _decoded(value: Any, hint: Any, where: str, damaged: _Damaged) -> Any:
    """``value`` as the type ``hint`` names (the field types of the scenario's dataclasses),
    refused naming ``where`` when it is not one."""
    origin = get_origin(hint)
    if origin in (Union, UnionType):
        options = [option for option in get_args(hint) if option is not type(None)]
        if value is None and len(options) < len(get_args(hint)):
            return None
        (option,) = options  # the scenario's unions are all "X or None"
        return _decoded(value, option, where, damaged)
    if origin is tuple:
        (item, _ellipsis) = get_args(hint)
        if not isinstance(value, list):
            raise damaged.problem(f"{where}: must be a list, got {json_type(value)}")
        return tuple(_decoded(v, item, f"{where}[{i}]", damaged) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise damaged.problem(f"{where}: must be an object, got {json_type(value)}")
        return dict(value)  # values as meta.json had them (``source``): any JSON
    if is_dataclass(hint):
        return _decoded_dataclass(value, hint, where, damaged)
    return _decoded_scalar(value, hint, where, damaged)


def _decoded_dataclass(value: Any, kind: Any, where: str, damaged: _Damaged) -> Any:
    if not isinstance(value, dict):
        raise damaged.problem(f"{where}: must be an object, got {json_type(value)}")
    hints = _field_types(kind)
    found: dict[str, Any] = {}
    for spec in fields(kind):
        place = f"{where}.{spec.name}"
        if spec.name in value:
            found[spec.name] = _decoded(value[spec.name], hints[spec.name], place, damaged)
        elif spec.default is MISSING and spec.default_factory is MISSING:
            raise damaged.problem(f"{place}: missing")
    return kind(**found)


@cache
def _field_types(kind: Any) -> dict[str, Any]:
    return get_type_hints(kind)


def _decoded_scalar(value: Any, hint: Any, where: str, damaged: _Damaged) -> Any:
    if hint is Any:
        return value
    if hint is Path:
        if not isinstance(value, str) or not value:
            raise damaged.problem(f"{where}: must be a path, got {show_value(value)}")
        return Path(value)
    wanted = {str: "text", int: "an integer"}
    if hint not in wanted:  # pragma: no cover - a field type this decoder does not know yet
        raise TypeError(f"{where}: cannot read a {hint!r} from a snapshot")
    if isinstance(value, bool) or not isinstance(value, hint):
        raise damaged.problem(f"{where}: must be {wanted[hint]}, got {show_value(value)}")
    return value


def _require_copies(scenario: Scenario, copies: Path, damaged: _Damaged) -> None:
    """Every file the snapshot names is in the session's copy, and nothing it names leads out of it."""
    for name, (field, required) in named_files(scenario).items():
        copy = copies / name
        if not is_inside(copies, copy):
            got = show_value(name)
            raise damaged.problem(f"scenario.{field}: must name a file in the scenario, got {got}")
        if required and (copy.is_symlink() or not copy.is_file()):
            raise damaged.problem(f"scenario.{field}: {name} is missing from the session's copy {copies}")
