"""The list cache (libreplay/packs/listing.py): what `list` shows is what validation would say.

Real files in temporary directories; validation is counted, so that each test sees whether the
cache answered or the scenario was validated again. Files a test writes are as old as the test,
so the racy window is shut (RACY_SECONDS = 0) except where it is the subject; an edit waits a
few clock ticks first, as a person's would, so that its timestamps can differ from the last."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from scenario_kit import write_scenario

from libreplay.core import paths
from libreplay.packs import catalog, listing
from libreplay.packs.catalog import Pack
from libreplay.scenario import load


@pytest.fixture(autouse=True)
def no_racy_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listing, "RACY_SECONDS", 0)


@pytest.fixture
def validated(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The directories validated, in order (the cache's misses)."""
    seen: list[Path] = []
    check = load.check_scenario

    def counting(directory: Path, **kwargs: Any) -> load.Checked:
        seen.append(directory)
        return check(directory, **kwargs)

    monkeypatch.setattr(load, "check_scenario", counting)
    return seen


@pytest.fixture
def pack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Pack:
    """An official pack of three scenarios, in a directory of the test's own."""
    root = tmp_path / "official"
    for scenario_id in ("a-502", "b-dns", "c-disk"):
        write_scenario(root / scenario_id, meta={"id": scenario_id, "title": f"Title {scenario_id}"})
    monkeypatch.setattr(paths, "official_pack_dir", lambda: root)
    return catalog.official_pack()


def listed(pack: Pack) -> tuple[list[tuple[str, str]], list[str]]:
    """(id, title) of each valid scenario, and the invalid ones' messages."""
    (found,) = listing.list_packs([pack])
    return [(s.id, s.title) for s in found.scenarios], found.invalid


def truth(pack: Pack) -> tuple[list[tuple[str, str]], list[str]]:
    """What validating everything says, without the cache."""
    scan = catalog.scan_pack(pack)
    return [(s.id, s.title) for s in scan.scenarios], [e.message for e in scan.invalid]


def edit(path: Path, text: str) -> None:
    time.sleep(0.03)  # a few clock ticks: a coarse file-system clock would stamp the same time
    path.write_text(text, encoding="utf-8")


def change_meta(directory: Path, change: Callable[[dict[str, Any]], None]) -> None:
    meta = json.loads((directory / "meta.json").read_text())
    change(meta)
    edit(directory / "meta.json", json.dumps(meta, indent=2))


def test_a_second_list_validates_nothing_and_says_the_same(pack: Pack, validated: list[Path]) -> None:
    first = listed(pack)
    assert len(validated) == 3
    assert listed(pack) == first == truth(pack)
    assert len(validated) == 3  # the second list validated none


def test_an_edited_scenario_shows_its_edit_and_only_it_is_validated(
    pack: Pack, validated: list[Path]
) -> None:
    listed(pack)
    validated.clear()
    # The same size and the same inode: only the timestamps tell.
    change_meta(pack.directory / "b-dns", lambda meta: meta.update(title="Title B-DNS"))
    scenarios, invalid = listed(pack)
    assert ("b-dns", "Title B-DNS") in scenarios and invalid == []
    assert validated == [pack.directory / "b-dns"]


def test_a_time_too_far_ahead_to_pack_is_validated_every_time(pack: Pack, validated: list[Path]) -> None:
    """A stamp is packed in 64 bits of nanoseconds: a file dated after 2262 cannot be, and its
    scenario is validated on every list rather than kept by a stamp that could not tell."""
    listed(pack)
    validated.clear()
    change_meta(pack.directory / "b-dns", lambda meta: meta.update(title="Title B-DNS"))
    far = 2**63 + 10**9  # past what a signed 64-bit count of nanoseconds holds
    os.utime(pack.directory / "b-dns" / "meta.json", ns=(far, far))
    for _ in range(2):
        assert listed(pack) == truth(pack)
        assert ("b-dns", "Title B-DNS") in listed(pack)[0]
    assert validated and set(validated) == {pack.directory / "b-dns"}


