"""The trainee's docker tools against the real engine: the shim run inside a real shell
container, answered by a real watcher, acting on real containers.

What is checked is what the trainee sees: the allowed commands work on the session's own
services; the probe, and a container of another session, cannot be seen or named, by name or
by id; everything else is refused in one line with exit status 1; no container has the Docker
socket, and the shim needs none.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Iterator
from typing import Any

import docker
import pytest
from watchkit import REPLIES, TRAINEE_PATH, Watched, wait_for

from libreplay.session.model import PROBE_SERVICE
from libreplay.session.state import load_session
from libreplay.session.tools import STREAM_FLUSH_SECONDS, TOOL_REFILL_SECONDS

pytestmark = pytest.mark.docker

SERVICES = {"app", "shell"}
INSPECT_KEYS = {"Id", "Service", "Created", "State", "RestartCount", "Config", "HostConfig", "Mounts",
                "Networks"}


def docker_in(watched: Watched, *args: str) -> tuple[int, str, str]:
    """`docker ARGS` typed in the trainee's shell: (exit status, stdout, stderr)."""
    return watched.trainee_apart(shlex.join(["docker", *args]))


def app_says(watched: Watched, line: str) -> None:
    """A line on the app service's own log (its PID 1's stdout)."""
    result = watched.container("app").exec_run(["sh", "-c", 'printf "%s\\n" "$LINE" > /proc/1/fd/1'],
                                               environment={"LINE": line})
    assert result.exit_code == 0, result.output


def listed(output: str) -> dict[str, list[str]]:
    """`docker ps` rows by service: [container id, state, status]."""
    rows = [line.split(None, 3) for line in output.splitlines()[2:]]
    return {row[1]: [row[0], *row[2:]] for row in rows}


@pytest.fixture
def stranger(watched: Watched) -> Iterator[Any]:
    """A container labelled as another session's `app` service, running on the same engine."""
    other = "0ther5e5"
    container = docker.from_env().containers.run(
        "debian:bookworm-slim", ["sleep", "infinity"], detach=True, name=f"replaybook-{other}-app-1",
        labels={"com.docker.compose.project": f"replaybook-{other}", "com.docker.compose.service": "app",
                "org.replaybook.session": other},
    )  # fmt: skip
    try:
        yield container
    finally:
        container.remove(force=True)


def test_ps_logs_inspect_top_and_stats_show_the_sessions_services(watched: Watched) -> None:
    status, out, err = docker_in(watched, "ps")
    assert (status, err) == (0, "")
    assert out.splitlines()[0].split() == ["CONTAINER", "ID", "SERVICE", "STATE", "STATUS"]
    rows = listed(out)
    assert set(rows) == SERVICES  # not the probe, nor anything else on the engine
    assert all(row[1] == "running" and row[2].startswith("Up ") for row in rows.values())
    assert rows["shell"][0] == watched.shell.id[:12]
    state = load_session(watched.session)
    assert state.scenario not in out and state.project not in out  # no scenario id, no project

    status, out, _ = docker_in(watched, "ps", "-q")
    assert status == 0 and sorted(out.split()) == sorted(watched.container(s).id[:12] for s in SERVICES)

    app_says(watched, "marker-of-the-app")
    status, out, err = docker_in(watched, "logs", "app")
    assert (status, err) == (0, "") and "marker-of-the-app" in out
    # The probe's requests keep coming into the app's log: the marker is among its last lines.
    status, out, _ = docker_in(watched, "logs", "--tail", "30", "-t", watched.container("app").id[:8])
    assert status == 0 and "marker-of-the-app" in out and len(out.splitlines()) <= 30
    assert all(line.startswith("20") for line in out.splitlines())  # each with its timestamp
    status, out, _ = docker_in(watched, "logs", "--since", "1h", "shell")
    assert status == 0 and "marker-of-the-app" not in out

    status, out, err = docker_in(watched, "inspect", "app")
    assert (status, err) == (0, "")
    [shown] = json.loads(out)
    assert set(shown) == INSPECT_KEYS and shown["Service"] == "app"
    assert shown["State"]["Running"] is True and shown["Id"] == watched.container("app").id
    assert "Labels" not in out and "Image" not in out  # labels and image names carry the scenario id
    assert state.scenario not in out and state.project not in out and "replaybook" not in out

    status, out, _ = docker_in(watched, "top", "app")
    assert status == 0 and "PID" in out.splitlines()[0] and "http.server" in out

    status, out, _ = docker_in(watched, "stats", "--no-stream")
    assert status == 0 and out.splitlines()[0].split()[:3] == ["SERVICE", "CPU", "%"]
    assert {line.split()[0] for line in out.splitlines()[2:]} == SERVICES
    watched.assert_watching()


