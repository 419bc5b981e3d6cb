"""Tracks (docs/scenario-format.md, "Tracks"): the track file, a scenario's place in it, a build
from the track's shared directory, `list --tracks` / `list --track NAME`, and the campaign walking
a track (`next --track NAME`)."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from scenario_kit import write_scenario
from typer.testing import CliRunner

from libreplay.core import paths
from libreplay.core.errors import ScenarioInvalid
from libreplay.progress import campaign
from libreplay.progress.campaign import CampaignScenario
from libreplay.scenario import sandbox
from libreplay.scenario.load import load_scenario
from replaybook.commands import main as dispatcher

runner = CliRunner()
# Played in this order, which is neither the names' nor the difficulties'.
ORDER = ["b-second-name", "c-first-hard", "a-third-easy"]
DIFFICULTY = {"b-second-name": 3, "c-first-hard": 5, "a-third-easy": 1, "alone": 2}
SHARED_BUILD = {"services": {"box": {"build": {"context": "../image"}, "command": ["sleep", "infinity"]}}}


def track_file(directory: Path, **changes: Any) -> Path:
    document = {"name": "forum", "title": "Self-hosted forum", "description": "One box, many failures.",
                "scenarios": ORDER, **changes}
    (directory / "track.json").write_text(json.dumps(document), encoding="utf-8")
    return directory


def make_track(root: Path, directory: str = "forum", **changes: Any) -> Path:
    """A track directory under ``root``: the track file, a shared image directory, three scenarios
    that build from it."""
    track = root / directory
    (track / "image").mkdir(parents=True)
    (track / "image" / "Dockerfile").write_text("FROM debian:bookworm-slim\n", encoding="utf-8")
    for name in ORDER:
        write_scenario(track / name, meta=forum_meta(name), compose=SHARED_BUILD)
    return track_file(track, **changes)


def forum_meta(name: str) -> dict[str, Any]:
    return {"id": name, "title": f"Forum {name}", "difficulty": DIFFICULTY[name], "success_target": "http://box/",
            "break": [{"exec": {"service": "box", "cmd": ["true"]}}]}


@pytest.fixture
def official(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The official pack is a directory holding one ordinary scenario and the forum track."""
    root = tmp_path / "official"
    write_scenario(root / "000-plain", meta={"id": "000-plain", "title": "Plain one", "difficulty": 1})
    make_track(root)
    monkeypatch.setattr(paths, "official_pack_dir", lambda: root)
    return root


def invoke(*args: str) -> Any:
    return runner.invoke(dispatcher.build(), list(args))


# -- the track file and a scenario's place ----------------------------------------------------


def test_a_scenario_in_a_track_directory_knows_its_track_and_place(tmp_path: Path) -> None:
    track = make_track(tmp_path)
    scenario = load_scenario(track / "a-third-easy")
    assert scenario.track is not None
    assert (scenario.track.name, scenario.track.title) == ("forum", "Self-hosted forum")
    assert scenario.track.place_of(scenario.directory) == 3
    assert load_scenario(write_scenario(tmp_path / "alone")).track is None


@pytest.mark.parametrize(("changes", "expected"), [
    ({"name": "Forum Track"}, "../track.json: name: must be a short lowercase name, got 'Forum Track'"),
    ({"title": "  "}, "../track.json: title: must be a non-empty string, got '  '"),
    ({"scenarios": []}, "../track.json: scenarios: must be a non-empty list of scenario directory names"),
    ({"scenarios": [*ORDER, "../x"]},
     "../track.json: scenarios[3]: must be a scenario directory name, got '../x'"),
    ({"scenarios": [*ORDER, "d-gone"]},
     "../track.json: scenarios: 'd-gone' is not a scenario directory here"),
    ({"scenarios": ORDER[:2]}, "../track.json: scenarios: does not list 'a-third-easy'"),
])
def test_a_wrong_track_file_makes_its_scenarios_invalid_naming_the_field(
    tmp_path: Path, changes: dict[str, Any], expected: str,
) -> None:
    track = make_track(tmp_path, **changes)
    with pytest.raises(ScenarioInvalid) as raised:
        load_scenario(track / "a-third-easy")
    assert any(problem.startswith(expected) for problem in raised.value.problems), raised.value.problems


def test_a_missing_key_and_broken_json_are_named(tmp_path: Path) -> None:
    track = make_track(tmp_path)
    document = json.loads((track / "track.json").read_text())
    del document["name"]
    (track / "track.json").write_text(json.dumps(document))
    with pytest.raises(ScenarioInvalid, match=r"\.\./track\.json: name: missing"):
        load_scenario(track / "c-first-hard")
    (track / "track.json").write_text("{")
    with pytest.raises(ScenarioInvalid, match=r"\.\./track\.json: invalid JSON at line 1"):
        load_scenario(track / "c-first-hard")


