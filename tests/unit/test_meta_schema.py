"""meta.schema.json: a valid draft 2020-12 schema, true of every official scenario, and in step
with the loader (the keys it reads, its bounds, a message for every place the schema can fail)."""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from scenario_kit import BASE_META, DELETE, write_scenario

from libreplay.core.errors import ScenarioInvalid
from libreplay.packs.catalog import scenario_dirs
from libreplay.scenario import load, schema
from libreplay.scenario.model import (
    DEFAULT_HOLD_SECONDS,
    DEFAULT_SLA_MINUTES,
    DEFAULT_SOLVE_SCRIPT,
    MAX_HOLD_SECONDS,
    MAX_SLA_MINUTES,
    BreakStep,
    Debrief,
)

PROJECT = Path(__file__).resolve().parents[2]
NOT_A_SERVICE = "is not a service of docker-compose.yml (services: web, app)"
OFFICIAL_METAS = sorted(d / "meta.json" for d in scenario_dirs(PROJECT / "packs" / "official"))


def _schema() -> dict[str, Any]:
    return copy.deepcopy(schema.meta_schema())


def _plain_errors(document: Any) -> list[str]:
    """What any draft 2020-12 validator says, replaybook's own mapping left out."""
    return [error.message for error in Draft202012Validator(_schema()).iter_errors(document)]


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = {**{k: v for k, v in node.items() if k != "$ref"},
                **root["$defs"][node["$ref"].removeprefix("#/$defs/")]}
    return node


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    document = _schema()
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(document)


def test_the_schema_ships_as_package_data() -> None:
    pyproject = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))
    assert schema.SCHEMA_FILE in pyproject["tool"]["setuptools"]["package-data"]["libreplay.scenario"]
    assert (PROJECT / "libreplay" / "scenario" / schema.SCHEMA_FILE).is_file()


@pytest.mark.parametrize("meta_path", OFFICIAL_METAS, ids=lambda path: path.parent.name)
def test_every_official_scenario_validates_against_the_schema(meta_path: Path) -> None:
    document = json.loads(meta_path.read_text(encoding="utf-8"))
    assert _plain_errors(document) == []
    assert list(schema.check(document)) == []


def test_there_are_official_scenarios_to_validate() -> None:
    assert len(OFFICIAL_METAS) >= 10


def test_the_schema_declares_exactly_the_keys_the_loader_reads() -> None:
    document = _schema()
    defs = document["$defs"]
    assert set(document["properties"]) == load.META_KEYS
    assert set(document["properties"]["source"]["properties"]) == load.SOURCE_KEYS
    assert set(defs["fault"]["properties"]) == load.FAULT_KEYS
    actions = set(defs["step"]["properties"])
    assert actions == set(defs["step"]["propertyNames"]["enum"]) == {"cp", "exec", "restart"}
    body_keys = {key for action in actions for key in defs["step"]["properties"][action]["properties"]}
    assert body_keys == {f.name for f in fields(BreakStep)} - {"action"}
    assert set(document["required"]) <= load.META_KEYS


def test_the_schema_and_the_loader_agree_on_bounds_and_defaults() -> None:
    properties = _schema()["properties"]
    assert properties["sla_minutes"]["maximum"] == MAX_SLA_MINUTES
    assert properties["sla_minutes"]["default"] == DEFAULT_SLA_MINUTES
    assert _schema()["$defs"]["fault"]["properties"]["solve"]["default"] == DEFAULT_SOLVE_SCRIPT


def _fields(node: dict[str, Any], root: dict[str, Any], field: str) -> Iterator[str]:
    """Every place of the schema, named as schema.MESSAGES names it (``faults[].name``)."""
    node = _resolve(node, root)
    for key, child in node.get("properties", {}).items():
        name = f"{field}.{key}" if field else key
        yield name
        yield from _fields(child, root, name)
    if "items" in node:
        yield f"{field}[]"
        yield from _fields(node["items"], root, f"{field}[]")


def test_every_place_the_schema_can_fail_has_its_message() -> None:
    document = _schema()
    places = set(_fields(document, document, ""))
    # A fault's steps and hints are worded like the scenario's own; a bad command item is
    # reported as the whole command.
    own = ("faults[].break", "faults[].hints", "faults[].debrief")
    places = {p.removeprefix("faults[].") if p.startswith(own) else p for p in places}
    places -= {f"{whole}[]" for whole in schema.WHOLE_LISTS}
    assert places == set(schema.MESSAGES)


def test_a_trailing_newline_fails_the_name_patterns_in_any_validator() -> None:
    """`$` would let Python's re accept "s3\\n"; the pattern ends the text itself."""
    meta = {**BASE_META, "id": "s3\n", "faults": [{"name": "a\n", "script": "x.sh"}]}
    del meta["break"]
    assert len(_plain_errors(meta)) == 2
    issues = schema.check(meta)
    assert issues.at(("id",)) == "must use lowercase letters, digits, '.', '_' and '-', got 's3\\n'"
    assert issues.at(("faults", 0, "name")) == "must be a short lowercase name, got 'a\\n'"


