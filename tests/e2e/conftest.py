"""The e2e fixture: a Trainee (see trainee.py) whose terminal and session are always cleaned up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from trainee import Trainee


@pytest.fixture
def trainee(replaybook_home: Path) -> Iterator[Trainee]:
    person = Trainee(replaybook_home)
    try:
        yield person
    finally:
        person.clean_up()
