"""replay-list, replay-add, replay-remove and replay-packs, in process, with real git repositories."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from scenario_kit import add_scenario_commit, make_pack_repo, use_official_pack, write_scenario
from typer.testing import CliRunner, Result

from libreplay.core import paths
from libreplay.packs import listing
from replaybook.commands import add, list_, packs, remove


@pytest.fixture(autouse=True)
def official(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return use_official_pack(monkeypatch, tmp_path / "official", ["001-nginx-502", "002-pg-locks"])


def run(app: Any, *args: str) -> Result:
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def listed(*args: str) -> list[str]:
    result = run(list_.app, *args)
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def pack_dir_entries() -> list[str]:
    root = paths.packs_dir()
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


# -- replay-list ----------------------------------------------------------------------------


def test_list_table_has_header_and_rule(official: Path) -> None:
    write_scenario(official / "003-dns", meta={"id": "003-dns", "title": "DNS is down", "difficulty": 4})
    lines = listed()
    assert lines[0].split() == ["ID", "DIFF", "TITLE"]
    assert lines[0].startswith("ID  ") and "  DIFF  TITLE" in lines[0]
    assert set(lines[1]) == {"-"} and len(lines[1]) >= len(lines[0])
    rows = [line.split(None, 2) for line in lines[2:]]
    assert rows == [["001-nginx-502", "2", "Official 001-nginx-502"],
                    ["002-pg-locks", "2", "Official 002-pg-locks"],
                    ["003-dns", "4", "DNS is down"]]
    assert lines[4][lines[0].index("DIFF")] == "4"  # columns line up
    assert lines[4][lines[0].index("TITLE"):] == "DNS is down"


def test_list_json_parses(official: Path) -> None:
    result = run(list_.app, "--json")
    records = json.loads(result.stdout)
    assert [r["id"] for r in records] == ["001-nginx-502", "002-pg-locks"]
    first = records[0]
    assert first["pack"] == "official" and first["ref"] == "official/001-nginx-502"
    assert first["difficulty"] == 2 and first["tags"] == ["nginx", "demo"]
    assert first["faults"] == ["default"] and first["sla_minutes"] == 15
    assert Path(first["path"]) == official / "001-nginx-502"


def test_list_tag_filters(official: Path) -> None:
    write_scenario(official / "003-dns", meta={"id": "003-dns", "tags": ["dns"]})
    assert [line.split()[0] for line in listed("--tag", "dns")[2:]] == ["003-dns"]
    assert [line.split()[0] for line in listed("--tag", "nginx")[2:]] == ["001-nginx-502", "002-pg-locks"]
    assert listed("--tag", "nothing-has-this")[2:] == []


def test_list_skips_an_invalid_scenario_with_a_warning(official: Path) -> None:
    write_scenario(official / "003-bad", meta={"id": "003-bad", "difficulty": 7})
    result = run(list_.app)
    assert result.exit_code == 0
    assert "003-bad" not in result.stdout
    assert "meta.json: difficulty" in result.stderr


def test_list_pack_option_and_unknown_pack(tmp_path: Path) -> None:
    make_pack_repo(tmp_path / "drills", ["900-dns"])
    assert run(add.app, str(tmp_path / "drills")).exit_code == 0
    assert [line.split()[0] for line in listed("--pack", "drills")[2:]] == ["drills/900-dns"]
    result = run(list_.app, "--pack", "ghost")
    assert result.exit_code == 4
    assert "no pack named 'ghost'" in result.stderr


# -- replay-add -----------------------------------------------------------------------------


def test_add_local_repository_then_list_shows_its_scenarios(tmp_path: Path) -> None:
    make_pack_repo(tmp_path / "drills", ["900-dns", "901-disk-full"])
    result = run(add.app, str(tmp_path / "drills"))
    assert result.exit_code == 0, result.output
    assert "Added pack drills" in result.stderr
    assert result.stdout.splitlines()[0].split() == ["ID", "DIFF", "TITLE"]
    assert [line.split()[0] for line in result.stdout.splitlines()[2:]] == ["drills/900-dns",
                                                                           "drills/901-disk-full"]
    ids = [line.split()[0] for line in listed()[2:]]
    assert ids == ["001-nginx-502", "002-pg-locks", "drills/900-dns", "drills/901-disk-full"]


def test_add_json(tmp_path: Path) -> None:
    repo = make_pack_repo(tmp_path / "drills", ["900-dns"])
    record = json.loads(run(add.app, str(tmp_path / "drills"), "--json").stdout)
    assert record["pack"]["name"] == "drills"
    assert record["pack"]["commit"] == repo.head.commit.hexsha
    assert record["updated"] is False
    assert [s["ref"] for s in record["scenarios"]] == ["drills/900-dns"]
    assert record["invalid"] == []


def test_same_id_in_two_packs_is_reported(tmp_path: Path) -> None:
    make_pack_repo(tmp_path / "drills", ["001-nginx-502", "900-dns"])
    added = run(add.app, str(tmp_path / "drills"))
    assert "'001-nginx-502' is in more than one pack (official/001-nginx-502, drills/001-nginx-502)" in (
        added.stderr
    )
    result = run(list_.app)
    assert "official/001-nginx-502, drills/001-nginx-502" in result.stderr
    assert "name it as pack/id" in result.stderr
    ids = [line.split()[0] for line in result.stdout.splitlines()[2:]]
    assert "001-nginx-502" in ids and "drills/001-nginx-502" in ids


def test_ref_pins_the_pack(tmp_path: Path) -> None:
    repo = make_pack_repo(tmp_path / "drills", ["900-dns"])
    repo.create_tag("v1")
    add_scenario_commit(repo, "901-disk-full")
    result = run(add.app, str(tmp_path / "drills"), "--ref", "v1")
    assert result.exit_code == 0, result.output
    assert [line.split()[0] for line in listed("--pack", "drills")[2:]] == ["drills/900-dns"]
    record = json.loads(run(packs.app, "--json").stdout)[1]
    assert record["ref"] == "v1"
    assert record["commit"] == repo.tags["v1"].commit.hexsha


def test_add_again_updates(tmp_path: Path) -> None:
    repo = make_pack_repo(tmp_path / "drills", ["900-dns"])
    assert run(add.app, str(tmp_path / "drills")).exit_code == 0
    add_scenario_commit(repo, "902-cert-expired", title="The certificate expired")
    result = run(add.app, str(tmp_path / "drills"))
    assert result.exit_code == 0, result.output
    assert "Updated pack drills" in result.stderr
    assert "drills/902-cert-expired" in result.stdout
    assert "The certificate expired" in "\n".join(listed())
    assert len([p for p in pack_dir_entries() if p.endswith(".toml")]) == 1


@pytest.mark.parametrize("source", ["file:///nonexistent", "/nonexistent/pack", "./no-such-dir"])
def test_failed_clone_leaves_nothing(source: str) -> None:
    result = run(add.app, source)
    assert result.exit_code == 3
    assert result.stderr.startswith("Cloning") or "no such directory" in result.stderr
    assert "Error:" in result.stderr
    assert pack_dir_entries() == []
    assert [line.split()[0] for line in listed()[2:]] == ["001-nginx-502", "002-pg-locks"]


def test_add_reports_invalid_scenarios_and_keeps_the_pack(tmp_path: Path) -> None:
    repo = make_pack_repo(tmp_path / "drills", ["900-dns"])
    write_scenario(Path(repo.working_tree_dir) / "901-bad", meta={"id": "901-bad", "shell": "nginx"})
    repo.git.add("--all")
    repo.index.commit("a broken scenario")
    result = run(add.app, str(tmp_path / "drills"))
    assert result.exit_code == 3
    assert "901-bad: scenario is invalid" in result.stderr
    assert 'meta.json: shell: "nginx" is not a service of docker-compose.yml (services: web, app)' in (
        result.stderr
    )
    assert "drills/900-dns" in result.stdout
    assert [line.split()[0] for line in listed("--pack", "drills")[2:]] == ["drills/900-dns"]


def test_add_a_repository_without_scenarios_removes_it_again(tmp_path: Path) -> None:
    repo = make_pack_repo(tmp_path / "not-a-pack", [])
    (Path(repo.working_tree_dir) / "README.md").write_text("hello")
    repo.git.add("--all")
    repo.index.commit("readme")
    for extra in ([], ["--json"]):
        result = run(add.app, str(tmp_path / "not-a-pack"), *extra)
        assert result.exit_code == 3
        assert result.stdout == ""  # no table, no JSON record of a pack that is not kept
        assert "Added" not in result.stderr and "Note:" not in result.stderr
        error_lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert error_lines == [f"Error: {tmp_path / 'not-a-pack'}: no scenario found "
                               "(a scenario is a directory with meta.json)"]
        assert pack_dir_entries() == []


def test_an_update_that_leaves_no_scenario_keeps_the_pack_and_says_so(tmp_path: Path) -> None:
    repo = make_pack_repo(tmp_path / "drills", ["900-dns"])
    assert run(add.app, str(tmp_path / "drills")).exit_code == 0
    repo.git.rm("-r", "900-dns")
    repo.index.commit("remove the only scenario")
    result = run(add.app, str(tmp_path / "drills"))
    assert result.exit_code == 3
    assert result.stdout == ""
    assert "Error: pack drills" in result.stderr and "after the update, no scenario found" in result.stderr
    assert "Hint: replay-remove drills removes it" in result.stderr
    assert [p for p in pack_dir_entries() if p.endswith(".toml")] != []


def test_adding_a_pack_shows_what_it_runs_here_and_leaves_it_untrusted_without_a_terminal(
    tmp_path: Path,
) -> None:
    make_pack_repo(tmp_path / "drills", ["900-dns"])
    first = run(add.app, str(tmp_path / "drills"))
    assert first.exit_code == 0
    assert "Scripts run on this machine as you" in first.stderr
    assert "Pack drills is not trusted at" in first.stderr and "replay-trust drills --yes" in first.stderr
    assert "Scripts run on this machine" not in first.stdout
    update = run(add.app, str(tmp_path / "drills"))  # no new commit, still untrusted: said again
    assert update.exit_code == 0
    assert "Pack drills is not trusted at" in update.stderr


# -- replay-packs and replay-remove ----------------------------------------------------------


def test_packs_table_and_json(tmp_path: Path) -> None:
    repo = make_pack_repo(tmp_path / "drills", ["900-dns", "901-disk-full"])
    run(add.app, str(tmp_path / "drills"))
    lines = run(packs.app).stdout.splitlines()
    assert lines[0].split() == ["NAME", "REF", "COMMIT", "SCENARIOS", "SOURCE"]
    assert set(lines[1]) == {"-"}
    assert lines[2].split()[:4] == ["official", "-", "-", "2"]
    assert lines[3].split() == ["drills", "-", repo.head.commit.hexsha[:12], "2",
                                str((tmp_path / "drills").resolve())]
    records = json.loads(run(packs.app, "--json").stdout)
    assert [(r["name"], r["scenarios"]) for r in records] == [("official", 2), ("drills", 2)]
    assert records[1]["source"] == str((tmp_path / "drills").resolve())


def test_remove_pack(tmp_path: Path) -> None:
    make_pack_repo(tmp_path / "drills", ["900-dns"])
    run(add.app, str(tmp_path / "drills"))
    result = run(remove.app, "drills")
    assert result.exit_code == 0, result.output
    assert "Removed pack drills" in result.stderr
    assert [p for p in pack_dir_entries() if not p.startswith(".")] == []
    assert [line.split()[0] for line in listed()[2:]] == ["001-nginx-502", "002-pg-locks"]


def test_remove_unknown_and_official() -> None:
    assert run(remove.app, "ghost").exit_code == 4
    result = run(remove.app, "official")
    assert result.exit_code == 3
    assert "cannot be removed" in result.stderr


# -- replay-list through its cache (libreplay/packs/listing.py) ------------------------------
# The same output as a list that validates everything, after edits, a pack update, and a
# damaged cache file. The test's files are as old as the test: the racy window is shut.


@pytest.fixture
def no_racy_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listing, "RACY_SECONDS", 0)


def cold_and_warm(*args: str) -> tuple[Result, Result]:
    """A list with no cache, then one answered from the cache it left."""
    for cache in listing.cache_path(listing_pack()).parent.glob("*.json"):
        cache.unlink()
    return run(list_.app, *args), run(list_.app, *args)


def listing_pack() -> Any:
    from libreplay.packs.catalog import official_pack

    return official_pack()


@pytest.mark.parametrize("args", [(), ("--json",), ("--tag", "nginx")], ids=["table", "json", "tag"])
@pytest.mark.usefixtures("no_racy_window")
def test_warm_output_is_the_cold_output(official: Path, args: tuple[str, ...]) -> None:
    write_scenario(official / "003-bad", meta={"id": "003-bad", "difficulty": 7})
    cold, warm = cold_and_warm(*args)
    assert (warm.exit_code, warm.stdout, warm.stderr) == (cold.exit_code, cold.stdout, cold.stderr)
    assert "Warning: skipped an invalid scenario in pack official" in warm.stderr
    assert "meta.json: difficulty" in warm.stderr


@pytest.mark.usefixtures("no_racy_window")
def test_an_edit_shows_on_the_next_list(official: Path) -> None:
    run(list_.app)
    time.sleep(0.03)
    meta_path = official / "002-pg-locks" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["title"] = "Locks, retitled"
    meta_path.write_text(json.dumps(meta))
    assert "Locks, retitled" in run(list_.app).stdout


@pytest.mark.usefixtures("no_racy_window")
def test_a_pack_updated_by_add_shows_its_new_scenario(tmp_path: Path) -> None:
    repo = make_pack_repo(tmp_path / "drills", ["900-dns"])
    assert run(add.app, str(tmp_path / "drills")).exit_code == 0
    assert "drills/900-dns" in run(list_.app).stdout
    add_scenario_commit(repo, "901-disk", title="Disk full")
    assert run(add.app, str(tmp_path / "drills")).exit_code == 0  # the second add updates
    assert "drills/901-disk  2     Disk full" in run(list_.app).stdout


@pytest.mark.usefixtures("no_racy_window")
def test_a_garbage_cache_file_changes_nothing(official: Path) -> None:
    cold = run(list_.app)
    listing.cache_path(listing_pack()).write_bytes(b'{"version": 1, "entries": [1, 2')
    again = run(list_.app)
    assert (again.exit_code, again.stdout, again.stderr) == (cold.exit_code, cold.stdout, cold.stderr)
