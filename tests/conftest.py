"""Shared fixtures. Every test gets its own REPLAYBOOK_HOME, so no test touches a real home."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

REPLAYBOOK_PREFIX = "replaybook-"


HOMES_USED: list[Path] = []


@pytest.fixture(autouse=True)
def replaybook_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("replaybook-home")
    monkeypatch.setenv("REPLAYBOOK_HOME", str(home))
    # Every fix must hold before it counts; a test that is not about the hold waits one second
    # for it instead of the scenario's own (tests of the hold set their own).
    monkeypatch.setenv("REPLAYBOOK_HOLD_SECONDS", "1")
    HOMES_USED.append(home)
    yield home


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a run with Docker tests, nothing this run created may remain in the engine:
    no container labelled with one of the run's REPLAYBOOK homes, and no replaybook network
    or volume that was not there before the run (Compose labels those with the project only)."""
    uses_docker = any(item.get_closest_marker("docker") for item in request.session.items)
    before = _replaybook_networks_and_volumes() if uses_docker else set()
    yield
    if not uses_docker:
        return
    left = sorted(_containers_of_homes(HOMES_USED) | (_replaybook_networks_and_volumes() - before))
    assert left == [], f"the test suite left replaybook resources in the engine: {left}"


def _containers_of_homes(homes: list[Path]) -> set[str]:
    import docker

    from libreplay.session.stack import home_id as label_of

    client = docker.from_env()
    found: set[str] = set()
    for home in homes:
        home_id = label_of(home / "state")  # the label every container of a session carries
        labelled = client.containers.list(all=True, filters={"label": f"org.replaybook.home={home_id}"})
        found |= {c.name for c in labelled}
    return found


def _replaybook_networks_and_volumes() -> set[str]:
    import docker

    client = docker.from_env()
    names = {n.name for n in client.networks.list()} | {v.name for v in client.volumes.list()}
    return {name for name in names if name.startswith(REPLAYBOOK_PREFIX)}