def test_a_track_file_that_is_a_link_is_refused(tmp_path: Path) -> None:
    track = make_track(tmp_path)
    elsewhere = tmp_path / "elsewhere.json"
    (track / "track.json").rename(elsewhere)
    (track / "track.json").symlink_to(elsewhere)
    with pytest.raises(ScenarioInvalid, match="not a symbolic link"):
        load_scenario(track / "b-second-name")


# -- building from the track's shared directory -----------------------------------------------


def refusals(directory: Path) -> list[str]:
    """What the allow-list refuses in the scenario's resolved model."""
    with pytest.raises(ScenarioInvalid) as raised:
        sandbox.validate(load_scenario(directory))
    return raised.value.problems


def test_a_track_scenario_may_build_from_the_track_directory(tmp_path: Path) -> None:
    track = make_track(tmp_path)
    assert sandbox.validate(load_scenario(track / "b-second-name")) == []


def test_outside_a_track_the_same_build_is_refused(tmp_path: Path) -> None:
    (tmp_path / "image").mkdir()
    (tmp_path / "image" / "Dockerfile").write_text("FROM debian:bookworm-slim\n")
    alone = write_scenario(tmp_path / "alone", meta=forum_meta("alone"), compose=SHARED_BUILD)
    assert any("services.box.build.context: must be in the scenario directory, got" in p
               for p in refusals(alone)), refusals(alone)


def test_a_track_scenario_builds_nothing_from_beyond_its_track(tmp_path: Path) -> None:
    track = make_track(tmp_path)
    (tmp_path / "outside").mkdir()
    compose = {"services": {"box": {"build": {"context": "../../outside"}, "command": ["sleep", "infinity"]}}}
    write_scenario(track / "b-second-name", meta=forum_meta("b-second-name"), compose=compose)
    problems = refusals(track / "b-second-name")
    assert any("must be in the scenario directory or its track's (forum/)" in p for p in problems), problems


def test_mounts_stay_the_scenarios_own_in_a_track(tmp_path: Path) -> None:
    track = make_track(tmp_path)
    compose = {"services": {"box": {"build": {"context": "../image"}, "command": ["sleep", "infinity"],
                                    "volumes": ["../image:/srv/shared"]}}}
    write_scenario(track / "b-second-name", meta=forum_meta("b-second-name"), compose=compose)
    problems = refusals(track / "b-second-name")
    assert any("must be a path in the scenario directory" in p for p in problems), problems


# -- list --tracks, list --track NAME --------------------------------------------------------


@pytest.mark.usefixtures("official")
def test_list_track_shows_its_scenarios_in_the_tracks_order() -> None:
    result = invoke("list", "--track", "forum")
    assert result.exit_code == 0, result.output
    ids = [line.split()[0] for line in result.stdout.splitlines()[2:]]
    assert ids == ORDER
    assert "Track official/forum: Self-hosted forum" in result.stderr
    assert "One box, many failures." in result.stderr


@pytest.mark.usefixtures("official")
def test_list_track_json_gives_each_scenarios_place() -> None:
    result = invoke("list", "--track", "official/forum", "--json")
    records = json.loads(result.stdout)
    assert [(r["id"], r["track"], r["track_place"]) for r in records] == [
        (name, "forum", place) for place, name in enumerate(ORDER, start=1)
    ]
    everything = json.loads(invoke("list", "--json").stdout)
    assert {r["id"]: r["track"] for r in everything}["000-plain"] is None


@pytest.mark.usefixtures("official")
def test_list_tracks_names_each_track_once() -> None:
    result = invoke("list", "--tracks")
    assert result.stdout.splitlines()[2:] == ["official/forum  3          Self-hosted forum"]
    records = json.loads(invoke("list", "--tracks", "--json").stdout)
    assert records[0]["scenarios"] == [f"official/{name}" for name in ORDER]


@pytest.mark.usefixtures("official")
def test_an_unknown_track_is_exit_4_naming_the_tracks_there_are() -> None:
    result = invoke("list", "--track", "wiki")
    assert result.exit_code == 4
    assert "no track named 'wiki' (tracks: forum)" in result.stderr


def test_reordering_the_track_file_reorders_the_cached_listing(official: Path) -> None:
    assert [line.split()[0] for line in invoke("list", "--track", "forum").stdout.splitlines()[2:]] == ORDER
    track_file(official / "forum", scenarios=list(reversed(ORDER)))
    stamp = (official / "forum" / "track.json").stat()
    os.utime(official / "forum" / "track.json", ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 5_000_000_000))
    listed = [line.split()[0] for line in invoke("list", "--track", "forum").stdout.splitlines()[2:]]
    assert listed == list(reversed(ORDER))