def test_a_scenario_that_became_invalid_is_reported_not_listed(pack: Pack) -> None:
    listed(pack)
    change_meta(pack.directory / "a-502", lambda meta: meta.update(difficulty=9))
    scenarios, invalid = listed(pack)
    assert [sid for sid, _ in scenarios] == ["b-dns", "c-disk"]
    assert len(invalid) == 1 and "difficulty" in invalid[0]
    assert listed(pack) == truth(pack)


def test_a_file_the_scenario_names_removed_or_edited_in_a_subdirectory(pack: Pack) -> None:
    listed(pack)
    (pack.directory / "a-502" / "broken" / "default.conf").unlink()  # the cp step's source
    scenarios, invalid = listed(pack)
    assert "a-502" not in [sid for sid, _ in scenarios]
    assert "broken/default.conf does not exist" in invalid[0]
    (pack.directory / "a-502" / "broken" / "default.conf").mkdir()  # now a directory
    assert "is a directory" in listed(pack)[1][0]
    assert listed(pack) == truth(pack)


def test_a_file_that_appears_changes_the_answer(pack: Pack, tmp_path: Path) -> None:
    """.env was absent when validated: no stamp of its own, its directory's stamp tells."""
    listed(pack)
    outside = tmp_path / "secrets.env"
    outside.write_text("TOKEN=1\n")
    time.sleep(0.03)
    (pack.directory / "c-disk" / ".env").symlink_to(outside)
    scenarios, invalid = listed(pack)
    assert "c-disk" not in [sid for sid, _ in scenarios]
    assert ".env: a link to a file outside the scenario directory" in invalid[0]


def test_a_compose_file_edited_to_drop_a_service_the_meta_names(pack: Pack) -> None:
    listed(pack)
    edit(pack.directory / "b-dns" / "docker-compose.yml", "services:\n  app:\n    image: debian\n")
    invalid = listed(pack)[1]
    assert len(invalid) == 1 and '"web" is not a service' in invalid[0]


def test_scenarios_added_and_removed_show_on_the_next_list(pack: Pack) -> None:
    listed(pack)
    write_scenario(pack.directory / "d-new", meta={"id": "d-new", "title": "New"})
    assert ("d-new", "New") in listed(pack)[0]
    (pack.directory / "a-502" / "meta.json").unlink()  # no longer a scenario directory
    assert [sid for sid, _ in listed(pack)[0]] == ["b-dns", "c-disk", "d-new"]
    assert listed(pack) == truth(pack)


def test_a_scenario_added_beside_others_is_the_only_one_validated(pack: Pack, validated: list[Path]) -> None:
    listed(pack)
    validated.clear()
    write_scenario(pack.directory / "d-new", meta={"id": "d-new", "title": "New"})
    assert ("d-new", "New") in listed(pack)[0]
    assert validated == [pack.directory / "d-new"]  # its siblings' track file is still absent
    validated.clear()
    (pack.directory / "track.json").write_text('{"name": "t", "title": "T", "scenarios": ["a-502"]}')
    listed(pack)
    assert len(validated) == 4  # a track file made where they sit: every one of them asked again


def test_a_pack_at_a_new_commit_is_validated_again(tmp_path: Path, validated: list[Path]) -> None:
    clone = tmp_path / "clone"
    write_scenario(clone / "x-one", meta={"id": "x-one", "title": "One"})
    git = ["git", "-C", str(clone), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "one"], check=True)
    added = Pack("acme/drills", clone, source="https://example.invalid/drills.git")
    listed(added)
    listed(added)
    assert len(validated) == 1
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "two"], check=True)
    assert listed(added) == ([("x-one", "One")], [])
    assert len(validated) == 2


