"""The forum track's 104-redis-cannot-persist and 108-upload-too-large: each shortcut a trainee
who wants the points would take, played on a real broken session, and what stops it.

104: Redis's data directory was given to root, its background saves fail, and it refuses every
write (MISCONF). A restart of Redis forgets the failed save, so the check asks for a save when
none succeeded since Redis started; turning the snapshot settings off or saving elsewhere trips
persistence-kept (and jobs-kept: Redis starts empty there); Redis run as root trips
redis-not-root; FLUSHALL, or the emails marked sent in SQL, trip jobs-kept; chmod 777 on its
directory trips data-dir-private.
108: nginx refuses uploads over 1 MB (the site config lost client_max_body_size). An unlimited
or huge body limit trips upload-limit-bounded, a raised app limit app-limit-kept, the app server
opened to the network or something else on port 80 through-nginx.
Each guard is shown failing on its shortcut (its script run as the engine runs it), and one
guard per scenario holds a session back under its watcher while the check passes. The real fix
played end to end is the track's own test; `replaybook test` proves solve.sh for every fault.
"""

from __future__ import annotations

from collections.abc import Iterator

import forumkit
import pytest
from forumkit import ForumSession, Opener

pytestmark = pytest.mark.docker

REDIS = "104-redis-cannot-persist"
UPLOADS = "108-upload-too-large"
API_KEY = "2f9c4e1a7b3d5f60a8c1e2d4b6f8a0c3e5d7b9f1a3c5e7d9"  # the members' key (the seed's)
SITE = "/etc/nginx/sites-available/forum"
SLA_SECONDS = 300  # from the break: several shortcuts played and undone before the watched one

# Redis back after it was killed: its supervisor starts it again a second later.
REDIS_BACK = """
i=0
until [ "$(echo PING | redis-cli 2>&1)" = PONG ] || [ $i -ge 50 ]; do sleep 0.2; i=$((i + 1)); done
"""
# An upload of a few MB as a member, through nginx; prints nginx's (or the app's) status.
UPLOAD = f"""
head -c 3000000 /dev/urandom > /tmp/photo.jpg
curl -sS -o /dev/null -w '%{{http_code}}\\n' -H 'Api-Key: {API_KEY}' -H 'Api-Username: mei' \\
    -F file=@/tmp/photo.jpg http://127.0.0.1/uploads.json
"""


