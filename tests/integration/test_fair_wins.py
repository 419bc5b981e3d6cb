"""Fair wins in the official pack: the shortcuts found by playing it (issue 10) do not win.

Each test brings a real session up, breaks it with the fault named, plays the shortcut as a
trainee would (a shell script sent into a container with `docker compose exec`), and shows
what stops it: the scenario's hold (the check relapses), or a guard that fails while the check
passes. Guards are run the way the engine runs them: the scenario's script, with bash on the
host, from the session's copy, in the session's environment.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator

import pytest
from dockerkit import ROOT, run

from libreplay.scenario.load import load_scenario
from libreplay.session import lifecycle
from libreplay.session.stack import Stack
from libreplay.session.state import load_session

pytestmark = pytest.mark.docker

OFFICIAL = ROOT / "packs" / "official"
TRAINEE_SECONDS = 60


class Session:
    """One session of an official scenario, driven from the library; down()'d by the fixture."""

    def __init__(self, scenario_id: str, projects: list[str]) -> None:
        self.scenario = load_scenario(OFFICIAL / scenario_id, pack="official")
        state = lifecycle.up(self.scenario)
        projects.append(state.project)
        self.id = state.id

    @property
    def stack(self) -> Stack:
        return lifecycle.open_stack(load_session(self.id))

    def break_it(self, fault: str | None = None) -> None:
        lifecycle.break_session(self.id, fault_name=fault)

    def trainee(self, service: str, script: str) -> str:
        """What a trainee types in the service's shell (as root), sent over stdin."""
        stack = self.stack
        done = subprocess.run(
            ["docker", "compose", "exec", "-T", service, "sh", "-s"],
            input=script, capture_output=True, text=True, check=False,
            env=stack.env(), cwd=stack.files_dir, timeout=TRAINEE_SECONDS,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def guard_passes(self, name: str) -> bool:
        guard = next(g for g in self.scenario.guards if g.name == name)
        assert guard.script is not None
        return self.stack.run_script(guard.script, timeout=20).ok

    def solve(self, script: str = "solve.sh") -> None:
        solved = self.stack.run_script(script)
        assert solved.ok, solved.tail()

    def fixed(self) -> bool:
        """The success check, once (replay-check: exit 0 fixed, 1 not fixed)."""
        checked = run("replay-check", self.id, timeout=120)
        assert checked.returncode in (0, 1), checked.stderr
        return checked.returncode == 0

    def fixed_within(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.fixed():
                return True
            time.sleep(0.5)
        return False

    def relapses_within(self, seconds: float) -> bool:
        """Whether the check fails at some point within ``seconds`` (a hold would end there)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not self.fixed():
                return True
            time.sleep(0.5)
        return False


@pytest.fixture
def open_session(projects: list[str]) -> Iterator[Callable[[str], Session]]:
    opened: list[Session] = []

    def open_one(scenario_id: str) -> Session:
        made = Session(scenario_id, projects)
        opened.append(made)
        return made

    yield open_one
    for made in opened:
        lifecycle.down(made.id, record=False)


# -- 001: a stub location in nginx ---------------------------------------------------------

NGINX_STUB = r"""
sed -i 's|^    location / {|    location = /checkout { return 200 "{}"; }\n&|' \
    /etc/nginx/conf.d/checkout.conf
nginx -t && nginx -s reload
"""


def test_001_a_stub_location_in_nginx_trips_app_answers(open_session: Callable[[str], Session]) -> None:
    s = open_session("001-nginx-502")
    s.break_it()
    assert s.guard_passes("app-answers")  # broken: /checkout answers 502, nothing is faked
    s.trainee("web", NGINX_STUB)
    assert s.fixed_within(10)  # a status check alone is fooled
    assert not s.guard_passes("app-answers")

    s.trainee("web", "sed -i '/location = \\/checkout/d' /etc/nginx/conf.d/checkout.conf")
    s.solve()
    assert s.fixed_within(10)
    assert s.guard_passes("app-answers")  # the real fix keeps it


# -- 002: trust instead of a password ------------------------------------------------------

CHOWN_AND_TRUST = """
sed -i 's/scram-sha-256/trust/' /etc/postgresql/15/main/pg_hba.conf
chown -R postgres:postgres /var/lib/postgresql/15/main
"""


def test_002_trust_authentication_trips_password_required(open_session: Callable[[str], Session]) -> None:
    s = open_session("002-postgres-wont-start")
    s.break_it("wrong-owner")
    assert s.guard_passes("password-required") and s.guard_passes("orders-kept")  # postgres is down
    s.trainee("db", CHOWN_AND_TRUST)
    assert s.fixed_within(20)
    assert not s.guard_passes("password-required")
    assert s.guard_passes("orders-kept")  # the data was never at risk here

    s.trainee("db", "runuser -u postgres -- psql -d shop -qc 'DELETE FROM orders WHERE id > 100'")
    assert not s.guard_passes("orders-kept")


# -- 004: the trace writer left running, or only paused -----------------------------------

TRACE = "/var/lib/app/cache/.debug/requests.trace"
HEALTHY_NOW = "curl -fsS -m 2 -o /dev/null http://localhost:8080/health"


def test_004_a_clean_up_that_leaves_the_writer_relapses_within_the_hold(
    open_session: Callable[[str], Session],
) -> None:
    s = open_session("004-disk-full")
    s.break_it()
    s.trainee("app", f": > {TRACE}\n{HEALTHY_NOW}")  # passes the moment after the truncation
    assert s.relapses_within(s.scenario.hold_seconds)  # the writer fills the volume again

    s.trainee("app", f"kill -STOP $(lsof -t {TRACE})\nsleep 0.5\n: > {TRACE}\n{HEALTHY_NOW}")
    assert not s.relapses_within(5)  # a paused writer fills nothing: the check alone is fooled
    assert not s.guard_passes("writer-not-paused")

    s.trainee("app", f"kill -KILL $(lsof -t {TRACE})")
    s.solve()
    assert s.fixed_within(10)
    assert s.guard_passes("writer-not-paused")


# -- 008: the migration cancelled instead of its blocker ----------------------------------

CANCEL_MIGRATION = """
psql -Atc "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'migrate'"
"""


def test_008_cancelling_the_migration_trips_migration_kept(open_session: Callable[[str], Session]) -> None:
    s = open_session("008-migration-lock")
    s.break_it()
    assert s.guard_passes("migration-kept")  # the migration waits for its lock
    s.trainee("app", CANCEL_MIGRATION)
    assert s.fixed_within(15)  # writes flow again...
    assert not s.guard_passes("migration-kept")  # ...with the deploy half done


# -- 010: the API made a superuser --------------------------------------------------------


PIN_DB = """
echo "$(getent hosts db | cut -d' ' -f1) db  # pinned by hand" >> /etc/hosts
"""
UNPIN_DB = """
grep -v 'pinned by hand' /etc/hosts > /tmp/hosts && cat /tmp/hosts > /etc/hosts
"""
LOG_IN_AS_OPS = """
sed -i -e 's/^DB_USER=.*/DB_USER=ops/' -e 's/^DB_PASSWORD=.*/DB_PASSWORD=ops-on-call-2k/' /etc/api/api.env
"""


def test_010_borrowed_slots_or_pinned_settings_trip_guards(open_session: Callable[[str], Session]) -> None:
    s = open_session("010-pool-exhausted")
    s.break_it("leaking-export")
    assert s.guard_passes("api-not-superuser") and s.guard_passes("api-settings-kept")
    s.trainee("api", 'psql -c "ALTER ROLE api SUPERUSER"')
    assert s.fixed_within(15)  # the API borrows the reserved slots
    assert not s.guard_passes("api-not-superuser")

    s.trainee("api", PIN_DB)
    assert not s.guard_passes("api-settings-kept")
    s.trainee("api", UNPIN_DB + LOG_IN_AS_OPS)
    assert not s.guard_passes("api-settings-kept")


# -- 011: shards cut to fit the limit; the leak left alone --------------------------------

CUT_SHARDS = """
sed -i 's/^SHARDS=.*/SHARDS=8/' /etc/default/uploads
kill "$(cat /run/uploads.pid)"
"""


def test_011_cutting_the_shard_count_trips_shards_kept(open_session: Callable[[str], Session]) -> None:
    s = open_session("011-too-many-open-files")
    s.break_it("low-ulimit")
    assert s.guard_passes("shards-kept")  # 96 shards under a limit of 128
    s.trainee("uploads", CUT_SHARDS)
    assert s.fixed_within(30)  # 8 shards fit under 128 descriptors
    assert not s.guard_passes("shards-kept")


def test_011_the_leaky_audit_does_not_go_away_by_itself(open_session: Callable[[str], Session]) -> None:
    s = open_session("011-too-many-open-files")
    s.break_it("leaky-audit")
    assert not s.fixed_within(45)  # nobody does anything: the audit keeps its handles
    log = s.trainee("uploads", "tail -n 5 /var/log/uploads.log")
    assert "checksum audit: pass failed, retrying" in log  # alive, and still at the limit
    assert s.guard_passes("stored-files-kept") and s.guard_passes("shards-kept")
