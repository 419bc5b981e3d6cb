"""Shared fixtures. Every test gets its own REPLAYBOOK_HOME, so no test touches a real home."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

REPLAYBOOK_PREFIX = "replaybook-"


@pytest.fixture(autouse=True)
def replaybook_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("replaybook-home")
    monkeypatch.setenv("REPLAYBOOK_HOME", str(home))
    yield home


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a run with Docker tests: no container, network or volume of replaybook remains
    that was not there before the run."""
    uses_docker = any(item.get_closest_marker("docker") for item in request.session.items)
    before = _replaybook_objects() if uses_docker else set()
    yield
    if uses_docker:
        left = sorted(_replaybook_objects() - before)
        assert left == [], f"the test suite left replaybook resources in the engine: {left}"


def _replaybook_objects() -> set[str]:
    import docker

    client = docker.from_env()
    names = {c.name for c in client.containers.list(all=True)}
    names |= {n.name for n in client.networks.list()}
    names |= {v.name for v in client.volumes.list()}
    return {name for name in names if name.startswith(REPLAYBOOK_PREFIX)}
