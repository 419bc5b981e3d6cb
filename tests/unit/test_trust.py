"""Pack trust (libreplay/packs/trust.py): tied to the pack's source and commit, with real git packs."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
from scenario_kit import DELETE, add_scenario_commit, make_pack_repo, write_scenario

from libreplay.core import paths
from libreplay.core.errors import InvalidInput, PackError, PackUntrusted
from libreplay.packs import catalog as packs
from libreplay.packs import trust
from libreplay.scenario.load import load_scenario

ESCAPES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture(autouse=True)
def official(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "official"
    write_scenario(root / "001-nginx-502", meta={"id": "001-nginx-502"})
    monkeypatch.setattr(paths, "official_pack_dir", lambda: root)
    return root


def added(tmp_path: Path, ids: tuple[str, ...] = ("900-dns",)) -> tuple[packs.Pack, object]:
    repo = make_pack_repo(tmp_path / "drills", list(ids))
    return packs.add_pack(str(tmp_path / "drills")), repo


# -- the record --------------------------------------------------------------------------------


def test_an_added_pack_is_not_trusted_until_trusted_at_its_commit(tmp_path: Path) -> None:
    pack, repo = added(tmp_path)
    assert not trust.is_trusted(pack)
    record = trust.trust(pack)
    assert record.commit == repo.head.commit.hexsha == trust.pack_commit(pack)  # type: ignore[attr-defined]
    assert trust.is_trusted(pack)
    [stored] = trust.trusted_records()
    assert (stored.source, stored.commit) == (pack.source, pack.commit)
    assert isinstance(stored.trusted_at, datetime) and stored.trusted_at.tzinfo is not None
    trust.trust(pack)  # trusting again keeps one record per source and commit
    assert len(trust.trusted_records()) == 1
    assert paths.trust_path().parent == paths.data_dir()


def test_an_update_that_moves_the_commit_asks_again(tmp_path: Path) -> None:
    pack, repo = added(tmp_path)
    first = pack.commit
    repo.create_tag("v1")  # type: ignore[attr-defined]
    trust.trust(pack)
    add_scenario_commit(repo, "901-disk-full")
    updated = packs.add_pack(str(tmp_path / "drills"))
    assert updated.commit != first
    assert not trust.is_trusted(updated)
    trust.trust(updated)
    assert trust.is_trusted(updated)
    back = packs.add_pack(str(tmp_path / "drills"), ref="v1")  # a commit trusted before
    assert back.commit == first and trust.is_trusted(back)


def test_the_commit_checked_out_counts_not_the_record(tmp_path: Path) -> None:
    pack, repo = added(tmp_path)
    trust.trust(pack)
    add_scenario_commit(repo, "901-disk-full")
    import git

    with git.Repo(pack.directory) as clone:  # moved by hand, behind replaybook's back
        clone.git.pull("origin", "main")
    assert packs.get_pack("drills").commit == pack.commit
    assert not trust.is_trusted(packs.get_pack("drills"))


def test_the_answer_covers_the_commit_that_was_shown(tmp_path: Path) -> None:
    pack, repo = added(tmp_path)
    shown = trust.summarize(pack).commit
    add_scenario_commit(repo, "901-disk-full")
    moved = packs.add_pack(str(tmp_path / "drills"))  # updated while the question was on screen
    trust.trust(moved, commit=shown)
    assert trust.is_trusted(moved, commit=shown)
    assert not trust.is_trusted(moved)


def test_the_same_commit_from_another_source_is_not_trusted(tmp_path: Path) -> None:
    pack, _repo = added(tmp_path)
    trust.trust(pack)
    import shutil

    shutil.copytree(tmp_path / "drills", tmp_path / "mirror" / "drills")
    other = packs.add_pack(str(tmp_path / "mirror" / "drills"))
    assert other.commit == pack.commit
    assert not trust.is_trusted(other)


def test_forget_drops_the_answers_of_a_source(tmp_path: Path) -> None:
    pack, _repo = added(tmp_path)
    trust.trust(pack)
    trust.forget(pack)
    assert trust.trusted_records() == []
    assert not trust.is_trusted(pack)


def test_a_broken_trust_file_names_itself_and_odd_entries_count_as_no_answer(tmp_path: Path) -> None:
    pack, _repo = added(tmp_path)
    paths.trust_path().parent.mkdir(parents=True, exist_ok=True)
    paths.trust_path().write_text("[[trusted]\n")
    with pytest.raises(InvalidInput, match=re.escape(str(paths.trust_path()))):
        trust.is_trusted(pack)
    paths.trust_path().write_text(
        f'trusted = [1, {{source = "{pack.source}", commit = 7}}, {{source = "{pack.source}"}}]\n'
    )
    assert not trust.is_trusted(pack)
    trust.trust(pack)  # the odd entries are dropped, the answer is added
    assert trust.is_trusted(pack)


def test_a_clone_without_a_commit_is_a_pack_error(tmp_path: Path) -> None:
    pack, _repo = added(tmp_path)
    import shutil

    shutil.rmtree(pack.directory / ".git")
    with pytest.raises(PackError, match="has no readable commit checked out"):
        trust.pack_commit(pack)


# -- which scenarios need it ----------------------------------------------------------------------


def test_official_and_local_scenarios_need_no_trust(tmp_path: Path, official: Path) -> None:
    trust.require_trust(packs.resolve_scenario("001-nginx-502"))
    assert trust.is_trusted(packs.official_pack())
    mine = write_scenario(tmp_path / "work" / "mine", meta={"id": "mine"})
    scenario = packs.resolve_scenario(str(mine))
    assert scenario.pack == packs.LOCAL
    trust.require_trust(scenario)
    assert not paths.trust_path().exists()


def test_a_scenario_of_an_untrusted_pack_is_refused_however_it_is_named(tmp_path: Path) -> None:
    pack, _repo = added(tmp_path)
    by_ref = packs.resolve_scenario("drills/900-dns")
    by_path = packs.resolve_scenario(str(pack.directory / "900-dns"))
    # Loaded under another name, the directory still gives it away.
    disguised = load_scenario(pack.directory / "900-dns", pack=packs.LOCAL)
    for scenario in (by_ref, by_path, disguised):
        with pytest.raises(PackUntrusted) as caught:
            trust.require_trust(scenario)
        error = caught.value
        assert error.exit_code == 7
        assert (error.pack, error.commit) == ("drills", pack.commit)
        assert f"pack drills is not trusted at commit {pack.commit[:12]}" in error.message  # type: ignore[index]
        assert "nothing was run" in error.message
        assert "replay-trust drills --yes" in error.message
    trust.trust(pack)
    for scenario in (by_ref, by_path, disguised):
        trust.require_trust(scenario)


def test_no_added_pack_is_named_local(tmp_path: Path) -> None:
    make_pack_repo(tmp_path / "local", ["900-dns"])
    pack = packs.add_pack(str(tmp_path / "local"))
    assert pack.name == "local-2"
    with pytest.raises(PackUntrusted):
        trust.require_trust(packs.resolve_scenario("local-2/900-dns"))


# -- the summary -----------------------------------------------------------------------------------


def test_the_summary_lists_every_host_script_and_service(tmp_path: Path) -> None:
    repo = make_pack_repo(tmp_path / "drills", ["900-dns"])
    root = Path(repo.working_tree_dir)
    write_scenario(
        root / "910-faults",
        meta={"id": "910-faults", "break": DELETE, "success_condition": "exit_zero",
              "success_target": DELETE,
              "faults": [{"name": "wrong-owner", "script": "faults/owner.sh", "solve": "fix-owner.sh"},
                         {"name": "stopped", "break": [{"restart": {"service": "web"}}]}],
              "guards": [{"name": "kept", "condition": "exit_zero", "script": "guards/kept.sh",
                          "message": "the data went"}]},
        compose={"services": {"web": {"build": {"context": "./web", "dockerfile": "Dockerfile.web"}},
                              "db": {"image": "${DB_IMAGE:-postgres:16}"}}},  # shown as Compose resolves it
        files={"faults/owner.sh": "chown\nnobody\nx", "fix-owner.sh": "chown root\n",
               "check.sh": "exit 0\n", "web/Dockerfile.web": "FROM debian:bookworm-slim\n",
               "guards/kept.sh": "test -s /data\n"},
    )
    repo.git.add("--all")
    repo.index.commit("a scenario with faults")
    pack = packs.add_pack(str(tmp_path / "drills"))
    summary = trust.summarize(pack)
    assert (summary.pack, summary.commit, summary.invalid) == ("drills", pack.commit, 0)
    by_ref = {s.ref: s for s in summary.scenarios}
    faults = by_ref["drills/910-faults"]
    scripts = {s.path: (s.uses, s.size_bytes, s.lines) for s in faults.scripts}
    assert scripts == {
        "check.sh": ("check", 7, 1),
        "guards/kept.sh": ("guard (kept)", 14, 1),
        "faults/owner.sh": ("break (wrong-owner)", 14, 3),  # no newline at the end: still 3 lines
        "fix-owner.sh": ("solve (wrong-owner)", 11, 1),
        "solve.sh": ("solve (stopped)", len(b"#!/usr/bin/env bash\nexit 0\n"), 2),
    }
    assert {v.name: v.runs for v in faults.services} == {
        "web": "built from ./web (Dockerfile.web)", "db": "image postgres:16",
    }
    text = "\n".join(summary.lines())
    assert f"Pack drills at commit {pack.commit[:12]}" in text  # type: ignore[index]
    assert "script   faults/owner.sh  3 lines, 14 bytes: break (wrong-owner)" in text
    assert "service  db               image postgres:16" in text
    assert "Scripts run on this machine as you" in text
    assert summary.to_dict()["scenarios"][1]["scripts"][0] == {
        "path": "check.sh", "uses": "check", "bytes": 7, "lines": 1,
    }


def test_the_summary_makes_hostile_text_inert(tmp_path: Path) -> None:
    hostile_dir = "dr\x1b]0;owned\x07ills\u202e"
    hostile_script = "br\x1b[2J\x1b]52;c;ZXZpbA==\x07eak\u200b.sh"
    repo = make_pack_repo(tmp_path / hostile_dir, [])
    write_scenario(
        Path(repo.working_tree_dir) / "900-x",
        meta={"id": "900-x", "break": DELETE, "faults": [{"name": "f", "script": hostile_script}]},
        files={hostile_script: "echo\x1b[31m red\n"},
    )
    repo.git.add("--all")
    repo.index.commit("hostile")
    pack = packs.add_pack(str(tmp_path / hostile_dir))
    assert "\x1b" in pack.name
    summary = trust.summarize(pack)
    text = "\n".join(summary.lines())
    assert not ESCAPES.search(text), repr(text)
    assert "Pack drills at commit" in text
    assert "break.sh" in text
    error = trust.not_trusted(pack)
    assert not ESCAPES.search(error.message + (error.hint or ""))
