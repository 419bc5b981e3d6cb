"""The forum track's first scenario, 101-mail-backlog, played through the real engine.

The end-to-end test plays it as a trainee does: up, the baseline passes, the break (the mail
provider revoked the forum's SMTP password, 28k notification emails wait), the check fails, the
evidence is where the hints say, the reference fix under the session's watcher resolves the
session (the forum box restarted once during the hold), the backlog drains through the
provider, and nothing is left behind. Then each shortcut a trainee who wants the points would
take, with what stops it: a guard that trips while the check passes (the session does not
resolve), or the check itself. (`replaybook test` runs it as CI does in test_official_pack.py.)
Shared pieces (the session driver, fixtures) are in tests/forumkit.py for the track's other
scenarios' tests.
"""

from __future__ import annotations

import pytest
from forumkit import ForumSession, Opener

from libreplay.session.state import RESOLVED

pytestmark = pytest.mark.docker

MAIL_BACKLOG = "101-mail-backlog"
LOGIN = "postmaster@forum.example"
CREDENTIALS = f"/domains/forum.example/credentials/{LOGIN}"

# The trainee's real fix, step by step (what solve.sh does).
NEW_PASSWORD = "Fresh-Pass-2024"
ROTATE = f"""
. /root/.mailhostrc
curl -fsS --user "api:$MAILHOST_API_KEY" -X PUT -d password={NEW_PASSWORD} "$MAILHOST_API{CREDENTIALS}"
sed -i 's/^FORUM_SMTP_PASSWORD=.*/FORUM_SMTP_PASSWORD={NEW_PASSWORD}/' /etc/forum/forum.env
forumctl restart sidekiq
"""
# How many notification emails the provider has accepted (the test emails left out).
NOTIFICATIONS_DELIVERED = """
grep -c '"event":"delivered".*"message_id":"topic/' /var/lib/mailhost/events.log || true
"""
API_KEY = "2f9c4e1a7b3d5f60a8c1e2d4b6f8a0c3e5d7b9f1a3c5e7d9"  # the members' key (the seed's)




def delivered(s: ForumSession) -> int:
    return int(s.trainee("mail", NOTIFICATIONS_DELIVERED).strip())


