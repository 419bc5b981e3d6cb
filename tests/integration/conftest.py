"""Fixtures of the tests that run against the real engine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dockerkit import remove_project


@pytest.fixture
def projects() -> Iterator[list[str]]:
    """Projects a test created; removed by label after it, whatever happened."""
    made: list[str] = []
    yield made
    for project in made:
        remove_project(project)
