"""The forum track's 102-memory-thrash and 103-backups-fill-disk: each shortcut a trainee who
wants the points would take, played in a real session, and what stops it.

102: the box's unicorn workers and Sidekiq threads were raised beyond its 640 MB; the
shortcuts cut them to one each (the memory fits, the check passes) and trip a guard.
103: nightly backups filled the data disk Postgres shares; the shortcuts free space or stop
the refill by destroying what the real fix keeps (the latest backups, the schedule, the data,
Postgres on its disk), and a half fix (space freed, retention still broken) does not pass the
check. One session per scenario: the reversible shortcuts first, undone, then under the session's
watcher (last: the session goes down with it) the one shown not to resolve, then the
destructive ones, each shown by its guard.
Shared pieces (the session driver, fixtures) are in tests/forumkit.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import forumkit
import pytest
from forumkit import ForumSession, Opener

pytestmark = pytest.mark.docker

MEMORY_THRASH = "102-memory-thrash"
BACKUPS_FILL_DISK = "103-backups-fill-disk"
OOM_COUNTS = "cat /sys/fs/cgroup/memory/memory.oom_control 2>/dev/null || cat /sys/fs/cgroup/memory.events"
POSTGRES_LOG = "/var/log/postgresql/postgresql-15-main.log"
AS_POSTGRES = "setpriv --reuid=postgres --regid=postgres --init-groups"
BACKUP_LOG = "/var/log/forum/backup.log"


@pytest.fixture
def forum(projects: list[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Opener]:
    with forumkit.sessions(projects, monkeypatch) as open_one:
        # Room for the reversible shortcuts before the watched one, all in one session.
        monkeypatch.setenv("REPLAYBOOK_SLA_SECONDS", "600")
        yield open_one


def settings(workers: int, threads: int) -> str:
    """forum.env's unicorn workers and Sidekiq threads set, and both restarted, as a trainee would."""
    return f"""
sed -i -e 's/^FORUM_UNICORN_WORKERS=.*/FORUM_UNICORN_WORKERS={workers}/' \\
       -e 's/^FORUM_SIDEKIQ_CONCURRENCY=.*/FORUM_SIDEKIQ_CONCURRENCY={threads}/' /etc/forum/forum.env
forumctl restart unicorn
forumctl restart sidekiq || forumctl restart sidekiq
"""


def backup_dir(path: str) -> str:
    return f"sed -i 's|^FORUM_BACKUP_DIR=.*|FORUM_BACKUP_DIR={path}|' /etc/forum/forum.env"


def oom_kills(s: ForumSession) -> int:
    events = s.trainee("forum", OOM_COUNTS)
    return int(next(line.split()[1] for line in events.splitlines() if line.startswith("oom_kill ")))


