"""The forum track's shared test pieces (packs/official/forum): a session of a forum scenario
driven from the library, as a trainee and the engine would drive it, and its fixtures.

A test module of the track makes its fixtures from it (the ``projects`` fixture is
tests/integration/conftest.py's):

    import forumkit
    from forumkit import ForumSession

    @pytest.fixture
    def forum(projects: list[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[forumkit.Opener]:
        with forumkit.sessions(projects, monkeypatch) as open_one:
            yield open_one

    def test_x(forum: forumkit.Opener, monkeypatch: pytest.MonkeyPatch) -> None:
        forumkit.short_hold(monkeypatch)
        s = forum("101-mail-backlog")
        s.break_it()
        with s.watching():
            s.trainee("forum", "forumctl restart sidekiq")
            ...

Everything a session made is taken down after the test (the ``projects`` fixture of
tests/integration/conftest.py removes what is left by label).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from dockerkit import ROOT
from sessionkit import DrivenSession, opened_sessions, short_hold  # noqa: F401 - the track's tests call forumkit.short_hold

FORUM = ROOT / "packs" / "official" / "forum"
SLA_SECONDS = 120  # from the break: a backlog to look at, a fix, the restart and a hold


class ForumSession(DrivenSession):
    """One session of a forum scenario (a directory of packs/official/forum), from the library."""

    def __init__(self, scenario_dir: str, projects: list[str]) -> None:
        super().__init__(FORUM / scenario_dir, "official", projects)

    def trainee(self, service: str, script: str, *, ok: bool = True) -> str:
        """What a trainee types in the service's shell, its output (stdout, then stderr). With
        ``ok`` (the default) the script must succeed."""
        done = self.shell(service, script)
        if ok:
            assert done.returncode == 0, f"exit {done.returncode}: {done.stdout}{done.stderr}"
        return done.stdout + done.stderr

    # -- the forum box's own tools, as the trainee has them --------------------------------

    def sql(self, query: str) -> str:
        """A query in the forum's database (psql as postgres, unaligned, tuples only)."""
        as_postgres = "setpriv --reuid=postgres --regid=postgres --init-groups"
        return self.trainee("forum", f"{as_postgres} psql -XAtq -d forum <<'SQL'\n{query}\nSQL\n").strip()

    def redis(self, *command: str) -> str:
        return self.trainee("forum", "redis-cli " + " ".join(command)).strip()

    def ruby(self, program: str) -> str:
        """A Ruby program run with the forum loaded (forum-runner, as the forum user)."""
        return self.trainee("forum", f"forum-runner - <<'RUBY'\n{program}\nRUBY\n")

    def queue_size(self, queue: str = "default") -> int:
        return int(self.redis("LLEN", f"queue:{queue}"))

    def drains_below(self, size: int, within: float, queue: str = "default") -> bool:
        """Whether the queue gets below ``size`` jobs within ``within`` seconds."""
        deadline = time.monotonic() + within
        while self.queue_size(queue) >= size:
            if time.monotonic() > deadline:
                return False
            time.sleep(2)
        return True

    # -- the engine's side -----------------------------------------------------------------

    def stays_unfixed(self, seconds: float) -> bool:
        """The check fails at every try for ``seconds``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.fixed():
                return False
            time.sleep(1)
        return True


Opener = Callable[[str], ForumSession]  # opens a session of a forum scenario, by directory name


@contextmanager
def sessions(projects: list[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Opener]:
    """Opens sessions of forum scenarios by directory name; each is taken down at the end."""
    with opened_sessions(lambda scenario_dir: ForumSession(scenario_dir, projects), monkeypatch,
                         sla_seconds=SLA_SECONDS) as open_one:
        yield open_one
