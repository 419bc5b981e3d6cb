"""replay-list through its cache, in process: the same output as a list that validates
everything, after edits, a pack update, and a damaged cache file (libreplay/packs/listing.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from scenario_kit import add_scenario_commit, make_pack_repo, use_official_pack, write_scenario
from typer.testing import CliRunner, Result

from libreplay.packs import listing
from replaybook.commands import add, list_


@pytest.fixture(autouse=True)
def official(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(listing, "RACY_SECONDS", 0)  # the test's files are as old as the test
    return use_official_pack(monkeypatch, tmp_path / "official", ["001-nginx-502", "002-pg-locks"])


def run(app: Any, *args: str) -> Result:
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def cold_and_warm(*args: str) -> tuple[Result, Result]:
    """A list with no cache, then one answered from the cache it left."""
    for cache in listing.cache_path(listing_pack()).parent.glob("*.json"):
        cache.unlink()
    return run(list_.app, *args), run(list_.app, *args)


def listing_pack() -> Any:
    from libreplay.packs.catalog import official_pack

    return official_pack()


@pytest.mark.parametrize("args", [(), ("--json",), ("--tag", "nginx")], ids=["table", "json", "tag"])
def test_warm_output_is_the_cold_output(official: Path, args: tuple[str, ...]) -> None:
    write_scenario(official / "003-bad", meta={"id": "003-bad", "difficulty": 7})
    cold, warm = cold_and_warm(*args)
    assert (warm.exit_code, warm.stdout, warm.stderr) == (cold.exit_code, cold.stdout, cold.stderr)
    assert "Warning: skipped an invalid scenario in pack official" in warm.stderr
    assert "meta.json: difficulty" in warm.stderr


def test_an_edit_shows_on_the_next_list(official: Path) -> None:
    run(list_.app)
    time.sleep(0.03)
    meta_path = official / "002-pg-locks" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["title"] = "Locks, retitled"
    meta_path.write_text(json.dumps(meta))
    assert "Locks, retitled" in run(list_.app).stdout


def test_a_pack_updated_by_add_shows_its_new_scenario(tmp_path: Path) -> None:
    repo = make_pack_repo(tmp_path / "drills", ["900-dns"])
    assert run(add.app, str(tmp_path / "drills")).exit_code == 0
    assert "drills/900-dns" in run(list_.app).stdout
    add_scenario_commit(repo, "901-disk", title="Disk full")
    assert run(add.app, str(tmp_path / "drills")).exit_code == 0  # the second add updates
    assert "drills/901-disk  2     Disk full" in run(list_.app).stdout


def test_a_garbage_cache_file_changes_nothing(official: Path) -> None:
    cold = run(list_.app)
    listing.cache_path(listing_pack()).write_bytes(b'{"version": 1, "entries": [1, 2')
    again = run(list_.app)
    assert (again.exit_code, again.stdout, again.stderr) == (cold.exit_code, cold.stdout, cold.stderr)