def test_102_one_worker_or_one_thread_fits_the_memory_and_trips_a_guard(
    forum: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    forumkit.short_hold(monkeypatch)
    s = forum(MEMORY_THRASH)
    assert s.fixed()  # the baseline: 3 workers and 5 threads fit in 640 MB
    s.break_it()
    # The evidence is where the hints send the trainee: the kernel keeps killing.
    before = oom_kills(s)
    assert not s.fixed()
    assert oom_kills(s) > before
    log = s.trainee("forum", "tail -n 400 /var/log/forum/unicorn.log /var/log/sidekiq.log")
    assert "SIGKILL (signal 9)> worker=" in log or "exited with status 137" in log
    assert s.failing_guards() == []  # every guard passes on the broken box

    # Sidekiq cut to one thread: it fits, the check passes, and a guard says what was lost.
    s.trainee("forum", settings(3, 1))
    assert s.fixed_within(30)
    assert s.guard_passes("app-workers-kept")
    assert not s.guard_passes("sidekiq-threads-kept")

    # One unicorn worker, Sidekiq as it was: it fits, the site answers, jobs run...
    s.trainee("forum", settings(1, 5))
    assert s.fixed_within(30)
    assert s.guard_passes("sidekiq-threads-kept")
    # ...but one worker is one slow request away from an outage (asked before the watcher
    # starts: a hold's restart of the box would leave the guard nothing to tell)...
    assert not s.guard_passes("app-workers-kept")
    with s.watching():  # last: the session goes down with its watcher
        s.held_back_by("app-workers-kept")  # ...and no hold runs


def test_103_half_fixes_fail_the_check_and_destructive_ones_trip_guards(
    forum: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    forumkit.short_hold(monkeypatch)
    s = forum(BACKUPS_FILL_DISK)
    assert s.fixed()  # the baseline: posting works, a backup runs and prunes
    topics_before = int(s.sql("SELECT count(*) FROM topics"))
    s.break_it()
    assert not s.fixed()
    # The evidence is where the hints send the trainee.
    assert "No space left on device" in s.trainee("forum", f"tail -n 200 {POSTGRES_LOG}")
    assert "value too great for base" in s.trainee("forum", f"cat {BACKUP_LOG}")
    assert "100%" in s.trainee("forum", "df -h /srv/data")
    assert int(s.trainee("forum", "ls /var/backups/forum | wc -l")) >= 30
    assert s.failing_guards() == []  # every guard passes on the broken box

    # Backups switched off: cron's line commented out, or the job pointed elsewhere.
    s.trainee("forum", "sed -i 's|^17 3 |#17 3 |' /etc/cron.d/forum")
    assert not s.guard_passes("backups-scheduled")
    s.trainee("forum", "sed -i 's|^#17 3 |17 3 |' /etc/cron.d/forum")
    assert s.guard_passes("backups-scheduled")
    s.trainee("forum", backup_dir("/tmp/backups"))
    assert not s.guard_passes("backups-scheduled")
    s.trainee("forum", backup_dir("/var/backups/forum"))
    assert s.guard_passes("backups-scheduled")

    # Half a fix: the old archives go (the newest kept), the retention stays unreadable.
    # Posting works again, but the job still dies before it prunes: the check says no.
    s.trainee("forum", "ls -1t /var/backups/forum/forum-*.tar.gz | tail -n +6 | xargs rm -f")
    assert s.stays_unfixed(15)
    # The first check to get past posting runs the job (Postgres may take a while to come back
    # after the full disk): its error is then in the log, and the check still says no.
    deadline = time.monotonic() + 60
    while "value too great for base" not in (log := s.trainee("forum", f"tail -n 3 {BACKUP_LOG}")):
        assert time.monotonic() < deadline, log
        assert not s.fixed()
    assert s.failing_guards() == []  # nothing was lost by it

    with s.watching():
        # Every backup deleted and the retention mended: the check passes (the job makes a new
        # one), but the last good backup from before the incident is gone. No hold runs.
        s.trainee(
            "forum",
            "rm -f /var/backups/forum/forum-*.tar.gz\n"
            "sed -i 's/^FORUM_BACKUP_KEEP=.*/FORUM_BACKUP_KEEP=14/' /etc/forum/forum.env",
        )
        assert s.fixed_within(60)
        s.held_back_by("recent-backups-kept")
        assert not s.guard_passes("recent-backups-kept")  # asked once held back, as the others

        # Room made in the database itself: the email log emptied.
        s.trainee("forum", f"{AS_POSTGRES} psql -d forum -c 'TRUNCATE email_logs'")
        assert not s.guard_passes("forum-data-kept")
        assert int(s.sql("SELECT count(*) FROM topics")) >= topics_before  # only the email log went
        # Postgres moved onto the container's own filesystem: a consistent copy there
        # (pg_basebackup), the path pointed at it, the running postmaster stopped; its
        # supervisor starts it again from the copy.
        assert s.guard_passes("postgres-on-data-disk")
        s.trainee(
            "forum",
            f"""
mkdir -p /var/lib/postgresql-root/15 && chown -R postgres:postgres /var/lib/postgresql-root
{AS_POSTGRES} pg_basebackup -D /var/lib/postgresql-root/15/main -X stream -c fast
ln -sfn /var/lib/postgresql-root /var/lib/postgresql
kill -INT "$(head -n 1 /srv/data/postgresql/15/main/postmaster.pid)"
sleep 2
until pg_isready -q -h /var/run/postgresql -U postgres; do sleep 0.5; done
""",
        )
        assert not s.guard_passes("postgres-on-data-disk")