# -- the campaign walks a track ----------------------------------------------------------------


def test_on_a_track_new_scenarios_come_in_the_tracks_order_not_by_difficulty() -> None:
    scenarios = [CampaignScenario(f"official/{name}", name, DIFFICULTY[name], 0, place=ORDER.index(name) + 1)
                 for name in sorted(ORDER)]
    planned = campaign.plan([], scenarios, date(2026, 12, 7))
    assert [s.ref.removeprefix("official/") for s in planned] == ORDER
    whole = [CampaignScenario(s.ref, s.title, s.difficulty, 0) for s in scenarios]
    assert [s.difficulty for s in campaign.plan([], whole, date(2026, 12, 7))] == [1, 3, 5]


@pytest.mark.usefixtures("official")
def test_next_track_suggests_the_tracks_first_scenario() -> None:
    whole = json.loads(invoke("next", "--show", "--json").stdout)
    assert whole["ref"] == "official/000-plain"  # difficulty 1, before the track's
    on_track = invoke("next", "--show", "--json", "--track", "forum")
    assert on_track.exit_code == 0, on_track.output
    assert json.loads(on_track.stdout)["ref"] == "official/b-second-name"


@pytest.mark.usefixtures("official")
def test_next_on_an_unknown_track_is_exit_4() -> None:
    result = invoke("next", "--show", "--track", "wiki")
    assert result.exit_code == 4
    assert "no track named 'wiki'" in result.stderr


def test_run_takes_track_only_with_next() -> None:
    result = invoke("run", "001-nginx-502", "--track", "forum")
    assert result.exit_code == 2
    assert "--track goes with --next" in result.stderr


def test_the_dev_loop_counts_the_shared_image_among_what_a_track_scenario_builds_from(tmp_path: Path) -> None:
    from libreplay.authoring.dev_build import build_inputs, changed_inputs

    track = make_track(tmp_path)
    (track / "image" / "Dockerfile").write_text("FROM debian:bookworm-slim\nCOPY app/ /srv/app/\n")
    (track / "image" / "app").mkdir()
    (track / "image" / "app" / "web.rb").write_text("# the forum\n")
    before = build_inputs(track / "b-second-name")
    assert {"../image/Dockerfile", "../image/app/web.rb"} <= before.keys()
    (track / "image" / "app" / "web.rb").write_text("# the forum, edited\n")
    assert changed_inputs(before, build_inputs(track / "b-second-name")) == ["../image/app/web.rb"]


def test_a_track_file_made_beside_listed_scenarios_is_noticed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = tmp_path / "official"
    track = make_track(root)
    (track / "track.json").unlink()
    monkeypatch.setattr(paths, "official_pack_dir", lambda: root)
    assert invoke("list", "--tracks").stdout.splitlines()[2:] == []
    track_file(track)
    assert invoke("list", "--track", "forum").exit_code == 0


def test_the_official_forum_track_lists_its_scenarios_in_order() -> None:
    forum = paths.official_pack_dir() / "forum"
    order = json.loads((forum / "track.json").read_text())["scenarios"]
    result = invoke("list", "--track", "forum", "--json")
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert [r["id"] for r in records] == order
    assert len(order) >= 8
    assert all(r["pack"] == "official" and r["track"] == "forum" for r in records)
    suggested = invoke("next", "--show", "--json", "--track", "forum")
    assert json.loads(suggested.stdout)["ref"] == f"official/{order[0]}"  # nothing played yet: the first


def test_a_pack_whose_root_is_the_scenario_has_no_track_above_it(tmp_path: Path) -> None:
    track = make_track(tmp_path)
    (track / "b-second-name" / ".git").mkdir()  # a one-scenario pack's clone
    scenario = load_scenario(track / "b-second-name")
    assert scenario.track is None
    assert any("must be in the scenario directory, got" in p for p in refusals(track / "b-second-name"))


def test_two_tracks_of_one_name_are_listed_apart(official: Path) -> None:
    make_track(official, "forum-again")
    listed = json.loads(invoke("list", "--tracks", "--json").stdout)
    assert [(t["name"], len(t["scenarios"])) for t in listed] == [("forum", 3), ("forum", 3)]
    assert len({t["path"] for t in listed}) == 2


def test_a_wrong_track_file_is_named_when_its_track_is_asked_for(official: Path) -> None:
    track_file(official / "forum", title="")
    result = invoke("list", "--track", "forum")
    assert result.exit_code == 4
    assert "../track.json: title: must be a non-empty string" in result.stderr
