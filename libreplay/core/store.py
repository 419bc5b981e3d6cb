"""Atomic TOML and JSON-lines files shared between processes.

Every write goes to a hidden temporary file in the same directory and is renamed into
place, so a reader (or a watchfiles watcher) never sees half a file. Read-modify-write
cycles hold a file lock beside the file, so concurrent writers never lose an update.
Watchers ignore names starting with a dot: temporary files and locks are all dot-files.

A full disk (or quota) never leaves half a file: the temporary file is removed, a ledger
line that did not fit is cut off again, and the error is an EnvironmentProblem naming the
directory. A file that cannot be read as TOML is an InvalidInput naming the file.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from libreplay.core.errors import EnvironmentProblem, InvalidInput

LOCK_TIMEOUT_SECONDS = 10.0
NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT})


@contextmanager
def disk_errors(path: Path) -> Iterator[None]:
    """A full disk or quota while writing ``path`` becomes an EnvironmentProblem naming its directory."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in NO_ROOM:
            raise
        raise EnvironmentProblem(
            f"{path.parent}: no space left to write {path.name} ({exc.strerror or 'disk full'})",
            hint=f"free some space on the file system of {path.parent}",
        ) from None


def lock_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


@contextmanager
def locked(path: Path, *, create_parents: bool = True) -> Iterator[None]:
    """Hold the lock that guards ``path`` for a read-modify-write cycle.

    With ``create_parents=False`` a vanished directory raises FileNotFoundError instead of
    being made again (a session torn down while someone waited for its lock).
    """
    from filelock import FileLock  # here: commands that only read (--help, list) never load it

    with disk_errors(path):
        if create_parents:
            path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(lock_path(path)), timeout=LOCK_TIMEOUT_SECONDS)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def write_atomic(
    path: Path, data: bytes, *, create_parents: bool = True, mode: int | None = None
) -> None:
    """Write ``data`` to a hidden temporary file beside ``path`` and rename it into place.

    ``mode`` is set on the temporary file before the rename, so the name never points at a
    file with other permissions (and no chmod ever follows a link someone put there).
    """
    with disk_errors(path):
        if create_parents:
            path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            Path(tmp).replace(path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def read_toml(path: Path) -> dict[str, Any]:
    """The file's table. Missing: FileNotFoundError; unreadable or not TOML: InvalidInput."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not valid TOML: not UTF-8 text") from None
    except (ValueError, RecursionError) as exc:  # an integer of thousands of digits; nesting
        raise InvalidInput(f"{path}: not valid TOML: {exc or 'nested too deeply'}") from None
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot be read: {exc.strerror or exc}") from None


def write_toml(path: Path, data: dict[str, Any], *, create_parents: bool = True) -> None:
    import tomli_w

    write_atomic(path, tomli_w.dumps(_drop_none(data)).encode(), create_parents=create_parents)


def update_toml(
    path: Path, change: Callable[[dict[str, Any]], None], *, must_exist: bool = False
) -> dict[str, Any]:
    """Apply ``change`` to the file's table under its lock and write it back atomically.

    With ``must_exist``, a file (or directory) that is gone, or goes while we wait for the
    lock, raises FileNotFoundError; nothing is created.
    """
    with locked(path, create_parents=not must_exist):
        if must_exist and not path.exists():
            raise FileNotFoundError(path)
        data = read_toml(path) if path.exists() else {}
        change(data)
        write_toml(path, data, create_parents=not must_exist)
        return data


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line under the file's lock (the ledger)."""
    line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode()
    with locked(path), disk_errors(path):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            start = os.fstat(fd).st_size
            try:
                written = 0
                while written < len(line):
                    written += os.write(fd, line[written:])
                os.fsync(fd)
            except OSError:
                # Half a line would spoil the next one too: cut the file back to where it was.
                with suppress(OSError):
                    os.ftruncate(fd, start)
                raise
        finally:
            os.close(fd)


def _drop_none(value: Any) -> Any:
    """TOML has no null: keys whose value is None are left out."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value
