"""Packs: naming a source, finding scenario directories, resolving a scenario name, add/remove."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import git
import pytest
from scenario_kit import add_scenario_commit, make_pack_repo, write_scenario

from libreplay.core import paths
from libreplay.core.errors import Ambiguous, EnvironmentProblem, NotFound, PackError, ScenarioInvalid
from libreplay.packs import catalog as packs


@pytest.fixture
def official(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An official pack of our own, so that tests do not depend on the shipped scenarios."""
    root = tmp_path / "official"
    for scenario_id in ("001-nginx-502", "002-pg-locks"):
        write_scenario(root / scenario_id, meta={"id": scenario_id})
    monkeypatch.setattr(paths, "official_pack_dir", lambda: root)
    return root


# -- parse_source ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "url", "name"),
    [
        ("acme/incident-pack", "https://github.com/acme/incident-pack.git", "acme/incident-pack"),
        ("https://git.example.com/ops/drills.git", "https://git.example.com/ops/drills.git", "ops/drills"),
        ("https://github.com/acme/pack/", "https://github.com/acme/pack/", "acme/pack"),
        ("git@github.com:acme/pack.git", "git@github.com:acme/pack.git", "acme/pack"),
        ("ssh://git@host:2222/team/pack.git", "ssh://git@host:2222/team/pack.git", "team/pack"),
        ("file:///srv/git/pack", "file:///srv/git/pack", "git/pack"),
    ],
)
def test_parse_source_remote(source: str, url: str, name: str) -> None:
    spec = packs.parse_source(source)
    assert (spec.url, spec.name) == (url, name)


def test_parse_source_local_repository_is_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    git.Repo.init(tmp_path / "my-pack")
    monkeypatch.chdir(tmp_path)
    spec = packs.parse_source("./my-pack")
    assert spec.url == str((tmp_path / "my-pack").resolve())
    assert spec.name == "my-pack"


def test_parse_source_bare_repository(tmp_path: Path) -> None:
    git.Repo.init(tmp_path / "drills.git", bare=True)
    spec = packs.parse_source(str(tmp_path / "drills.git"))
    assert spec.name == "drills"


def test_parse_source_directory_that_is_not_git(tmp_path: Path) -> None:
    with pytest.raises(PackError, match="not a git repository"):
        packs.parse_source(str(tmp_path))


@pytest.mark.parametrize("source", ["./missing", "../missing", "/nonexistent/pack", "~/nonexistent-pack"])
def test_parse_source_missing_path_is_not_mistaken_for_github(source: str) -> None:
    with pytest.raises(PackError, match="no such directory"):
        packs.parse_source(source)


@pytest.mark.parametrize("source", ["just-a-word", "a/b/c", "owner/repo with space"])
def test_parse_source_rejects_what_is_no_source(source: str) -> None:
    with pytest.raises(PackError, match="not a local git repository, a git URL or a GitHub owner/repo"):
        packs.parse_source(source)


# -- discovery ------------------------------------------------------------------------------


def test_scenario_dirs_root_children_and_grandchildren(tmp_path: Path) -> None:
    write_scenario(tmp_path / "a-first")
    write_scenario(tmp_path / "group" / "b-nested")
    write_scenario(tmp_path / "group" / "deeper" / "too-deep" / "c")  # three levels: not found
    write_scenario(tmp_path / ".hidden")
    write_scenario(tmp_path / "group" / ".hidden-nested")
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text("pack readme")

    found = list(packs.scenario_dirs(tmp_path))

    assert found == [tmp_path / "a-first", tmp_path / "group" / "b-nested"]


def test_scenario_dirs_of_a_single_scenario_repository(tmp_path: Path) -> None:
    write_scenario(tmp_path)
    write_scenario(tmp_path / "inner")  # a scenario root is not searched further
    assert list(packs.scenario_dirs(tmp_path)) == [tmp_path]


def test_scenario_dirs_of_a_missing_directory_is_empty(tmp_path: Path) -> None:
    assert list(packs.scenario_dirs(tmp_path / "nope")) == []


def test_scan_pack_separates_invalid_scenarios(tmp_path: Path) -> None:
    write_scenario(tmp_path / "good")
    write_scenario(tmp_path / "bad", meta={"difficulty": 9})
    scan = packs.scan_pack(packs.Pack("mine", tmp_path, source="test"))
    assert [s.id for s in scan.scenarios] == ["demo-502"]
    assert scan.scenarios[0].pack == "mine"
    assert len(scan.invalid) == 1
    assert "meta.json: difficulty" in scan.invalid[0].message