def test_101_played_end_to_end_resolves_drains_and_leaves_nothing(
    forum: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPLAYBOOK_HOLD_SECONDS", "10")  # the box is still restarted once
    s = forum(MAIL_BACKLOG)
    assert s.fixed()  # the baseline: notification mail flows
    s.break_it()
    assert not s.fixed()
    backlog = s.queue_size()
    assert backlog >= 20_000
    # The evidence is where the hints send the trainee.
    assert "Net::SMTPAuthenticationError: 535" in s.trainee("forum", "tail -n 300 /var/log/sidekiq.log")
    assert "Sidekiq queue depth" in s.trainee("forum", "curl -fsS http://localhost/admin")
    swaks = s.trainee(
        "forum",
        """. /etc/forum/forum.env
swaks --server "$FORUM_SMTP_ADDRESS:$FORUM_SMTP_PORT" --auth PLAIN --auth-user "$FORUM_SMTP_USER_NAME" \\
    --auth-password "$FORUM_SMTP_PASSWORD" --from noreply@forum.example --to ops@forum.example""",
        ok=False,
    )
    assert "535 5.7.8" in swaks
    listing = s.trainee(
        "forum",
        '. /root/.mailhostrc; curl -fsS --user "api:$MAILHOST_API_KEY" '
        '"$MAILHOST_API/domains/forum.example/credentials"',
    )
    assert '"state": "revoked"' in listing and "public repository" in listing
    assert s.failing_guards() == []  # every guard passes on the broken stack
    before = delivered(s)

    with s.watching():
        s.solve()
        state = s.state_once(lambda st: st.terminal, within=150)
        assert state.status == RESOLVED, state
        assert state.guards_tripped == [] and state.relapses == 0
        # The backlog drains by itself, through the provider.
        assert s.drains_below(backlog - 2_000, within=120)
        assert delivered(s) - before > 2_000
    assert s.down() == {}  # nothing of the session is left in the engine


def test_101_flushing_redis_after_the_fix_trips_backlog_kept(forum: Opener, short_hold: None) -> None:
    s = forum(MAIL_BACKLOG)
    s.break_it()
    with s.watching():
        s.trainee("forum", ROTATE + "redis-cli FLUSHALL\n")
        assert s.fixed_within(90)  # mail flows again: the members' next post is notified...
        s.held_back_by("backlog-kept")
        # ...but 28k waiting notifications lost their jobs. (Asked once held back: before, a hold
        # may be restarting the box, and the guard passes when it cannot tell.)
        assert not s.guard_passes("backlog-kept")


def test_101_deleting_the_queue_and_the_retries_trips_backlog_kept(
    forum: Opener,
) -> None:
    s = forum(MAIL_BACKLOG)
    s.break_it()
    assert s.guard_passes("backlog-kept")
    s.trainee("forum", "redis-cli DEL queue:default retry")
    assert not s.guard_passes("backlog-kept")
    assert s.guard_passes("emails-enabled") and s.guard_passes("leaked-password-revoked")


def test_101_marking_the_waiting_emails_sent_trips_backlog_kept(forum: Opener) -> None:
    s = forum(MAIL_BACKLOG)
    s.break_it()
    assert s.guard_passes("backlog-kept")
    # The database says sent; no email log was written and nothing reached the provider. The
    # jobs are all still there: only the marking counts.
    s.sql("UPDATE notifications SET email_status = 'sent' WHERE email_status = 'pending'")
    assert not s.guard_passes("backlog-kept")


def test_101_turning_email_off_trips_emails_enabled_and_backlog_kept(
    forum: Opener, short_hold: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPLAYBOOK_SLA_SECONDS", "600")  # room for the whole backlog's skipping
    s = forum(MAIL_BACKLOG)
    s.break_it()
    with s.watching():
        # The site setting, as the admin API sets it (Discourse's disable_emails), before the
        # worker restarts with the new password: it sends nothing, skipping. Then every job in
        # the retry set runs now (Sidekiq's "Retry all"), so the backlog empties at once rather
        # than over the retries' next 40 minutes. (Set after the restart, a worker that read the
        # setting before keeps sending for its 5 s cache, and the check passes on those sends.)
        s.trainee(
            "forum",
            f"""curl -fsS -X PUT -H 'Api-Key: {API_KEY}' -H 'Api-Username: sam' \\
    -d disable_emails=yes http://localhost/admin/site_settings/disable_emails
"""
            + ROTATE
            + "echo 'require \"sidekiq/api\"; Sidekiq::RetrySet.new.retry_all' | forum-runner -\n",
        )
        assert s.drains_below(1, within=300)  # ~28k jobs, each skipped in a transaction of its own
        assert s.fixed_within(60)  # the admin's test email still goes out; the backlog is gone, skipped
        s.held_back_by("emails-enabled")
        assert not s.guard_passes("backlog-kept")  # the skipped notifications are lost for good
        assert int(s.sql("SELECT count(*) FROM notifications WHERE email_status = 'skipped'")) > 1_000


def test_101_a_mail_sink_inside_the_box_does_not_fix_it(
    forum: Opener,
) -> None:
    s = forum(MAIL_BACKLOG)
    s.break_it()
    s.trainee(
        "forum",
        """
(python3 -m aiosmtpd -n -l 127.0.0.1:2525 >/dev/null 2>&1 &)
sed -i -e 's/^FORUM_SMTP_ADDRESS=.*/FORUM_SMTP_ADDRESS=127.0.0.1/' \\
    -e 's/^FORUM_SMTP_PORT=.*/FORUM_SMTP_PORT=2525/' -e '/^FORUM_SMTP_USER_NAME=/d' /etc/forum/forum.env
forumctl restart sidekiq
""",
    )
    # The forum believes it sends: the queue drains into the sink...
    token = s.trainee("forum", "curl -fsS -X POST http://localhost/admin/email/test | jq -r .token").strip()
    outcome = s.trainee(
        "forum",
        f"""i=0
until redis-cli GET forum:test-email:{token} | grep -q . || [ $i -ge 30 ]; do sleep 0.5; i=$((i + 1)); done
redis-cli GET forum:test-email:{token}
""",
    ).strip()
    assert outcome == "sent", outcome
    # ...but nothing reaches the provider: the check is not fooled.
    assert s.stays_unfixed(10)
    assert s.guard_passes("backlog-kept")  # nothing is lost: the sink is the check's to refuse


def test_101_the_leaked_password_put_back_trips_leaked_password_revoked(
    forum: Opener, short_hold: None
) -> None:
    s = forum(MAIL_BACKLOG)
    s.break_it()
    old = s.trainee("forum", ". /etc/forum/forum.env; echo $FORUM_SMTP_PASSWORD").strip()
    refused = s.trainee(
        "forum",
        f""". /root/.mailhostrc
curl -sS --user "api:$MAILHOST_API_KEY" -X PUT -d password={old} "$MAILHOST_API{CREDENTIALS}"
""",
    )
    assert "revoked and cannot be used again" in refused  # the provider's API says no
    with s.watching():
        # Its credentials file, edited in the mail service: the old password active again.
        s.trainee(
            "mail",
            """
awk -F'|' -v OFS='|' '$1 == "postmaster@forum.example" { $3 = "active"; $2 = substr($6, 1, 64) } 1' \\
    /var/lib/mailhost/credentials > /tmp/c && cat /tmp/c > /var/lib/mailhost/credentials
""",
        )
        assert s.fixed_within(30)  # the forum's unchanged settings work again, at the next login
        s.held_back_by("leaked-password-revoked")
