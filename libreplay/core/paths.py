"""Where replaybook keeps its files. One place resolves them; REPLAYBOOK_HOME redirects all."""

from __future__ import annotations

import os
import re
from pathlib import Path

import platformdirs

from libreplay.core.errors import InvalidInput

APP = "replaybook"


def home_override() -> Path | None:
    value = os.environ.get("REPLAYBOOK_HOME")
    return Path(value).expanduser() if value else None


def data_dir() -> Path:
    """Packs and the ledger: kept across sessions."""
    home = home_override()
    return home / "data" if home else Path(platformdirs.user_data_dir(APP))


def state_dir() -> Path:
    """Live session state: one directory per session."""
    home = home_override()
    return home / "state" if home else Path(platformdirs.user_state_dir(APP))


def packs_dir() -> Path:
    return data_dir() / "packs"


def sessions_dir() -> Path:
    return state_dir() / "sessions"


def list_cache_dir() -> Path:
    """Validation results kept for ``list``, one JSON file per pack (libreplay/packs/listing.py)."""
    return state_dir() / "list-cache"


def session_dir(session_id: str) -> Path:
    return sessions_dir() / session_id


def trust_path() -> Path:
    """The packs the user has trusted, each at the commit they were shown (libreplay/packs/trust.py)."""
    return data_dir() / "trusted-packs.toml"


def ledger_path() -> Path:
    return data_dir() / "sessions.jsonl"


def official_pack_dir() -> Path:
    """The pack that ships inside the project (``packs/official``), a directory of plain files
    beside the package's modules (importlib.resources would say the same, and costs every
    ``list`` its zipfile support)."""
    from importlib.util import find_spec

    spec = find_spec("replaybook.packs")  # by name: the library imports nothing of the commands
    if spec is None or not spec.submodule_search_locations:
        raise InvalidInput("replaybook.packs is not installed: reinstall replaybook")
    return Path(next(iter(spec.submodule_search_locations))) / "official"


def asset_path(name: str) -> Path:
    """A file shipped in ``libreplay/assets`` (the probe's Dockerfile, get-hint)."""
    return Path(__file__).parent.parent / "assets" / name


# A window's name goes into a file name: a service name as Compose allows it, nothing else.
WINDOW_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


def transcript_path(session_id: str, window: str | None = None) -> Path:
    """The trainee's recorded shell (asciicast v2), or with ``window`` (a service) the recording
    of that service's own window beside it; kept after the session's state is removed.

    InvalidInput for a window name that is not a plain service name."""
    if window is None:
        return data_dir() / "transcripts" / f"{session_id}.cast"
    if not WINDOW_NAME.fullmatch(window):
        raise InvalidInput(f"--window: {window!r} is not a service name")
    return data_dir() / "transcripts" / f"{session_id}.{window}.cast"
