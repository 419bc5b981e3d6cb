"""Packs written by other tools: ``null`` and ``[]`` mean absent in meta.json, and published
ports are allowed (each entry checked, bound on 127.0.0.1 only) on the model Compose resolves.

No engine: ``docker compose config`` contacts none, and the one socket opened is our own.
"""

from __future__ import annotations

import copy
import json
import shutil
import socket
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from scenario_kit import BASE_COMPOSE, DELETE, make_pack_repo, write_scenario

from libreplay.core import paths
from libreplay.core.errors import ScenarioInvalid
from libreplay.packs import catalog as packs
from libreplay.packs import trust
from libreplay.scenario import schema
from libreplay.scenario.load import load_scenario
from libreplay.scenario.sandbox import HostPort, check, validate
from libreplay.session.model import SessionParts, restore_scripts_compose_file, session_model
from libreplay.session.ports import _bound_by_a_program
from libreplay.session.snapshot import files_dir, refresh_snapshot
from libreplay.session.stack import probe_url

UPSTREAM = Path(__file__).resolve().parents[1] / "fixtures" / "upstream"
BREAK_SH = "#!/usr/bin/env bash\nexit 0\n"
WEB = "docker-compose.yml: services.web"


def scenario_dir(tmp_path: Path, meta: dict[str, Any], files: dict[str, str | None] | None = None) -> Path:
    return write_scenario(tmp_path / "s", meta=meta, files=files)


def problems(directory: Path) -> list[str]:
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(directory)
    return caught.value.problems


# -- null and [] are absent -------------------------------------------------------------------


def test_the_upstream_scaffold_loads_with_break_sh() -> None:
    """`"break": null, "faults": []` beside a break.sh: one fault, the script, no warning."""
    meta = json.loads((UPSTREAM / "up-health" / "meta.json").read_text())
    assert (meta["break"], meta["faults"]) == (None, [])
    scenario = load_scenario(UPSTREAM / "up-health")
    assert [(f.name, f.script, f.steps) for f in scenario.faults] == [("default", "break.sh", ())]
    assert scenario.warnings == ()
    assert scenario.learning_objectives and scenario.source["sanitized"] is True
    assert list(Draft202012Validator(schema.meta_schema()).iter_errors(meta)) == []


@pytest.mark.parametrize(
    "absent",
    [{"break": None, "faults": []}, {"break": [], "faults": None}, {"break": [], "faults": []},
     {"break": None, "faults": None}, {"break": DELETE, "faults": []}],
    ids=["null-and-empty", "empty-and-null", "both-empty", "both-null", "faults-empty-only"],
)
def test_null_and_empty_break_and_faults_are_the_same_as_leaving_them_out(
    tmp_path: Path, absent: dict[str, Any]
) -> None:
    with_keys = load_scenario(scenario_dir(tmp_path / "a", absent, {"break.sh": BREAK_SH}))
    without = load_scenario(scenario_dir(tmp_path / "b", {"break": DELETE}, {"break.sh": BREAK_SH}))
    assert replace(with_keys, directory=without.directory, compose_file=without.compose_file) == without


def test_without_break_sh_null_and_empty_leave_no_way_of_breaking(tmp_path: Path) -> None:
    found = problems(scenario_dir(tmp_path, {"break": None, "faults": []}))
    assert found == ["meta.json: break: no fault injection: add break.sh, 'break' steps or 'faults'"]


