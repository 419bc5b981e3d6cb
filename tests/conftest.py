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
def nothing_left_behind() -> Iterator[None]:
    """After the whole suite: no container, network or volume of replaybook may remain."""
    yield
    try:
        import docker

        client = docker.from_env()
        client.ping()
    except Exception:  # noqa: BLE001 - no engine: the Docker tests did not run either
        return
    left = [c.name for c in client.containers.list(all=True) if c.name.startswith(REPLAYBOOK_PREFIX)]
    left += [n.name for n in client.networks.list() if n.name.startswith(REPLAYBOOK_PREFIX)]
    left += [v.name for v in client.volumes.list() if v.name.startswith(REPLAYBOOK_PREFIX)]
    assert left == [], f"the test suite left replaybook resources in the engine: {left}"
