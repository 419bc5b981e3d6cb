"""Scenarios shaped like the upstream tool's scaffold, against the real engine: meta.json with
``"break": null, "faults": []``, a compose file publishing ``18080:3000``, host-side scripts that
name the pack's compose file (``-f "$SCENARIO_DIR/docker-compose.yml"``) and a check that curls
the published port from the host.

Every test asserts that nothing of its sessions is left; a teardown removes by label whatever a
failing test left.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from dockerkit import FIXTURES, leftovers, run

from libreplay.core import paths
from libreplay.engine.docker_api import HOME_LABEL
from libreplay.session.snapshot import files_dir
from libreplay.session.stack import home_id
from libreplay.session.state import list_sessions

pytestmark = pytest.mark.docker

UPSTREAM = FIXTURES / "upstream"
EXIT_ZERO = UPSTREAM / "up-health"  # check.sh curls http://localhost:18080/health on the host
HTTP_200 = UPSTREAM / "up-health-http"  # success_target http://localhost:18081/health
PORT = 18080


@pytest.fixture(autouse=True)
def host_curl() -> None:
    """The check runs on the host with the host's tools."""
    assert shutil.which("curl"), "curl is needed on the host: upstream's check.sh uses it"


def up(scenario: Path, projects: list[str]) -> str:
    result = run("replay-up", str(scenario))
    assert result.returncode == 0, result.stderr
    session = result.stdout.strip()
    projects.append(f"replaybook-{session}")
    return session


def containers_of_this_home() -> list[str]:
    client = docker.from_env()
    return [c.name for c in client.containers.list(all=True, filters={"label": f"{HOME_LABEL}={home_id()}"})]


def assert_clean(session: str) -> None:
    assert leftovers(f"replaybook-{session}") == {}
    assert not paths.session_dir(session).exists()


def host_status(port: int) -> str:
    """The HTTP status of /health through the published port, as a host tool sees it."""
    result = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
         f"http://localhost:{port}/health"],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    return result.stdout


def test_validate_accepts_the_upstream_shapes() -> None:
    result = run("replaybook", "validate", str(EXIT_ZERO), str(HTTP_200))
    assert result.returncode == 0, result.stderr
    assert "local/up-health" in result.stdout and "local/up-health-http" in result.stdout


@pytest.mark.parametrize("scenario", [EXIT_ZERO, HTTP_200], ids=["exit-zero-from-host", "http-200-localhost"])
def test_replaybook_test_proves_the_whole_cycle(scenario: Path) -> None:
    """up, baseline, break.sh (`-f` the pack's compose file), fails, solve.sh, passes, holds, down."""
    result = run("replaybook", "test", str(scenario))
    assert result.returncode == 0, result.stderr
    assert "1 passed, 0 failed" in result.stderr + result.stdout
    assert containers_of_this_home() == []
    assert list_sessions() == []


def test_a_second_session_is_refused_naming_the_one_holding_the_port(projects: list[str]) -> None:
    first = up(EXIT_ZERO, projects)
    assert host_status(PORT) == "200"
    # Published on loopback only, whatever the pack's file says.
    (app,) = docker.from_env().containers.list(filters={"label": f"org.replaybook.session={first}",
                                                         "publish": f"{PORT}/tcp"})
    bindings = app.attrs["HostConfig"]["PortBindings"]
    assert bindings == {"3000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18080"}]}
    # What a script's `-f "$SCENARIO_DIR/docker-compose.yml"` reads is the session's own model.
    session_dir = paths.session_dir(first)
    copied = files_dir(session_dir) / "docker-compose.yml"
    assert json.loads(copied.read_text()) == json.loads((session_dir / "compose.json").read_text())

    second = run("replay-up", str(EXIT_ZERO))
    assert second.returncode == 5, second.stderr
    assert (f"port 127.0.0.1:{PORT} is held by session {first} ('Upstream-shaped: the health endpoint is "
            f"gone'); end it with replay-down {first}") in second.stderr
    assert "up-health" not in second.stderr  # blind play: the holder is named by its title
    assert "Traceback" not in second.stderr and second.stdout == ""
    # Nothing of the refused session was made: no session directory, no container.
    assert [state.id for state in list_sessions()] == [first]
    assert {name.split("-")[1] for name in containers_of_this_home()} == {first}

    revealed = run("replay-up", "--reveal", str(EXIT_ZERO))
    assert revealed.returncode == 5
    assert f"is held by session {first} (up-health); end it with replay-down {first}" in revealed.stderr

    assert run("replay-down", first).returncode == 0
    assert_clean(first)
    assert host_status(PORT) == "000"  # nothing listens there any more
    assert containers_of_this_home() == []


@pytest.fixture
def port_held_by_a_program() -> Iterator[socket.socket]:
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("0.0.0.0", PORT))
        listener.listen()
        yield listener


def test_a_port_held_by_another_program_is_refused_before_anything_is_made(
    port_held_by_a_program: socket.socket,
) -> None:
    result = run("replay-up", str(EXIT_ZERO))
    assert result.returncode == 5, result.stderr
    assert (f"port 127.0.0.1:{PORT} is held by another program on this machine: docker-compose.yml "
            "publishes it for service app") in result.stderr
    assert f"ss -lntup | grep :{PORT}" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert list_sessions() == [] and not any(paths.sessions_dir().glob("*"))
    assert containers_of_this_home() == []


def test_the_scenario_publishing_nothing_runs_two_sessions_side_by_side(
    tmp_path: Path, projects: list[str]
) -> None:
    """The same scenario without `ports:` (its check inside the container): as before, any number
    of sessions, each broken and checked on its own."""
    scenario = tmp_path / "up-health-private"
    shutil.copytree(EXIT_ZERO, scenario)
    compose = scenario / "docker-compose.yml"
    compose.write_text(compose.read_text().replace('    ports: ["18080:3000"]\n', ""))
    (scenario / "check.sh").write_text(
        "docker compose exec -T app curl -fsS --max-time 2 -o /dev/null http://localhost:3000/health\n"
    )
    assert "ports" not in compose.read_text()
    first = up(scenario, projects)
    second = up(scenario, projects)
    assert first != second
    assert run("replay-break", first).returncode == 0
    assert run("replay-check", first).returncode == 1
    assert run("replay-check", second).returncode == 0  # untouched by the other's break
    for session in (first, second):
        assert run("replay-down", session).returncode == 0
        assert_clean(session)
    assert containers_of_this_home() == []


def test_up_warns_that_an_engine_before_28_lets_neighbours_reach_loopback_ports(
    projects: list[str],
) -> None:
    """moby/moby#45610: before Docker Engine 28.0, hosts of the same network segment can route to
    a port published on 127.0.0.1; replay-up says so for a scenario that publishes ports."""
    result = run("replay-up", str(EXIT_ZERO))
    assert result.returncode == 0, result.stderr
    session = result.stdout.strip()
    projects.append(f"replaybook-{session}")
    major = int(str(docker.from_env().version()["Version"]).split(".")[0])
    warned = "lets hosts on this machine's network segment reach them" in result.stderr
    assert warned == (major < 28), result.stderr
    assert run("replay-down", session).returncode == 0
    assert_clean(session)