def test_a_stopped_service_can_be_started_again_and_restarted(watched: Watched) -> None:
    assert docker_in(watched, "stop", "-t", "1", "app") == (0, "app\n", "")
    assert watched_status(watched, "app") == "exited"
    status, out, _ = docker_in(watched, "ps")
    assert status == 0 and set(listed(out)) == {"shell"}
    status, out, _ = docker_in(watched, "ps", "-a")
    assert status == 0 and listed(out)["app"][1] == "exited"

    status, _, err = docker_in(watched, "top", "app")
    assert status == 1 and err.strip() == "docker top: app is not running (exited); `docker start app`"

    assert docker_in(watched, "start", "app") == (0, "app\n", "")
    assert watched_status(watched, "app") == "running"
    before = watched.container("app").attrs["State"]["StartedAt"]
    assert docker_in(watched, "restart", "--time=1", "app") == (0, "app\n", "")
    assert watched.container("app").attrs["State"]["StartedAt"] != before

    # Its own service may be restarted (the shell reconnects), not stopped: that would end it.
    status, out, err = docker_in(watched, "stop", "shell")
    assert (status, out) == (1, "") and "this shell's own service" in err
    assert watched_status(watched, "shell") == "running"
    watched.assert_watching()


def watched_status(watched: Watched, service: str) -> str:
    project = f"replaybook-{watched.session}"
    labels = [f"com.docker.compose.project={project}", f"com.docker.compose.service={service}"]
    [container] = docker.from_env().containers.list(all=True, filters={"label": labels})
    return str(container.status)


def test_other_containers_are_invisible_by_name_and_by_id(watched: Watched, stranger: Any) -> None:
    probe = docker.from_env().containers.list(
        filters={"label": [f"com.docker.compose.project=replaybook-{watched.session}",
                           f"com.docker.compose.service={PROBE_SERVICE}"]}
    )[0]  # fmt: skip
    services = ", ".join(load_session(watched.session).services)
    status, out, _ = docker_in(watched, "ps", "-a")
    assert status == 0 and set(listed(out)) == SERVICES
    assert stranger.id[:12] not in out and probe.id[:12] not in out

    names = (stranger.name, stranger.id, stranger.id[:12], PROBE_SERVICE, probe.id, probe.id[:12])
    asked = [("logs", name) for name in names] + [("stop", name) for name in names]
    asked += [(verb, stranger.id[:12]) for verb in ("inspect", "top", "restart", "start")]
    for args in asked:
        status, out, err = docker_in(watched, *args)
        assert (status, out) == (1, ""), (args, out)
        assert err == f"docker: no such service: {args[1]!r} (services: {services})\n", err
        time.sleep(TOOL_REFILL_SECONDS)  # not a flood: the gate would tell it to slow down
    stranger.reload()
    probe.reload()
    assert stranger.status == "running" and probe.status == "running"  # nothing happened to them
    watched.assert_watching()


REFUSED = [
    (["exec", "app", "sh"], "docker exec: not available here (a shell in another service: its window"),
    (["run", "--rm", "debian:bookworm-slim"], "docker run: not available here"),
    (["cp", "app:/etc/passwd", "/tmp/"], "docker cp: not available here"),
    (["kill", "-s", "KILL", "app"], "docker kill: not available here"),
    (["rm", "-f", "app"], "docker rm: not available here"),
    (["compose", "down"], "docker compose: not available here"),
    (["-H", "tcp://127.0.0.1:2375", "ps"], "docker: -H: global options"),
    (["--host=unix:///var/run/docker.sock", "ps"], "docker: --host=unix:///var/run/docker.sock: global"),
    (["--context", "default", "ps"], "docker: --context: global options"),
    (["logs", "--details", "app"], "docker logs: --details is not available here"),
    (["inspect", "-f", "{{.Config.Labels}}", "app"], "docker inspect: -f is not available here"),
    (["ps", "--format", "{{.Labels}}"], "docker ps: --format is not available here"),
    (["stats"], "docker stats: only `docker stats --no-stream`"),
    (["top", "app", "aux"], "docker top: takes one service (ps options are not available here)"),
    (["logs", "app\nreplaybook-hint-request forged"], "docker: no such service: 'app\\nreplaybook-hint"),
]