def test_unknown_keys_are_allowed_by_the_schema() -> None:
    meta = {**BASE_META, "author_notes": "x", "source": {"reference": "PM-12", "ticket": "T-1"}}
    assert _plain_errors(meta) == []


def test_an_integer_is_written_as_one(tmp_path: Path) -> None:
    """JSON Schema would take 3.0 for an integer; replaybook has always refused it."""
    directory = write_scenario(tmp_path / "float", meta={"difficulty": 3.0, "sla_minutes": 1e2})
    with pytest.raises(ScenarioInvalid) as caught:
        load.load_scenario(directory)
    assert caught.value.problems == [
        "meta.json: difficulty: must be an integer from 1 to 5, got 3.0",
        "meta.json: sla_minutes: must be an integer from 1 to 1440, got 100.0",
    ]


def test_problems_come_in_the_order_of_the_fields(tmp_path: Path) -> None:
    directory = write_scenario(tmp_path / "order", meta={
        "id": "", "title": DELETE, "difficulty": None, "hints": ["ok", " "], "shell": "db",
        "success_target": 5, "sla_minutes": 0,
        "break": [{"rm": 1, "cp": 2}, {"exec": {"service": "nope", "cmd": ["a", 1]}}],
    })
    with pytest.raises(ScenarioInvalid) as caught:
        load.load_scenario(directory)
    assert caught.value.problems == [
        "meta.json: id: must be a non-empty string, got ''",
        "meta.json: title: missing (a non-empty string)",
        "meta.json: difficulty: must be an integer from 1 to 5, got null",
        "meta.json: hints[1]: must be a non-empty string, got ' '",
        "meta.json: sla_minutes: must be an integer from 1 to 1440, got 0",
        f'meta.json: shell: "db" {NOT_A_SERVICE}',
        "meta.json: success_target: must be an http(s) URL, got 5",
        'meta.json: break[0]: must be one of {"cp": …}, {"exec": …}, {"restart": …}',
        f'meta.json: break[1].exec.service: "nope" {NOT_A_SERVICE}',
        'meta.json: break[1].exec.cmd: must be a non-empty list of strings, got ["a", 1]',
    ]


def test_a_wrong_fault_is_not_looked_into_further(tmp_path: Path) -> None:
    directory = write_scenario(tmp_path / "faults", meta={"break": DELETE, "faults": [
        {"name": "Bad", "script": 5, "solve": None}, 7,
        {"name": "b", "script": "", "hints": None, "solve": ""},
    ]})
    with pytest.raises(ScenarioInvalid) as caught:
        load.load_scenario(directory)
    assert caught.value.problems == [
        "meta.json: faults[0].name: must be a short lowercase name, got 'Bad'",
        "meta.json: faults[1]: must be an object, got 7",
        "meta.json: faults[2].script: must name a script, got ''",
        "meta.json: faults[2].solve: must name a script, got ''",
    ]


def test_every_key_of_the_schema_reaches_the_scenario(tmp_path: Path) -> None:
    meta = {
        **BASE_META, "learning_objectives": ["read the log"], "sla_minutes": 20, "shell": "app",
        "source": {"incident_date": "2023-03-14", "reference": "PM-1", "sanitized": True},
        "break": DELETE, "faults": [
            {"name": "steps", "hints": ["own hint"], "solve": "fix.sh", "break": [
                {"cp": {"service": "web", "src": "broken/default.conf", "dest": "/etc/x.conf"}},
                {"exec": {"service": "app", "cmd": ["true"]}},
                {"restart": {"service": "web"}},
            ]},
            {"name": "script", "script": "break-b.sh"},
        ],
    }
    files = {"fix.sh": "#!/bin/bash\n", "break-b.sh": "#!/bin/bash\n"}
    scenario = load.load_scenario(write_scenario(tmp_path / "all", meta=meta, files=files))
    assert (scenario.id, scenario.title) == (BASE_META["id"], BASE_META["title"])
    assert scenario.page == BASE_META["page"]
    assert (scenario.difficulty, scenario.sla_minutes, scenario.shell) == (2, 20, "app")
    assert scenario.hints == tuple(BASE_META["hints"]) and scenario.tags == ("nginx", "demo")
    assert scenario.learning_objectives == ("read the log",)
    assert scenario.source == meta["source"]
    assert (scenario.success_condition, scenario.success_target) == ("http_200", "http://web/")
    steps, script = scenario.faults
    assert (steps.name, steps.hints, steps.solve, steps.script) == ("steps", ("own hint",), "fix.sh", None)
    assert steps.steps == (
        BreakStep("cp", "web", src="broken/default.conf", dest="/etc/x.conf"),
        BreakStep("exec", "app", cmd=("true",)),
        BreakStep("restart", "web"),
    )
    assert (script.name, script.script, script.hints) == ("script", "break-b.sh", None)
    assert script.solve == "solve.sh"
    assert scenario.warnings == ()


