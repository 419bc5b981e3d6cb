"""Fair wins in the official pack: the shortcuts found by playing it (issue 10) do not win.

Each test brings a real session up, breaks it with the fault named, starts its watcher
(`replay-check --watch`, with a short SLA), plays the shortcut as a trainee would (a shell
script sent into a container with `docker compose exec`), and shows what stops it: the
scenario's hold (the check relapses and the clock runs out), or a guard that trips while the
check passes, so no hold runs and the session never resolves. Guards are also run directly, the way the engine
runs them: the scenario's script, with bash on the host, in the session's copy and environment.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from dockerkit import ROOT
from sessionkit import DrivenSession, opened_sessions

from libreplay.session.state import ACTIVE, RESOLVED, TIMEOUT

pytestmark = pytest.mark.docker

OFFICIAL = ROOT / "packs" / "official"
SLA_SECONDS = 40  # from the break: room for the shortcut and a relapse, short for CI


class Session(DrivenSession):
    """One session of an official scenario, driven from the library; down()'d by the fixture."""

    def __init__(self, scenario_id: str, projects: list[str]) -> None:
        super().__init__(OFFICIAL / scenario_id, "official", projects)

    def trainee(self, service: str, script: str) -> str:
        """What a trainee types in the service's shell (as root); it must succeed; its stdout."""
        done = self.shell(service, script)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def relapses_within(self, seconds: float) -> bool:
        """Whether the check fails at some point within ``seconds`` (a hold would end there)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not self.fixed():
                return True
            time.sleep(0.5)
        return False


@pytest.fixture
def open_session(projects: list[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Session]]:
    with opened_sessions(lambda scenario_id: Session(scenario_id, projects), monkeypatch,
                         sla_seconds=SLA_SECONDS) as open_one:
        yield open_one


@pytest.fixture
def scenario_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scenario's own hold, not the one second the suite gives every other test."""
    monkeypatch.delenv("REPLAYBOOK_HOLD_SECONDS", raising=False)


# -- 001: a stub location in nginx ---------------------------------------------------------

NGINX_STUB = r"""
sed -i 's|^    location / {|    location = /checkout { return 200 "{}"; }\n&|' \
    /etc/nginx/conf.d/checkout.conf
nginx -t && nginx -s reload
"""


def test_001_a_stub_location_in_nginx_trips_app_answers(
    open_session: Callable[[str], Session], short_hold: None
) -> None:
    s = open_session("001-nginx-502")
    s.break_it()
    assert s.guard_passes("app-answers")  # broken: /checkout answers 502, nothing is faked
    with s.watching():
        s.trainee("web", NGINX_STUB)
        assert s.fixed_within(10)  # a status check alone is fooled
        state = s.held_back_by("app-answers")
        # The check passes, yet no hold runs while the guard fails: the clock goes on.
        assert state.status == ACTIVE and state.guards_failing and state.fix_landed_at is None

        s.trainee("web", "sed -i '/location = \\/checkout/d' /etc/nginx/conf.d/checkout.conf")
        s.solve()
        state = s.state_once(lambda state: state.terminal, within=30)
        assert state.status == RESOLVED  # the real fix keeps the guard
        assert state.guards_tripped == ["app-answers"]  # charged all the same


# -- 002: trust instead of a password ------------------------------------------------------

CHOWN_AND_TRUST = """
sed -i 's/scram-sha-256/trust/' /etc/postgresql/15/main/pg_hba.conf
chown -R postgres:postgres /var/lib/postgresql/15/main
"""


def test_002_trust_authentication_trips_password_required(
    open_session: Callable[[str], Session], short_hold: None
) -> None:
    s = open_session("002-postgres-wont-start")
    s.break_it("wrong-owner")
    assert s.guard_passes("password-required") and s.guard_passes("orders-kept")  # postgres is down
    with s.watching():
        s.trainee("db", CHOWN_AND_TRUST)
        assert s.fixed_within(20)
        s.held_back_by("password-required")
        assert s.guard_passes("orders-kept")  # the data was never at risk here

        s.trainee("db", "runuser -u postgres -- psql -d shop -qc 'DELETE FROM orders WHERE id > 100'")
        assert not s.guard_passes("orders-kept")


