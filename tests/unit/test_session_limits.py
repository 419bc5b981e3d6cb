"""The host's ceiling on a session's containers (libreplay/session/limits.py): where it comes
from, how a pack's own limits are folded under it, and what the session's model says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from scenario_kit import unpacking_binds, write_scenario
from typer.testing import CliRunner

from libreplay.core import paths
from libreplay.core.errors import InvalidInput
from libreplay.packs.catalog import scenario_dirs
from libreplay.scenario.load import load_scenario
from libreplay.session.limits import (
    DEFAULT_CEILING,
    GIB,
    MIB,
    PROBE_LIMITS,
    Limits,
    limit_service,
    session_ceiling,
)
from libreplay.session.model import PROBE_SERVICE, SessionParts, session_model
from replaybook.commands import up as up_command

CEILING = Limits(cpus=1.0, memory=512 * MIB, pids=256)


def test_defaults_when_nothing_is_set() -> None:
    assert session_ceiling(environ={}) == DEFAULT_CEILING == Limits(cpus=1.0, memory=GIB, pids=512)


def test_the_environment_sets_the_ceiling_and_options_win() -> None:
    env = {"REPLAYBOOK_SESSION_CPUS": "0.5", "REPLAYBOOK_SESSION_MEMORY": "768m",
           "REPLAYBOOK_SESSION_PIDS": "200"}
    assert session_ceiling(environ=env) == Limits(cpus=0.5, memory=768 * MIB, pids=200)
    assert session_ceiling(cpus="2", memory="1.5g", environ=env) == Limits(
        cpus=2.0, memory=int(1.5 * GIB), pids=200)


def test_off_sets_no_limits_unless_an_option_asks() -> None:
    assert session_ceiling(environ={"REPLAYBOOK_SESSION_LIMITS": "off"}) is None
    assert session_ceiling(pids="100", environ={"REPLAYBOOK_SESSION_LIMITS": "off"}) == Limits(
        cpus=1.0, memory=GIB, pids=100)


@pytest.mark.parametrize(
    ("options", "env", "named"),
    [
        ({"cpus": "lots"}, {}, "--cpus: 'lots' is not a number of CPUs"),
        ({"cpus": "0"}, {}, "--cpus: '0': must be at least 0.01 CPU"),
        ({"cpus": "nan"}, {}, "--cpus: 'nan': must be at least"),
        ({"memory": "2 bananas"}, {}, "--memory: '2 bananas' is not a size"),
        ({"memory": "1m"}, {}, "--memory: '1m': must be at least 16m"),
        ({"pids": "1.5"}, {}, "--pids: '1.5' is not a whole number"),
        ({"pids": "3"}, {}, "--pids: '3': must be at least 16"),
        ({}, {"REPLAYBOOK_SESSION_MEMORY": "-1"}, "REPLAYBOOK_SESSION_MEMORY: '-1' is not a size"),
        ({}, {"REPLAYBOOK_SESSION_LIMITS": "maybe"}, "REPLAYBOOK_SESSION_LIMITS: must be on or off"),
    ],
)
def test_a_bad_value_names_its_option_or_variable(
    options: dict[str, str], env: dict[str, str], named: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        session_ceiling(**options, environ=env)
    assert named in str(caught.value)
    assert caught.value.exit_code == 3


def test_sizes_in_every_usual_spelling() -> None:
    for text, size in [("512m", 512 * MIB), ("1G", GIB), ("1gib", GIB), ("1.5g", int(1.5 * GIB)),
                       ("268435456", 256 * MIB), ("65536k", 64 * MIB)]:
        assert session_ceiling(memory=text, environ={}).memory == size  # type: ignore[union-attr]


def test_the_ceiling_lands_on_a_service_without_limits() -> None:
    spec: dict[str, Any] = {"image": "x"}
    assert limit_service(spec, CEILING) == CEILING
    assert spec == {"image": "x", "cpus": 1.0, "mem_limit": 512 * MIB, "memswap_limit": 512 * MIB,
                    "pids_limit": 256, "ulimits": {"rtprio": {"soft": 0, "hard": 0}}}


def test_no_pack_runs_real_time_or_outweighs_other_sessions() -> None:
    """The CFS quota `cpus` sets does not hold real-time tasks back (no RT group scheduling on
    common kernels): the capabilities that allow SCHED_FIFO go, RLIMIT_RTPRIO is 0, and a CPU
    weight above the default is lowered to it."""
    spec: dict[str, Any] = {"image": "x", "cap_add": ["SYS_NICE", "CAP_SYS_RESOURCE", "NET_ADMIN"],
                            "ulimits": {"rtprio": 99, "nofile": {"soft": 1024, "hard": 2048}},
                            "cpu_shares": 262144}
    limit_service(spec, CEILING)
    assert spec["cap_add"] == ["NET_ADMIN"]
    assert spec["ulimits"] == {"rtprio": {"soft": 0, "hard": 0}, "nofile": {"soft": 1024, "hard": 2048}}
    assert spec["cpu_shares"] == 1024
    only_real_time: dict[str, Any] = {"image": "x", "cap_add": ["SYS_NICE"], "cpu_shares": 512}
    limit_service(only_real_time, CEILING)
    assert "cap_add" not in only_real_time and only_real_time["cpu_shares"] == 512


def test_a_packs_lower_limits_stay_and_higher_ones_are_lowered() -> None:
    # 005-oom-kill's box: 256 MB is the scenario, and swap may not dodge it.
    lower: dict[str, Any] = {"mem_limit": "268435456", "memswap_limit": "536870912", "cpus": 0.5,
                             "pids_limit": 64}
    assert limit_service(lower, CEILING) == Limits(cpus=0.5, memory=256 * MIB, pids=64)
    assert lower["memswap_limit"] == 256 * MIB
    higher: dict[str, Any] = {"mem_limit": "8589934592", "memswap_limit": -1, "cpus": 16,
                              "pids_limit": -1, "mem_reservation": "4294967296"}
    assert limit_service(higher, CEILING) == CEILING
    assert higher["memswap_limit"] == higher["mem_reservation"] == 512 * MIB


def test_cpu_quota_and_deploy_limits_are_folded_into_one_setting_each() -> None:
    spec: dict[str, Any] = {
        "cpu_quota": 25000, "cpu_period": 50000,
        "deploy": {"resources": {"limits": {"cpus": 4, "memory": "134217728", "pids": 9999},
                                 "reservations": {"memory": "1073741824", "cpus": 3}}},
    }
    assert limit_service(spec, CEILING) == Limits(cpus=0.5, memory=128 * MIB, pids=256)
    # the engine refuses cpus beside cpu_quota; Compose refuses mem_limit beside another deploy limit
    assert "cpu_quota" not in spec and "cpu_period" not in spec
    assert spec["deploy"] == {"resources": {"reservations": {"memory": 128 * MIB, "cpus": 0.5}}}


def test_unlimited_spellings_of_a_pack_mean_the_ceiling() -> None:
    spec: dict[str, Any] = {"cpus": 0, "cpu_quota": -1, "mem_limit": "0", "pids_limit": 0}
    assert limit_service(spec, CEILING) == CEILING


# -- the session's model, resolved by Compose ----------------------------------------------------


def _model(tmp_path: Path, compose: dict[str, Any], limits: Limits | None) -> dict[str, Any]:
    directory = write_scenario(tmp_path / "pack" / "s1", compose=compose)
    session_dir = tmp_path / "session"
    session_dir.mkdir()
    parts = SessionParts(
        project="replaybook-abc", session_dir=session_dir, labels={},
        image_name=lambda service: f"replaybook/s1-{service}:test",
        probe={"image": "replaybook/probe:test"}, limits=limits,
    )
    session_model(load_scenario(directory), parts)
    model: dict[str, Any] = json.loads((session_dir / "compose.json").read_text())
    return model


def _limits_of(service: dict[str, Any]) -> tuple[Any, ...]:
    return service["cpus"], service["mem_limit"], service["memswap_limit"], service["pids_limit"]


def test_every_container_of_the_session_is_limited_the_probe_by_its_own(tmp_path: Path) -> None:
    compose = {"services": {
        "web": {"image": "debian:bookworm-slim", "command": ["sleep", "infinity"],
                "mem_limit": "256m", "memswap_limit": "1g", "cpus": 4},
        "app": {"image": "debian:bookworm-slim", "command": ["sleep", "infinity"],
                "deploy": {"resources": {"limits": {"pids": 20000, "memory": "64m"}}}},
    }}
    services = _model(tmp_path, compose, CEILING)["services"]
    assert _limits_of(services["web"]) == (1.0, 256 * MIB, 256 * MIB, 256)
    assert _limits_of(services["app"]) == (1.0, 64 * MIB, 64 * MIB, 256)
    assert _limits_of(services[PROBE_SERVICE]) == (
        PROBE_LIMITS.cpus, PROBE_LIMITS.memory, PROBE_LIMITS.memory, PROBE_LIMITS.pids)


def test_no_ceiling_leaves_the_packs_model_as_it_was(tmp_path: Path) -> None:
    compose = {"services": {"web": {"image": "debian:bookworm-slim", "mem_limit": "256m"}}}
    services = _model(tmp_path, compose, None)["services"]
    assert services["web"]["mem_limit"] == "268435456" and "pids_limit" not in services["web"]
    assert "mem_limit" not in services[PROBE_SERVICE]


def test_the_official_scenarios_keep_their_own_memory_limits_under_the_default(tmp_path: Path) -> None:
    official = paths.official_pack_dir()
    for scenario_dir in sorted(scenario_dirs(official)):
        session_dir = tmp_path / scenario_dir.name
        session_dir.mkdir()
        parts = SessionParts(project=f"replaybook-{scenario_dir.name[:3]}", session_dir=session_dir,
                             labels={}, image_name=lambda s: f"replaybook/x-{s}:t",
                             limits=DEFAULT_CEILING,
                             hold_binds=unpacking_binds(tmp_path / "engine"))  # no volume made
        session_model(load_scenario(scenario_dir), parts)
        services = json.loads((session_dir / "compose.json").read_text())["services"]
        for name, spec in services.items():
            assert spec["memswap_limit"] == spec["mem_limit"] <= GIB, (scenario_dir.name, name)
            assert spec["pids_limit"] == DEFAULT_CEILING.pids and spec["cpus"] == 1.0
        if scenario_dir.name == "005-oom-kill":
            assert services["app"]["mem_limit"] == 256 * MIB  # the scenario's own box stays


def test_replay_up_refuses_a_bad_limit_before_anything(tmp_path: Path) -> None:
    result = CliRunner().invoke(up_command.app, ["no-such-scenario", "--memory", "lots"])
    assert result.exit_code == 3
    assert "--memory: 'lots' is not a size" in result.output
    assert not paths.sessions_dir().exists() or not any(paths.sessions_dir().iterdir())


# -- what a scenario says it needs (meta.json resources) ----------------------------------------


def _scenario(tmp_path: Path, resources: Any) -> Any:
    from scenario_kit import BASE_META

    directory = write_scenario(tmp_path / "pack" / "s1", meta={**BASE_META, "resources": resources})
    return load_scenario(directory)


def test_a_scenario_states_what_each_container_needs(tmp_path: Path) -> None:
    from libreplay.scenario.model import Resources

    scenario = _scenario(tmp_path, {"cpus": 0.5, "memory": "768m", "pids": 300, "disk": "1g"})
    assert scenario.resources == Resources(cpus=0.5, memory=768 * MIB, pids=300)
    assert "meta.json: resources.disk: unknown key, ignored" in scenario.warnings
    assert _scenario(tmp_path / "none", None).resources == Resources()


@pytest.mark.parametrize(
    ("resources", "problem"),
    [
        ("lots", "meta.json: resources: must be an object of cpus, memory and pids, got 'lots'"),
        ({"cpus": 0}, "meta.json: resources.cpus: must be a number of CPUs from 0.01 to 256, got 0"),
        ({"memory": "1.5g"}, "meta.json: resources.memory: must be a size such as 512m or 2g, got '1.5g'"),
        ({"memory": 512}, "meta.json: resources.memory: must be a size such as 512m or 2g, got 512"),
        ({"pids": 4.5}, "meta.json: resources.pids: must be an integer from 16 to 4194304, got 4.5"),
    ],
)
def test_a_bad_resources_field_is_named(tmp_path: Path, resources: Any, problem: str) -> None:
    from libreplay.core.errors import ScenarioInvalid

    with pytest.raises(ScenarioInvalid) as caught:
        _scenario(tmp_path, resources)
    assert problem in caught.value.problems


def test_a_host_below_the_scenarios_needs_is_refused_naming_what_to_raise(tmp_path: Path) -> None:
    from libreplay.core.errors import EnvironmentProblem
    from libreplay.session.limits import require_room

    scenario = _scenario(tmp_path, {"memory": "2g", "pids": 300})
    require_room(scenario, Limits(cpus=1.0, memory=2 * GIB, pids=300))  # exactly enough
    require_room(scenario, None)  # limits off
    with pytest.raises(EnvironmentProblem) as caught:
        require_room(scenario, CEILING)
    message = str(caught.value)
    assert "2g memory (the host gives 512m: --memory or REPLAYBOOK_SESSION_MEMORY)" in message
    assert "300 processes (the host gives 256: --pids or REPLAYBOOK_SESSION_PIDS)" in message
    assert "CPU" not in message and scenario.id not in message  # blind: the scenario is not named
    assert caught.value.exit_code == 5


def test_a_ceiling_of_more_cpus_than_the_engine_has_is_fitted_to_it() -> None:
    from libreplay.session.limits import fit_to_engine

    four = Limits(cpus=4.0, memory=GIB, pids=512)
    assert fit_to_engine(four, 2) == Limits(cpus=2.0, memory=GIB, pids=512)
    assert fit_to_engine(CEILING, 2) == CEILING
    assert fit_to_engine(four, None) == four
    assert fit_to_engine(None, 2) is None