FAIR_META: dict[str, Any] = {
    "hold_seconds": 30,
    "survive_restart": ["app", "web"],
    "guards": [
        {"name": "data-kept", "condition": "exit_zero", "script": "guards/data.sh",
         "message": "the data went"},
        {"name": "app-answers", "condition": "http_200", "target": "http://app:3000/ready",
         "message": "the app no longer answers"},
    ],
    "debrief": {"fix": "Point the upstream back at 3000.", "why": "The app listens there.",
                "follow_ups": ["Template the port", "Alert on 502s"]},
}


def test_the_fair_win_keys_reach_the_scenario(tmp_path: Path) -> None:
    meta = {**FAIR_META, "break": DELETE, "faults": [
        {"name": "own", "script": "break-a.sh", "debrief": {"fix": "The fault's own fix."}},
        {"name": "shared", "script": "break-b.sh"},
    ]}
    files = {"guards/data.sh": "#!/bin/bash\n", "break-a.sh": "#!/bin/bash\n", "break-b.sh": "#!/bin/bash\n"}
    scenario = load.load_scenario(write_scenario(tmp_path / "fair", meta=meta, files=files))
    assert (scenario.hold_seconds, scenario.survive_restart) == (30, ("app", "web"))
    data, page = scenario.guards
    assert (data.name, data.condition, data.script, data.target, data.http) == (
        "data-kept", "exit_zero", "guards/data.sh", None, False)
    assert (page.name, page.target, page.message, page.http) == (
        "app-answers", "http://app:3000/ready", "the app no longer answers", True)
    assert scenario.probes_http
    own, shared = scenario.faults
    assert scenario.debrief_for(own) == Debrief(fix="The fault's own fix.")
    assert scenario.debrief_for(shared) == Debrief(
        fix="Point the upstream back at 3000.", why="The app listens there.",
        follow_ups=("Template the port", "Alert on 502s"))
    assert scenario.warnings == ()


def test_without_the_fair_win_keys_the_defaults_hold(tmp_path: Path) -> None:
    scenario = load.load_scenario(write_scenario(tmp_path / "plain"))
    assert (scenario.hold_seconds, scenario.survive_restart) == (DEFAULT_HOLD_SECONDS, ())
    assert scenario.guards == ()
    assert scenario.debrief_for(scenario.faults[0]) is None
    properties = _schema()["properties"]
    assert properties["hold_seconds"]["default"] == DEFAULT_HOLD_SECONDS
    assert properties["hold_seconds"]["maximum"] == MAX_HOLD_SECONDS


def test_wrong_fair_win_keys_are_each_named(tmp_path: Path) -> None:
    directory = write_scenario(tmp_path / "bad", meta={
        "hold_seconds": 601,
        "survive_restart": ["app", "db", "app"],
        "guards": [
            {"name": "g1", "condition": "exit_zero", "message": "m"},
            {"name": "g2", "condition": "http_200", "target": "http://db/", "message": "m"},
            {"name": "g3", "condition": "exit_zero", "script": "guards/missing.sh", "message": "m"},
            {"name": "Bad Name", "condition": "tcp", "message": " "},
            {"name": "g5", "condition": "http_200", "target": "ftp://app/", "message": "m", "note": 1},
            {"name": "g1", "condition": "http_200", "target": "http://app:3000/", "message": "m"},
        ],
        "debrief": {"fix": "", "follow_ups": ["ok", 3], "extra": True},
    })
    with pytest.raises(ScenarioInvalid) as caught:
        load.load_scenario(directory)
    assert caught.value.problems == [
        "meta.json: hold_seconds: must be an integer from 0 to 600, got 601",
        'meta.json: survive_restart: must be a list of service names, each once, got ["app", "db", "app"]',
        "meta.json: guards[0].script: missing (an exit_zero guard runs a script)",
        f'meta.json: guards[1].target (host): "db" {NOT_A_SERVICE}',
        "meta.json: guards[2].script: needs guards/missing.sh, which does not exist",
        "meta.json: guards[3].name: must be a short lowercase name, got 'Bad Name'",
        'meta.json: guards[3].condition: must be "http_200" or "exit_zero", got \'tcp\'',
        "meta.json: guards[3].message: must be a non-empty string, got ' '",
        "meta.json: guards[4].target: must be an http(s) URL, got 'ftp://app/'",
        "meta.json: guards[5].name: duplicate guard name 'g1'",
        "meta.json: debrief.fix: must be a non-empty string, got ''",
        "meta.json: debrief.follow_ups[1]: must be a non-empty string, got 3",
    ]