# -- 004: the trace writer left running, or only paused -----------------------------------

TRACE = "/var/lib/app/cache/.debug/requests.trace"
HEALTHY_NOW = "curl -fsS -m 2 -o /dev/null http://localhost:8080/health"


def test_004_a_clean_up_that_leaves_the_writer_relapses_and_times_out(
    open_session: Callable[[str], Session], scenario_hold: None
) -> None:
    s = open_session("004-disk-full")
    assert s.scenario.hold_seconds >= 20  # the volume refills in about 4 s
    s.break_it()
    with s.watching():
        s.trainee("app", f": > {TRACE}\n{HEALTHY_NOW}")  # passes the moment after the truncation
        state = s.state_once(lambda state: state.terminal, within=SLA_SECONDS + 10)
    assert state.status == TIMEOUT, state
    assert state.relapses >= 1  # the hold began, and the writer ended it

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


def test_008_cancelling_the_migration_trips_migration_kept(
    open_session: Callable[[str], Session], short_hold: None
) -> None:
    s = open_session("008-migration-lock")
    s.break_it()
    assert s.guard_passes("migration-kept")  # the migration waits for its lock
    with s.watching():
        s.trainee("app", CANCEL_MIGRATION)
        assert s.fixed_within(15)  # writes flow again...
        s.held_back_by("migration-kept")  # ...with the deploy half done


# -- 010: the API made a superuser, its settings pinned ------------------------------------

PIN_DB = """
echo "$(getent hosts db | cut -d' ' -f1) db  # pinned by hand" >> /etc/hosts
"""
UNPIN_DB = """
grep -v 'pinned by hand' /etc/hosts > /tmp/hosts && cat /tmp/hosts > /etc/hosts
"""
LOG_IN_AS_OPS = """
sed -i -e 's/^DB_USER=.*/DB_USER=ops/' -e 's/^DB_PASSWORD=.*/DB_PASSWORD=ops-on-call-2k/' /etc/api/api.env
"""


def test_010_borrowed_slots_or_pinned_settings_trip_guards(
    open_session: Callable[[str], Session], short_hold: None
) -> None:
    s = open_session("010-pool-exhausted")
    s.break_it("leaking-export")
    assert s.guard_passes("api-not-superuser") and s.guard_passes("api-settings-kept")
    with s.watching():
        s.trainee("api", 'psql -c "ALTER ROLE api SUPERUSER"')
        assert s.fixed_within(15)  # the API borrows the reserved slots
        s.held_back_by("api-not-superuser")

        s.trainee("api", PIN_DB)
        assert not s.guard_passes("api-settings-kept")
        s.trainee("api", UNPIN_DB + LOG_IN_AS_OPS)
        assert not s.guard_passes("api-settings-kept")


# -- 011: shards cut to fit the limit; the leak left alone --------------------------------

CUT_SHARDS = """
sed -i 's/^SHARDS=.*/SHARDS=8/' /etc/default/uploads
kill "$(cat /run/uploads.pid)"
"""


def test_011_cutting_the_shard_count_trips_shards_kept(
    open_session: Callable[[str], Session], short_hold: None
) -> None:
    s = open_session("011-too-many-open-files")
    s.break_it("low-ulimit")
    assert s.guard_passes("shards-kept")  # 96 shards under a limit of 128
    with s.watching():
        s.trainee("uploads", CUT_SHARDS)
        assert s.fixed_within(30)  # 8 shards fit under 128 descriptors
        s.held_back_by("shards-kept")


def test_011_the_leaky_audit_does_not_go_away_by_itself(open_session: Callable[[str], Session]) -> None:
    s = open_session("011-too-many-open-files")
    s.break_it("leaky-audit")
    with s.watching():  # nobody does anything
        state = s.state_once(lambda state: state.terminal, within=SLA_SECONDS + 10)
    assert state.status == TIMEOUT, state
    assert state.relapses == 0 and state.verifying_since is None  # the check never passed
    log = s.trainee("uploads", "tail -n 5 /var/log/uploads.log")
    assert "checksum audit: pass failed, retrying" in log  # alive, and still at the limit
    assert s.guard_passes("stored-files-kept") and s.guard_passes("shards-kept")