def test_steps_beside_empty_faults_are_used_and_faults_beside_null_break(tmp_path: Path) -> None:
    steps = load_scenario(scenario_dir(tmp_path / "a", {"faults": []}))  # BASE_META has break steps
    assert [f.name for f in steps.faults] == ["default"] and len(steps.faults[0].steps) == 2
    fault = {"name": "a", "script": "solve.sh", "break": None, "solve": None}
    faults = load_scenario(scenario_dir(tmp_path / "b", {"break": None, "faults": [fault]}))
    assert [(f.name, f.script, f.steps, f.solve) for f in faults.faults] == [
        ("a", "solve.sh", (), "solve.sh")
    ]
    emptied = load_scenario(scenario_dir(tmp_path / "c", {"break": [], "faults": [{**fault, "break": []}]}))
    assert emptied.faults == faults.faults


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ({"break": None, "faults": [{"nam": "a", "script": "solve.sh"}]},
         "meta.json: faults[0].name: must be a short lowercase name, got null"),
        ({"break": None, "faults": [{"name": "a"}]},
         "meta.json: faults[0]: needs exactly one of 'break' (steps) or 'script'"),
        ({"break": None, "faults": [{"name": "a", "break": []}]},
         "meta.json: faults[0]: needs exactly one of 'break' (steps) or 'script'"),
        ({"break": None, "faults": [{"name": "a", "break": None, "script": None}]},
         "meta.json: faults[0]: needs exactly one of 'break' (steps) or 'script'"),
        ({"faults": [{"name": "a", "script": "solve.sh"}]},  # BASE_META's steps beside real faults
         "meta.json: break: give either 'break' or 'faults', not both"),
        ({"break": None, "faults": "a"},
         "meta.json: faults: must be a list of faults (null or [] for none), got 'a'"),
        ({"break": None, "faults": {}},
         "meta.json: faults: must be a list of faults (null or [] for none), got {}"),
        ({"break": {}}, "meta.json: break: must be a list of steps (null or [] for none), got {}"),
        ({"break": [{"rm": {}}], "faults": []}, "meta.json: break[0]: unknown step 'rm'"),
        ({"break": None, "faults": [{"name": "a", "script": "solve.sh", "solve": ""}]},
         "meta.json: faults[0].solve: must name a script, got ''"),
    ],
    ids=["fault-without-name", "fault-empty", "fault-break-empty", "fault-all-null", "steps-and-faults",
         "faults-string", "faults-object", "break-object", "break-bad-step", "solve-empty"],
)
def test_a_malformed_value_is_still_an_error(tmp_path: Path, meta: dict[str, Any], expected: str) -> None:
    found = problems(scenario_dir(tmp_path, meta, {"break.sh": BREAK_SH}))
    assert any(problem.startswith(expected) for problem in found), found


def test_every_optional_list_and_object_of_the_schema_accepts_null() -> None:
    """The rule holds across the schema: each optional array or object key takes null."""
    document = schema.meta_schema()
    required = set(document["required"])
    for key, declared in document["properties"].items():
        spec = declared
        while "$ref" in spec:
            spec = document["$defs"][spec["$ref"].removeprefix("#/$defs/")]
        types = spec.get("type")
        kinds = set(types) if isinstance(types, list) else {types}
        if key not in required and kinds & {"array", "object"}:
            assert "null" in kinds, key


# -- published ports: the allow-list on the resolved model --------------------------------------


def compose_with(ports: Any, **more_services: Any) -> dict[str, Any]:
    compose = copy.deepcopy(BASE_COMPOSE)
    compose["services"]["web"]["ports"] = ports
    compose["services"].update(more_services)
    return compose


def resolved(tmp_path: Path, compose: dict[str, Any]) -> tuple[list[str], list[HostPort], list[str]]:
    """(problems, host ports, warnings) of the model Compose resolves."""
    directory = write_scenario(tmp_path / "s", compose=compose)
    try:
        model = check(load_scenario(directory), "replaybook-ports")
    except ScenarioInvalid as refused:
        return refused.problems, [], []
    return [], list(model.host_ports), model.warnings


@pytest.mark.parametrize(
    ("ports", "expected"),
    [
        (["18080:3000"], [HostPort("web", 18080, 3000)]),
        (["127.0.0.1:18080:3000"], [HostPort("web", 18080, 3000)]),
        (["18080:3000/udp"], [HostPort("web", 18080, 3000, "udp")]),
        (["18090-18091:4000-4001"], [HostPort("web", 18090, 4000), HostPort("web", 18091, 4001)]),
        ([{"target": 3000, "published": 18080, "protocol": "tcp", "mode": "host"}],
         [HostPort("web", 18080, 3000)]),
        (["8080:80"], [HostPort("web", 8080, 80)]),
        (["19999:80"], [HostPort("web", 19999, 80)]),
    ],
    ids=["short", "loopback-given", "udp", "range", "long-syntax", "upstream-8080", "highest-allowed"],
)
def test_published_ports_the_allow_list_accepts(tmp_path: Path, ports: Any, expected: list[HostPort]) -> None:
    assert resolved(tmp_path, compose_with(ports)) == ([], expected, [])


