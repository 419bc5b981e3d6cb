"""Shared fixtures. Every test gets its own REPLAYBOOK_HOME, so no test touches a real home."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def replaybook_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("replaybook-home")
    monkeypatch.setenv("REPLAYBOOK_HOME", str(home))
    yield home
