"""Tracks: an ordered group of scenarios that share a directory (docs/scenario-format.md, "Tracks").

A *track directory* holds ``track.json`` and its scenarios as subdirectories. The file names the
track, says what it covers and gives the order it is played in (``replaybook list --track``,
``next --track``). Its scenarios may build their images from a context inside the track
directory (one image the whole track shares, built once): the sandbox allows that, and only
that, beyond the scenario's own directory.

A scenario belongs to the track of the directory it sits in, when that directory holds
``track.json``; the loader (libreplay.scenario.load) reads the file with the scenario, so a track
file that is wrong makes its scenarios invalid, with the file and field named.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from libreplay.core.errors import InvalidInput
from libreplay.scenario.model import Track, show_value

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

TRACK_FILE = "track.json"
SCHEMA_FILE = "track.schema.json"
MAX_TRACK_BYTES = 64 * 1024

# What each field must be, whichever keyword of the schema failed.
_MESSAGES = {
    "name": "must be a short lowercase name, got {value}",
    "title": "must be a non-empty string, got {value}",
    "description": "must be a string, got {value}",
    "scenarios": "must be a non-empty list of scenario directory names, each once, got {value}",
    "scenarios[]": "must be a scenario directory name, got {value}",
}


class TrackInvalid(InvalidInput):
    """A track file failed validation; ``problems`` lists every finding, each naming its field."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{path}: track is invalid:\n{lines}")
        self.path = path
        self.problems = problems


def track_dir_for(scenario_dir: Path) -> Path | None:
    """The directory whose track file the scenario would belong to: the one it sits in, unless
    the scenario is a pack's root (a one-scenario pack, its own repository: what lies above it
    is not the pack's)."""
    return None if (scenario_dir / ".git").exists() else scenario_dir.parent


def shares_a_track(scenario_dir: Path) -> Path | None:
    """The track directory the scenario sits in, when there is a track file there (a regular
    file: the loader refuses a link), without reading it."""
    parent = track_dir_for(scenario_dir)
    if parent is None:
        return None
    path = parent / TRACK_FILE
    return parent if path.is_file() and not path.is_symlink() else None


def load_track(directory: Path) -> Track:
    """Read and check ``directory``'s track.json against the schema and the directory; raise
    TrackInvalid listing every problem (a missing or unreadable file is one of them)."""
    path = directory / TRACK_FILE
    document = _read(path)
    problems = [_problem(error) for error in _validator().iter_errors(document)]
    if not problems:
        problems = [
            f"scenarios: {show_value(name)} is not a scenario directory here (no {name}/meta.json)"
            for name in document["scenarios"] if not (directory / name / "meta.json").is_file()
        ]
    if problems:
        raise TrackInvalid(path, sorted(set(problems)))
    return Track(
        name=document["name"],
        title=document["title"].strip(),
        description=str(document.get("description", "")).strip(),
        directory=directory,
        scenarios=tuple(document["scenarios"]),
    )


def _read(path: Path) -> Any:
    if path.is_symlink():  # what a pack's link points at is not the pack's to show
        raise TrackInvalid(path, ["must be a file of the pack, not a symbolic link"])
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_TRACK_BYTES + 1)
    except OSError as exc:
        raise TrackInvalid(path, [f"cannot be read: {exc.strerror}"]) from exc
    if len(data) > MAX_TRACK_BYTES:
        raise TrackInvalid(path, [f"larger than {MAX_TRACK_BYTES // 1024} KiB"])
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise TrackInvalid(path, ["not UTF-8 text"]) from exc
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise TrackInvalid(path, [f"invalid JSON at {where}: {exc.msg}"]) from exc
    except (ValueError, RecursionError) as exc:
        raise TrackInvalid(path, [f"invalid JSON: {exc}"]) from exc


def _problem(error: Any) -> str:
    place = list(error.absolute_path)
    if not place:
        if error.validator == "required":
            return f"{_missing(error)}: missing"
        return f"must be a JSON object, got {show_value(error.instance)}"
    field = str(place[0]) + ("[]" if len(place) > 1 else "")
    where = str(place[0]) + "".join(f"[{index}]" for index in place[1:])
    message = _MESSAGES.get(field, "is not valid here, got {value}")
    return f"{where}: {message.format(value=show_value(error.instance))}"


def _missing(error: Any) -> str:
    """The required key the error is about (jsonschema says it only in its message)."""
    present = error.instance if isinstance(error.instance, dict) else {}
    return next((key for key in error.validator_value if key not in present), "?")


@cache
def _validator() -> Validator:
    # Loaded with the first track, like meta.json's schema: jsonschema is slow to import.
    from jsonschema import Draft202012Validator

    text = resources.files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    validator: Validator = Draft202012Validator(json.loads(text))
    return validator