@pytest.mark.parametrize(
    ("ports", "expected"),
    [
        (["3000"], f"{WEB}.ports[0]: container port 3000 has no host port: publish a fixed one"),
        (["80:3000"], f"{WEB}.ports[0].published: 80 is outside the ports a scenario may publish"),
        (["2375:2375"], f"{WEB}.ports[0].published: 2375 is outside the ports a scenario may publish"),
        (["5432:5432"], f"{WEB}.ports[0].published: 5432 is outside the ports a scenario may publish"),
        (["8100:80"], f"{WEB}.ports[0].published: 8100 is outside the ports a scenario may publish"),
        (["18080:3000/sctp"], f"{WEB}.ports[0].protocol: must be tcp or udp, got 'sctp'"),
        ([{"target": 3000, "published": 18080, "name": "web"}],
         f"{WEB}.ports[0].name: not allowed in a scenario"),
        ([{"target": 3000, "published": 18080, "app_protocol": "http"}],
         f"{WEB}.ports[0].app_protocol: not allowed in a scenario"),
        (["${PORT:-18080}:3000"], f"{WEB}.ports[0].published: 18080 is not written as a number"),
        ([f"{port}:{port}" for port in range(20000, 20065)], f"{WEB}.ports: a scenario publishes at most 64"),
    ],
    ids=["no-host-port", "privileged", "docker-api", "postgres", "past-8099", "sctp", "name",
         "app-protocol", "interpolated", "too-many"],
)
def test_published_ports_the_allow_list_refuses(tmp_path: Path, ports: Any, expected: str) -> None:
    found, _, _ = resolved(tmp_path, compose_with(ports))
    assert any(problem.startswith(expected) for problem in found), found


def test_one_host_port_published_twice_is_refused_naming_the_second(tmp_path: Path) -> None:
    app = {"image": "debian:bookworm-slim", "command": ["sleep", "infinity"], "ports": ["18080:3000"]}
    found, _, _ = resolved(tmp_path, compose_with(["18080:80"], app=app))
    assert found == ["docker-compose.yml: services.web.ports[0].published: 18080/tcp is published twice "
                     "in this scenario"]


@pytest.mark.parametrize("host_ip", ["0.0.0.0", "::", "192.0.2.1"])
def test_any_host_address_becomes_loopback_with_a_warning(tmp_path: Path, host_ip: str) -> None:
    entry = {"target": 80, "published": "18080", "host_ip": host_ip}
    found, ports, warnings = resolved(tmp_path, compose_with([entry]))
    assert (found, ports) == ([], [HostPort("web", 18080, 80)])
    assert warnings == [f"{WEB}.ports[0].host_ip: published on 127.0.0.1 only, not {host_ip!r}"]
    model, _ = session(tmp_path / "session", compose_with([entry]))
    assert model["services"]["web"]["ports"] == [
        {"target": 80, "published": "18080", "protocol": "tcp", "host_ip": "127.0.0.1"}
    ]


def test_a_refusal_names_file_service_and_entry(tmp_path: Path) -> None:
    directory = write_scenario(tmp_path / "s", compose=compose_with(["0.0.0.0:18080:80", "80:81"]))
    with pytest.raises(ScenarioInvalid) as refused:
        validate(load_scenario(directory))
    assert refused.value.problems[0].startswith("docker-compose.yml: services.web.ports[1].published: 80 ")


# -- the session's model -----------------------------------------------------------------------


def session(
    tmp_path: Path, compose: dict[str, Any], *, snapshot: bool = False
) -> tuple[dict[str, Any], Path]:
    directory = write_scenario(tmp_path / "pack" / "s1", compose=compose)
    session_dir = tmp_path / "session"
    session_dir.mkdir(parents=True)
    if snapshot:
        shutil.copytree(directory, files_dir(session_dir))
    labels = {"org.replaybook.session": "abc"}
    parts = SessionParts("replaybook-abc", session_dir, labels, lambda service: f"x/{service}:t")
    session_model(load_scenario(directory), parts)
    return json.loads((session_dir / "compose.json").read_text()), session_dir


def test_a_scenario_publishing_nothing_has_no_ports_in_its_session(tmp_path: Path) -> None:
    compose = copy.deepcopy(BASE_COMPOSE)
    del compose["services"]["web"]["ports"]
    model, _ = session(tmp_path, compose)
    assert all("ports" not in spec for spec in model["services"].values())


def test_the_scripts_compose_file_is_the_sessions_model(tmp_path: Path) -> None:
    """`docker compose -f "$SCENARIO_DIR/docker-compose.yml"` in a script means the session's
    model, as COMPOSE_FILE does: nothing of the pack's own text (its ports on every address)."""
    model, session_dir = session(tmp_path, compose_with(["0.0.0.0:18080:80"]), snapshot=True)
    copied = files_dir(session_dir) / "docker-compose.yml"
    assert copied.read_text() == (session_dir / "compose.json").read_text()
    assert json.loads(copied.read_text())["services"]["web"]["ports"][0]["host_ip"] == "127.0.0.1"
    assert model["name"] == "replaybook-abc"


