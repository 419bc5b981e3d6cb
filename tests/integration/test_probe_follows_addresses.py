"""The probe on the real engine: a service that comes back at another address is seen answering
at once, not after the probe's curl has spent its batch on the old, silent address (curl keeps
a name's address for as long as it runs)."""

from __future__ import annotations

import subprocess
import time

import docker
import pytest
from dockerkit import TESTPACK, leftovers, run

from libreplay.engine.docker_api import PROJECT_LABEL

pytestmark = pytest.mark.docker


def _address(container: docker.models.containers.Container) -> str:
    container.reload()
    return str(next(iter(container.attrs["NetworkSettings"]["Networks"].values()))["IPAddress"])


def _probe_lines(probe: docker.models.containers.Container) -> list[tuple[float, str]]:
    lines = probe.logs(stdout=True, stderr=False).decode().split()
    return [(float(lines[i]), lines[i + 1]) for i in range(0, len(lines) - 2, 3)]


def _seen_ok(probe: docker.models.containers.Container, since: float) -> list[float]:
    return [at for at, state in _probe_lines(probe) if at >= since and state == "ok"]


def test_a_service_back_at_another_address_is_seen_within_seconds(projects: list[str]) -> None:
    result = run("replay-up", str(TESTPACK / "t-http"))
    assert result.returncode == 0, result.stderr
    project = f"replaybook-{result.stdout.strip()}"
    projects.append(project)
    client = docker.from_env()

    def service(name: str) -> docker.models.containers.Container:
        labels = [f"{PROJECT_LABEL}={project}", f"com.docker.compose.service={name}"]
        return client.containers.list(filters={"label": labels})[0]

    web, probe = service("web"), service("replaybook-probe")
    old = _address(web)
    network = next(iter(web.attrs["NetworkSettings"]["Networks"]))
    web.stop(timeout=1)
    # Something else takes the old address while web starts again, so web comes back at a new
    # one; then it goes, and the old address answers nothing (each try waits out curl's -m 2).
    # All of it within one of the probe's batches (25 tries, 5 s at the least).
    holder = client.containers.run(
        "debian:bookworm-slim", ["sleep", "infinity"], detach=True, network=network,
        labels={PROJECT_LABEL: project}, init=True,
    )  # fmt: skip
    try:
        if _address(holder) != old:
            pytest.skip("the engine did not give the freed address to the next container")
        web.start()
        back = time.time()
        assert _address(web) != old
        holder.remove(force=True)
        deadline = back + 30
        while time.time() < deadline and not _seen_ok(probe, back):
            time.sleep(0.1)
        seen = _seen_ok(probe, back)
        assert seen and seen[0] - back < 5.0, (
            f"the probe saw web answer after {seen[0] - back if seen else 'more than 30'} s"
        )
    finally:
        subprocess.run(["docker", "rm", "-f", holder.id], capture_output=True, check=False)
    assert run("replay-down", result.stdout.strip()).returncode == 0
    assert leftovers(project) == {}