def test_the_commit_is_read_without_git(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    clone.mkdir()
    git = ["git", "-C", str(clone), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    assert listing.head_commit_cheaply(clone) is None  # an unborn branch
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "one"], check=True)

    def head() -> str:
        return subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()

    assert listing.head_commit_cheaply(clone) == head()
    subprocess.run([*git, "pack-refs", "--all"], check=True)  # the branch now in packed-refs only
    assert not (clone / ".git" / "refs" / "heads" / "main").exists()
    assert listing.head_commit_cheaply(clone) == head()
    subprocess.run([*git, "checkout", "-q", "--detach"], check=True)
    assert listing.head_commit_cheaply(clone) == head()
    assert listing.head_commit_cheaply(tmp_path) is None  # no clone at all


def test_a_change_to_the_validator_validates_everything_again(
    pack: Pack, validated: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    validator = tmp_path / "validator"
    validator.mkdir()
    (validator / "load.py").write_text("rules = 1\n")
    monkeypatch.setattr(listing, "VALIDATOR_DIR", validator)
    listed(pack)
    edit(validator / "load.py", "rules = 22\n")
    listed(pack)
    assert len(validated) == 6


@pytest.mark.parametrize("upgrade", ["replaybook", "python", "yaml"])
def test_a_changed_version_of_what_validates_validates_everything_again(
    pack: Pack, validated: list[Path], monkeypatch: pytest.MonkeyPatch, upgrade: str
) -> None:
    import libreplay

    listed(pack)  # validates the pack's six scenarios and caches them
    if upgrade == "replaybook":
        monkeypatch.setattr(libreplay, "__version__", "99.0")
    elif upgrade == "python":
        monkeypatch.setattr(sys, "version", "3.99.0 (another build)")
    else:  # PyYAML upgraded, or reinstalled with or without its libyaml extension: its files change
        stamp_of = listing._stamp_of
        monkeypatch.setattr(listing, "_stamp_of",
                            lambda path: "anew" if path.parent.name == "yaml" else stamp_of(path))
    listed(pack)
    assert len(validated) == 6


def test_a_validator_that_cannot_be_stamped_trusts_nothing(
    pack: Pack, validated: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listing, "ERRORS_MODULE", tmp_path / "gone.py")
    assert listed(pack) == listed(pack) == truth(pack)
    assert len(validated) == 6


@pytest.mark.parametrize("damage", [
    b"\x00\xff not json", b"[]", b'{"version": 1}', b"", b"{" * 100_000,
], ids=["garbage", "a-list", "no-entries", "empty", "deep"])
def test_a_damaged_cache_file_is_ignored_and_rebuilt(
    pack: Pack, validated: list[Path], damage: bytes
) -> None:
    expected = listed(pack)
    listing.cache_path(pack).write_bytes(damage)
    assert listed(pack) == expected
    assert len(validated) == 6
    assert listed(pack) == expected
    assert len(validated) == 6  # rebuilt: the third list is answered from it


def test_entries_of_the_wrong_shape_are_validated_again(pack: Pack, validated: list[Path]) -> None:
    listed(pack)
    path = listing.cache_path(pack)
    data = json.loads(path.read_text())
    entries = list(data["entries"].values())
    entries[0]["summary"][listing.SUMMARY_FIELDS.index("difficulty")] = "2"
    entries[1]["paths"] = "meta.json"
    entries[2]["summary"] = None  # invalid, but without a message
    path.write_text(json.dumps(data))
    assert listed(pack) == truth(pack)
    assert len(validated) == 3 + 3


def test_a_forged_summary_with_a_stale_digest_is_not_shown(pack: Pack) -> None:
    """An entry is trusted for its stamps, not for its contents."""
    listed(pack)
    path = listing.cache_path(pack)
    data = json.loads(path.read_text())
    for entry in data["entries"].values():
        entry["summary"][listing.SUMMARY_FIELDS.index("title")] = "forged"
        entry["stamps"] = "1 2 3 4 5 6;"
    path.write_text(json.dumps(data))
    assert "forged" not in {title for _, title in listed(pack)[0]}


def test_a_cache_that_cannot_be_written_leaves_the_list_right(pack: Pack, validated: list[Path]) -> None:
    listing.cache_path(pack).mkdir(parents=True)  # a directory where the file goes
    assert listed(pack) == truth(pack)
    assert listed(pack) == truth(pack)


def test_a_file_changed_within_the_racy_window_is_not_kept(
    pack: Pack, validated: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listing, "RACY_SECONDS", 2)
    listed(pack)
    listed(pack)
    assert len(validated) == 6  # everything was written just now: validated both times


def test_a_scenario_reached_through_a_link_is_validated_every_time(
    pack: Pack, validated: list[Path], tmp_path: Path
) -> None:
    elsewhere = write_scenario(tmp_path / "elsewhere" / "e-linked",
                               meta={"id": "e-linked", "title": "Linked"})
    (pack.directory / "e-linked").symlink_to(elsewhere)
    listed(pack)
    validated.clear()
    assert ("e-linked", "Linked") in listed(pack)[0]
    assert validated == [pack.directory / "e-linked"]
    change_meta(elsewhere, lambda meta: meta.update(title="Linked, edited"))
    assert ("e-linked", "Linked, edited") in listed(pack)[0]


def test_a_file_named_through_a_linked_directory_is_validated_every_time(
    pack: Pack, validated: list[Path], tmp_path: Path
) -> None:
    scenario = pack.directory / "a-502"
    (scenario / "broken").rename(scenario / "real-broken")
    (scenario / "broken").symlink_to("real-broken")
    (scenario / "empty").mkdir()
    listed(pack)
    validated.clear()
    assert "a-502" in [sid for sid, _ in listed(pack)[0]]
    assert validated == [scenario]
    (scenario / "broken").unlink()
    (scenario / "broken").symlink_to("empty")
    invalid = listed(pack)[1]
    assert len(invalid) == 1 and "broken/default.conf does not exist" in invalid[0]


def test_a_file_only_looked_for_is_covered_by_its_directory(pack: Pack, validated: list[Path]) -> None:
    """The cp step's source is only looked for: its directory's stamp stands for it, and tells
    when it goes, becomes a directory or a link."""
    scenario = pack.directory / "a-502"
    source = scenario / "broken" / "default.conf"
    listed(pack)
    entry = json.loads(listing.cache_path(pack).read_text())["entries"][str(scenario)]
    # "../track.json" is where the scenario's track file would be: stamped, absent or not.
    assert entry["paths"] == ["", "../track.json", "broken", "docker-compose.yml", "meta.json"]
    validated.clear()
    edit(source, "changed, and no matter: only its being there counts\n")
    listed(pack)
    assert validated == []
    source.rename(scenario / "elsewhere.conf")
    source.symlink_to("../elsewhere.conf")
    assert listed(pack) == truth(pack)
    assert validated == [scenario]


def test_a_file_that_is_a_link_is_validated_every_time(pack: Pack, validated: list[Path]) -> None:
    scenario = pack.directory / "a-502"
    (scenario / "broken" / "default.conf").rename(scenario / "real.conf")
    (scenario / "broken" / "default.conf").symlink_to("../real.conf")
    listed(pack)
    validated.clear()
    listed(pack)
    assert validated == [scenario]


def test_forget_drops_the_pack_file(pack: Pack) -> None:
    listed(pack)
    assert listing.cache_path(pack).is_file()
    listing.forget(pack)
    assert not listing.cache_path(pack).exists()
    listing.forget(pack)  # twice: nothing to drop, no error


def test_the_cache_lives_in_the_state_directory(pack: Pack) -> None:
    listed(pack)
    assert listing.cache_path(pack).parent == paths.state_dir() / "list-cache"
    assert [file.name for file in (paths.state_dir() / "list-cache").iterdir()] == ["official.json"]