def test_a_retaken_copy_of_the_scenario_still_gives_scripts_the_sessions_model(tmp_path: Path) -> None:
    """replaybook dev takes the copy afresh before it breaks again: the pack's compose file comes
    back with it, and must become the session's model again before any script runs."""
    _, session_dir = session(tmp_path, compose_with(["0.0.0.0:18080:80"]), snapshot=True)
    scenario = load_scenario(tmp_path / "pack" / "s1")
    refresh_snapshot(scenario, session_dir)
    copied = files_dir(session_dir) / "docker-compose.yml"
    assert "0.0.0.0" in copied.read_text()  # the pack's text, as the fresh copy took it
    restore_scripts_compose_file(scenario, session_dir)
    assert copied.read_text() == (session_dir / "compose.json").read_text()


# -- http_200 on a published port ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "probed"),
    [
        ("http://localhost:18081/health", "http://app:3000/health"),
        ("http://127.0.0.1:18081/health?deep=1", "http://app:3000/health?deep=1"),
        ("http://localhost:3000/health", "http://app:3000/health"),  # not published: the shell service
        ("http://app:3000/health", "http://app:3000/health"),
    ],
)
def test_a_loopback_target_on_a_published_port_is_probed_inside_the_network(target: str, probed: str) -> None:
    scenario = load_scenario(UPSTREAM / "up-health-http")
    assert probe_url(replace(scenario, success_target=target)) == probed


# -- who holds a port ---------------------------------------------------------------------------


def test_a_plain_listening_socket_holds_its_port() -> None:
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert _bound_by_a_program(HostPort("app", port, 3000))
    assert not _bound_by_a_program(HostPort("app", port, 3000))


# -- the trust summary --------------------------------------------------------------------------


def test_the_trust_summary_lists_published_ports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paths, "official_pack_dir", lambda: tmp_path / "official")
    repo = make_pack_repo(tmp_path / "drills", [])
    shutil.copytree(UPSTREAM / "up-health", Path(repo.working_tree_dir) / "up-health")
    repo.git.add("--all")
    repo.index.commit("an upstream-shaped scenario")
    summary = trust.summarize(packs.add_pack(str(tmp_path / "drills")))
    (runs,) = summary.scenarios
    assert [(service.name, service.ports) for service in runs.services] == [
        ("app", ("127.0.0.1:18080 -> 3000",))
    ]
    text = "\n".join(summary.lines())
    assert "app       built from . (Dockerfile), publishes 127.0.0.1:18080 -> 3000" in text
    assert summary.to_dict()["scenarios"][0]["services"][0]["ports"] == ["127.0.0.1:18080 -> 3000"]


def test_the_trust_summary_marks_a_port_the_sandbox_refuses() -> None:
    """Whoever reads the summary sees what would be bound, never a refused port as if it were."""
    spec = {"ports": [{"target": 22, "published": "22"}, {"target": 80, "published": "18080"}]}
    assert trust._ports("web", spec) == (
        "127.0.0.1:22 -> 22 (refused: never bound)", "127.0.0.1:18080 -> 80",
    )


def test_a_session_of_this_home_is_named_as_the_holder_by_its_model(tmp_path: Path) -> None:
    """Found by the session's own compose.json before the engine is asked: a session still
    starting holds its ports as soon as its model is written."""
    from libreplay.core.errors import EnvironmentProblem
    from libreplay.session.ports import require_free
    from libreplay.session.state import SessionState, save_new_session

    holder = SessionState(id="3f2a1b2c", scenario="up-health", pack="local", scenario_dir="",
                          project="replaybook-3f2a1b2c", title="Checkout is down")
    save_new_session(holder)
    model, _ = session(tmp_path, compose_with(["18999:80"]))
    (paths.session_dir(holder.id) / "compose.json").write_text(json.dumps(model))
    scenario = load_scenario(UPSTREAM / "up-health")
    port = HostPort("app", 18999, 3000)
    with pytest.raises(EnvironmentProblem) as blind:
        require_free(scenario, [port])
    assert blind.value.message == ("port 127.0.0.1:18999 is held by session 3f2a1b2c ('Checkout is down'); "
                                   "end it with replay-down 3f2a1b2c")
    assert blind.value.exit_code == 5
    with pytest.raises(EnvironmentProblem, match=r"session 3f2a1b2c \(up-health\); end it"):
        require_free(scenario, [port], reveal=True)
    require_free(scenario, [port], excluding=holder.id, sessions_only=True)  # its own ports: no holder
    require_free(scenario, [HostPort("app", 18999, 3000, "udp")], sessions_only=True)  # another protocol