@pytest.fixture
def forum(projects: list[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Opener]:
    forumkit.short_hold(monkeypatch)  # every test here is about a guard or the check, not the hold
    with forumkit.sessions(projects, monkeypatch) as open_one:
        monkeypatch.setenv("REPLAYBOOK_SLA_SECONDS", str(SLA_SECONDS))
        yield open_one


def _broken_104(forum: Opener) -> ForumSession:
    s = forum(REDIS)
    s.break_it()
    assert not s.fixed()
    assert s.failing_guards() == []  # every guard passes on the broken stack
    return s


def _set_site(s: ForumSession, directive: str | None) -> None:
    """The forum's server block with ``directive`` as its only client_max_body_size (None: none),
    reloaded, as a trainee edits it."""
    line = "" if directive is None else f"sed -i '/^ *server_name /a\\    {directive}' {SITE}\n"
    reload = "nginx -t && nginx -s reload && sleep 1\n"
    s.trainee("forum", f"sed -i '/client_max_body_size/d' {SITE}\n{line}{reload}")


# -- 104-redis-cannot-persist -------------------------------------------------------------


# The workers' logs say MISCONF within a few seconds of the break (Sidekiq's next fetch, the
# next request); busy with other jobs' lines, a tail of the log need not show it any more.
# unicorn restarted answers once it has loaded the app (its pid file comes before): 30 s at most.
UNICORN_ANSWERS = """i=0
until curl -fsS -o /dev/null http://127.0.0.1:3000/srv/status; do
    [ $i -lt 60 ] || { echo "unicorn does not answer 30 s after its restart" >&2; exit 1; }
    sleep 0.5; i=$((i + 1))
done
"""
MISCONF_LOGGED = """i=0
until grep -q MISCONF /var/log/sidekiq.log /var/log/forum/unicorn.log || [ $i -ge 20 ]; do
    sleep 0.5; i=$((i + 1))
done
grep -h -m 1 MISCONF /var/log/sidekiq.log /var/log/forum/unicorn.log"""


def test_104_a_restart_forgets_the_error_not_the_cause_and_turning_persistence_off_trips_the_guard(
    forum: Opener,
) -> None:
    s = _broken_104(forum)
    # The evidence is where the hints send the trainee.
    assert "MISCONF" in s.trainee("forum", MISCONF_LOGGED)
    assert "Permission denied" in s.trainee("forum", "tail -n 20 /var/log/redis/redis-server.log")
    assert "rdb_last_bgsave_status:err" in s.redis("INFO", "persistence")
    assert "root root" in s.trainee("forum", "ls -ld /var/lib/redis")
    waiting = int(s.redis("ZCARD", "retry"))
    assert waiting >= 60

    # Redis killed and started again by its supervisor: the new process has no failed save yet
    # and takes writes, until its next save. The check asks for one, which fails as before.
    s.trainee("forum", "pkill -9 -x redis-server; sleep 1\n" + REDIS_BACK)
    assert s.stays_unfixed(6)
    assert "rdb_last_bgsave_status:err" in s.redis("INFO", "persistence")
    assert int(s.redis("ZCARD", "retry")) == waiting  # the AOF kept the data; the cause is still there

    # Snapshots off, or errors ignored, in the running server: the guard sees each.
    for shortcut, undo in [
        ("CONFIG SET stop-writes-on-bgsave-error no", "CONFIG SET stop-writes-on-bgsave-error yes"),
        ('CONFIG SET save ""', 'CONFIG SET save "3600 1 300 100 60 10000"'),
    ]:
        s.trainee("forum", f"redis-cli {shortcut}")
        assert not s.guard_passes("persistence-kept"), shortcut
        s.trainee("forum", f"redis-cli {undo}")
        assert s.guard_passes("persistence-kept"), undo

    # Redis's directory moved to /tmp in its config, and Redis restarted: it starts afresh there
    # (empty: its data is in /var/lib/redis), saves, takes writes, posting works; the guards
    # see the directory and the lost jobs, and hold the session back.
    s.trainee(
        "forum",
        "sed -i 's|^dir .*|dir /tmp|' /etc/redis/redis.conf\npkill -9 -x redis-server\nsleep 1\n"
        + REDIS_BACK,
    )
    assert s.fixed_within(20)
    # Asked before the watcher starts: once a hold ran, its restart of the box would leave
    # nothing for the guards to tell.
    assert sorted(s.failing_guards()) == ["jobs-kept", "persistence-kept"]
    with s.watching():
        s.held_back_by("persistence-kept")


def test_104_redis_run_as_root_trips_its_guard_and_flushing_trips_jobs_kept(forum: Opener) -> None:
    s = _broken_104(forum)
    with s.watching():
        # Redis made to run as root, which can write the root-owned directory: the box's start
        # script changed (so that it lasts a restart of the box), the supervised Redis stopped
        # for good (SHUTDOWN NOSAVE: it cannot save; its AOF keeps the data) and started again by
        # hand as root.
        s.trainee(
            "forum",
            """
sed -i 's|redis-server setpriv --reuid=redis --regid=redis --init-groups|redis-server|' \\
    /usr/local/bin/forum-box
pkill -f 'supervise redis/redis-server'
redis-cli SHUTDOWN NOSAVE || true
sleep 1
redis-server /etc/redis/redis.conf --daemonize yes
"""
            + REDIS_BACK,
        )
        assert s.fixed_within(20)  # the saves succeed as root
        s.held_back_by("redis-not-root")
        # Asked once held back: before, a hold may be restarting the box, and a guard passes
        # when it cannot tell.
        assert s.failing_guards() == ["redis-not-root"]
        # Redis takes writes now: FLUSHALL empties it, and the night's notification emails, still
        # pending in the database, have no job left.
        s.trainee("forum", "redis-cli FLUSHALL")
        assert not s.guard_passes("jobs-kept")


def test_104_a_data_directory_open_to_everyone_trips_data_dir_private(forum: Opener) -> None:
    s = _broken_104(forum)
    # Every user may write the directory now, Redis's own user too: a save works again.
    s.trainee("forum", "chmod 777 /var/lib/redis\nredis-cli BGSAVE\nsleep 2")
    assert s.fixed_within(20)
    assert s.failing_guards() == ["data-dir-private"]
    with s.watching():
        s.held_back_by("data-dir-private")
        # The night's emails marked sent in the database: no email log, nothing sent.
        assert s.guard_passes("jobs-kept")
        s.sql("UPDATE notifications SET email_status = 'sent' WHERE email_status = 'pending'")
        assert not s.guard_passes("jobs-kept")


# -- 108-upload-too-large ----------------------------------------------------------------------


def test_108_each_shortcut_trips_its_guard_and_no_limit_at_all_holds_the_session_back(
    forum: Opener,
) -> None:
    s = forum(UPLOADS)
    s.break_it("body-size-lost")
    assert not s.fixed()
    assert s.failing_guards() == []  # every guard passes on the broken stack
    # The evidence: nginx answers 413 itself and says why.
    assert s.trainee("forum", UPLOAD).strip() == "413"
    access = s.trainee("forum", "tail -n 40 /var/log/nginx/access.log")
    assert '"POST /uploads.json HTTP/1.1" 413' in access
    errors = s.trainee("forum", "tail -n 20 /var/log/nginx/error.log")
    assert "client intended to send too large body" in errors

    # A limit in gigabytes: uploads work, and nginx would spool any body to disk.
    _set_site(s, "client_max_body_size 1g;")
    assert s.trainee("forum", UPLOAD).strip() == "200"
    assert s.failing_guards() == ["upload-limit-bounded"]
    _set_site(s, None)
    assert s.guard_passes("upload-limit-bounded")

    # The app's own limit raised: it was never the problem (nginx still refuses first).
    raise_limit = """INSERT INTO site_settings (name, value) VALUES ('max_upload_kb', '10485760')
ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value"""
    s.sql(raise_limit)
    assert s.failing_guards() == ["app-limit-kept"]
    s.sql("DELETE FROM site_settings WHERE name = 'max_upload_kb'")
    assert s.guard_passes("app-limit-kept")

    # The app server opened to the network, beside nginx.
    opened = "FORUM_UNICORN_LISTEN=0.0.0.0:3000"
    s.trainee(
        "forum",
        f"""set -e
echo {opened} >> /etc/forum/forum.env
forumctl restart unicorn
{UNICORN_ANSWERS}""",
    )
    assert s.failing_guards() == ["through-nginx"]
    s.trainee(
        "forum",
        f"""set -e
sed -i '/^FORUM_UNICORN_LISTEN=/d' /etc/forum/forum.env
forumctl restart unicorn
{UNICORN_ANSWERS}""",
    )
    assert s.guard_passes("through-nginx")

    # Something else on port 80 (nginx moved aside to 8080).
    s.trainee(
        "forum",
        f"""sed -i 's/listen 80 default_server;/listen 8080 default_server;/' {SITE}
nginx -s reload && sleep 1
i=0
until ss -Hltnp 'sport = :80' | grep -q python3 || [ $i -ge 20 ]; do
    pgrep -f 'http.server 80' >/dev/null || (cd /tmp && python3 -m http.server 80 >/dev/null 2>&1 &)
    sleep 0.5; i=$((i + 1))
done
""",
    )
    assert s.failing_guards() == ["through-nginx"]
    s.trainee(
        "forum",
        f"""pkill -f 'http.server 80'
sed -i 's/listen 8080 default_server;/listen 80 default_server;/' {SITE}
nginx -s reload && sleep 1
""",
    )
    assert s.guard_passes("through-nginx")

    # nginx's workers run as root (what would get them into a root-owned temp directory).
    as_user = "sed -i 's/^user .*;/user {};/' /etc/nginx/nginx.conf && nginx -s reload && sleep 1"
    s.trainee("forum", as_user.format("root"))
    assert s.failing_guards() == ["nginx-workers-not-root"]
    s.trainee("forum", as_user.format("www-data"))
    assert s.guard_passes("nginx-workers-not-root")  # the root ones left are shutting down

    # No limit at all: the check passes, the guard holds the session back.
    with s.watching():
        _set_site(s, "client_max_body_size 0;")
        assert s.fixed_within(20)
        s.held_back_by("upload-limit-bounded")