# -- resolve --------------------------------------------------------------------------------


def test_resolve_by_id(official: Path) -> None:
    scenario = packs.resolve_scenario("002-pg-locks")
    assert (scenario.pack, scenario.id, scenario.directory) == ("official", "002-pg-locks",
                                                                 official / "002-pg-locks")


def test_resolve_by_pack_and_id(official: Path, tmp_path: Path) -> None:
    make_pack_repo(tmp_path / "drills", ["001-nginx-502", "900-dns"])
    added = packs.add_pack(str(tmp_path / "drills"))
    assert packs.resolve_scenario("drills/900-dns").ref == "drills/900-dns"
    assert packs.resolve_scenario("official/001-nginx-502").pack == "official"
    assert packs.resolve_scenario(f"{added.name}/001-nginx-502").directory.is_relative_to(added.directory)


def test_resolve_by_path(official: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = write_scenario(tmp_path / "work" / "mine", meta={"id": "my-own"})
    assert packs.resolve_scenario(str(directory)).id == "my-own"
    monkeypatch.chdir(tmp_path / "work")
    scenario = packs.resolve_scenario("./mine")
    assert (scenario.id, scenario.pack) == ("my-own", "local")
    monkeypatch.chdir(tmp_path)
    assert packs.resolve_scenario("work/mine").id == "my-own"  # a relative path without ./


def test_resolve_a_path_that_does_not_exist(official: Path) -> None:
    with pytest.raises(NotFound, match="no such scenario directory"):
        packs.resolve_scenario("./not-here")


def test_resolve_an_id_in_two_packs_names_both(official: Path, tmp_path: Path) -> None:
    make_pack_repo(tmp_path / "drills", ["001-nginx-502"])
    packs.add_pack(str(tmp_path / "drills"))
    with pytest.raises(Ambiguous) as caught:
        packs.resolve_scenario("001-nginx-502")
    assert "official/001-nginx-502" in caught.value.message
    assert "drills/001-nginx-502" in caught.value.message
    assert caught.value.hint is not None and "pack/id" in caught.value.hint
    assert caught.value.exit_code == 3


def test_resolve_not_found_suggests_close_ids(official: Path) -> None:
    with pytest.raises(NotFound) as caught:
        packs.resolve_scenario("001-nginx-503")
    assert caught.value.hint == "did you mean 001-nginx-502?"
    assert caught.value.exit_code == 4


def test_resolve_not_found_without_close_match_points_at_list(official: Path) -> None:
    with pytest.raises(NotFound) as caught:
        packs.resolve_scenario("zzz")
    assert caught.value.hint == "replay-list shows every scenario"


def test_resolve_unknown_pack(official: Path) -> None:
    with pytest.raises(NotFound, match="no pack named 'nobody/pack'"):
        packs.resolve_scenario("nobody/pack/001-nginx-502")


def test_resolve_an_invalid_scenario_reports_its_problems(official: Path) -> None:
    write_scenario(official / "003-broken", meta={"id": "003-broken", "difficulty": 0})
    with pytest.raises(ScenarioInvalid) as caught:
        packs.resolve_scenario("003-broken")
    assert "meta.json: difficulty" in caught.value.message


# -- add, update, remove --------------------------------------------------------------------


def test_add_records_the_pack_and_commit(official: Path, tmp_path: Path) -> None:
    repo = make_pack_repo(tmp_path / "drills", ["900-dns"])
    pack = packs.add_pack(str(tmp_path / "drills"))
    assert pack.name == "drills"
    assert pack.commit == repo.head.commit.hexsha
    assert pack.directory.parent == paths.packs_dir()
    assert [p.name for p in packs.installed_packs()] == ["official", "drills"]
    assert packs.get_pack("drills").source == str((tmp_path / "drills").resolve())


def test_add_again_updates(official: Path, tmp_path: Path) -> None:
    repo = make_pack_repo(tmp_path / "drills", ["900-dns"])
    first = packs.add_pack(str(tmp_path / "drills"))
    new_commit = add_scenario_commit(repo, "901-disk-full")
    second = packs.add_pack(str(tmp_path / "drills"))
    assert second.directory == first.directory
    assert second.commit == new_commit
    assert sorted(s.id for s in packs.scan_pack(second).scenarios) == ["900-dns", "901-disk-full"]
    assert len(packs.installed_packs()) == 2


def test_add_with_ref_pins_and_update_keeps_the_pin(official: Path, tmp_path: Path) -> None:
    repo = make_pack_repo(tmp_path / "drills", ["900-dns"])
    pinned = repo.head.commit.hexsha
    repo.create_tag("v1")
    add_scenario_commit(repo, "901-disk-full")
    pack = packs.add_pack(str(tmp_path / "drills"), ref="v1")
    assert (pack.ref, pack.commit) == ("v1", pinned)
    assert [s.id for s in packs.scan_pack(pack).scenarios] == ["900-dns"]
    again = packs.add_pack(str(tmp_path / "drills"))
    assert (again.ref, again.commit) == ("v1", pinned)


def test_add_with_unknown_ref_leaves_nothing(official: Path, tmp_path: Path) -> None:
    make_pack_repo(tmp_path / "drills", ["900-dns"])
    with pytest.raises(PackError, match="could not clone"):
        packs.add_pack(str(tmp_path / "drills"), ref="no-such-ref")
    assert list(paths.packs_dir().iterdir()) == []


def test_failed_clone_leaves_nothing(official: Path) -> None:
    with pytest.raises(PackError, match="could not clone file:///nonexistent"):
        packs.add_pack("file:///nonexistent")
    assert list(paths.packs_dir().iterdir()) == []


def test_an_unreachable_remote_is_an_environment_problem(official: Path) -> None:
    # Port 1 on the loopback refuses at once: the same answer as a machine without network.
    with pytest.raises(EnvironmentProblem, match=r"the remote cannot be reached: .*127\.0\.0\.1") as caught:
        packs.add_pack("http://127.0.0.1:1/acme/pack.git")
    assert caught.value.exit_code == 5
    assert list(paths.packs_dir().iterdir()) == []


def test_a_missing_git_executable_is_an_environment_problem(tmp_path: Path) -> None:
    """GitPython raises ImportError("Bad git executable") on import: replay-add must say so, exit 5."""
    make_pack_repo(tmp_path / "drills", ["900-dns"])
    home = tmp_path / "home"
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_PYTHON")}
    env.update(PATH=str(tmp_path / "no-git-here"), REPLAYBOOK_HOME=str(home))
    assert shutil.which("git", path=env["PATH"]) is None
    executable = Path(sys.executable).with_name("replay-add")
    result = subprocess.run([str(executable), str(tmp_path / "drills")], capture_output=True, text=True,
                            env=env, timeout=60, check=False)
    assert result.returncode == 5, result.stderr
    assert "Error: git is not installed" in result.stderr
    assert "Hint: replaybook doctor --fix" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    packs_dir = home / "data" / "packs"
    assert not packs_dir.exists() or list(packs_dir.iterdir()) == []


def test_add_two_sources_with_the_same_name(official: Path, tmp_path: Path) -> None:
    make_pack_repo(tmp_path / "a" / "drills", ["900-dns"])
    make_pack_repo(tmp_path / "b" / "drills", ["901-disk-full"])
    first = packs.add_pack(str(tmp_path / "a" / "drills"))
    second = packs.add_pack(str(tmp_path / "b" / "drills"))
    assert (first.name, second.name) == ("drills", "drills-2")
    assert first.directory != second.directory


def test_remove_deletes_clone_and_record(official: Path, tmp_path: Path) -> None:
    make_pack_repo(tmp_path / "drills", ["900-dns"])
    pack = packs.add_pack(str(tmp_path / "drills"))
    removed = packs.remove_pack("drills")
    assert removed.directory == pack.directory
    assert [p.name for p in packs.installed_packs()] == ["official"]
    assert [p.name for p in paths.packs_dir().iterdir() if not p.name.startswith(".")] == []


def test_remove_official_or_unknown(official: Path) -> None:
    with pytest.raises(PackError, match="cannot be removed"):
        packs.remove_pack("official")
    with pytest.raises(NotFound, match="no pack named 'ghost'"):
        packs.remove_pack("ghost")


@pytest.mark.parametrize("source", ["", "  "])
def test_parse_source_rejects_an_empty_source(source: str) -> None:
    with pytest.raises(PackError, match="no source given"):
        packs.parse_source(source)