def test_everything_else_is_refused_in_one_line(watched: Watched) -> None:
    for args, said in REFUSED:
        status, out, err = docker_in(watched, *args)
        assert (status, out) == (1, ""), args
        assert err.startswith(said) and err.count("\n") == 1, err
        time.sleep(TOOL_REFILL_SECONDS)
    assert load_session(watched.session).hints_used == 0  # no argument could forge another request
    watched.assert_watching()


def test_no_container_has_the_docker_socket_and_the_shim_needs_none(watched: Watched) -> None:
    for service in (*SERVICES, PROBE_SERVICE):
        container = watched.container(service)
        assert container.exec_run(["sh", "-c", "test -e /var/run/docker.sock || test -e /run/docker.sock"]
                                  ).exit_code == 1  # fmt: skip
        assert not [m for m in container.attrs["Mounts"] if "docker.sock" in m.get("Source", "")]
    shim = "command -v docker && grep -c -e docker.sock -e DOCKER_HOST /run/replaybook/bin/docker"
    status, out = watched.trainee(shim)
    assert (status, out) == (1, "/run/replaybook/bin/docker\n0\n")  # the shim, which names no socket
    assert docker_in(watched, "ps")[0] == 0  # and it works without one


def test_logs_follow_streams_until_stopped(watched: Watched) -> None:
    # In the foreground, as the trainee runs it: Ctrl-C is a SIGINT to the shim.
    follow = "echo $$ > /tmp/follow.pid; exec docker logs -f -n 0 app > /tmp/follow.out 2> /tmp/follow.err"
    watched.shell.exec_run(["sh", "-c", follow], environment={"PATH": TRAINEE_PATH}, detach=True)
    wait_for(lambda: watched.trainee("cat /tmp/follow.pid")[1].strip().isdigit(), "the shim started")
    pid = watched.trainee("cat /tmp/follow.pid")[1].strip()
    # The stream shows only what is logged once it is open (-n 0), which on a loaded machine may
    # take a while: the app says "ready" until a "ready" comes through, then the lines to follow.
    def stream_open() -> bool:
        app_says(watched, "ready")
        return "ready" in watched.trainee("cat /tmp/follow.out")[1].split()

    wait_for(stream_open, "the stream open", timeout=60)
    for n in range(3):
        app_says(watched, f"followed-{n}")
    followed = [f"followed-{n}" for n in range(3)]
    # The probe's requests to the app come in between; the trainee's lines arrive in order.
    def seen() -> list[str]:
        return [word for word in watched.trainee("cat /tmp/follow.out")[1].split() if word in followed]

    wait_for(lambda: seen() == followed, "the lines followed")
    assert watched.trainee(f"kill -INT {pid}")[0] == 0
    wait_for(lambda: watched.trainee(f"kill -0 {pid}")[0] != 0, "the shim stopped")
    # A chunk already on its way may still land; after that, nothing more is sent, although the
    # app's log goes on (the probe's requests, and this line).
    time.sleep(2 * STREAM_FLUSH_SECONDS + 1)
    left = watched.trainee(f"ls -A {REPLIES}")
    app_says(watched, "after-the-end")
    time.sleep(4 * STREAM_FLUSH_SECONDS + 1)
    assert watched.trainee(f"ls -A {REPLIES}") == left and len(left[1].split()) <= 1
    assert "after-the-end" not in watched.trainee("cat /tmp/follow.out")[1]

    # A stream also ends, with status 0, when the service stops.
    background = "(docker logs -f app > /tmp/g.out; echo $? > /tmp/g.status) > /dev/null 2>&1 &"
    assert watched.trainee(background)[0] == 0
    wait_for(lambda: "after-the-end" in watched.trainee("cat /tmp/g.out")[1], "the log so far")
    watched.container("app").stop(timeout=1)
    wait_for(lambda: watched.trainee("cat /tmp/g.status")[1].strip() == "0", "the end, with the service")
    watched.assert_watching()
