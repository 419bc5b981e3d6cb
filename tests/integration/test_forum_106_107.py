"""The forum track's 106-live-updates-buffered and 107-rate-limit-everyone, through the real engine.

One session per scenario: up, the break, the check fails, the evidence is where the hints send
the trainee, every guard passes on the broken stack; the reference fix passes the check with
every guard passing; then each shortcut a trainee who wants the points would take, played in
the forum box as the trainee types it (`docker compose exec -T forum sh -s`), and the guard
that catches it failing; the last shortcut under the session's watcher, which does not let the
session resolve. Playing each scenario through (and `replaybook test`) is the track's e2e test's.
Shared pieces are in tests/forumkit.py.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import forumkit
import pytest
from forumkit import ForumSession, Opener

pytestmark = pytest.mark.docker

LIVE_UPDATES = "106-live-updates-buffered"
RATE_LIMIT = "107-rate-limit-everyone"

SITE = "/etc/nginx/sites-available/forum"
MESSAGE_BUS = "/var/www/forum/lib/forum/message_bus.rb"
COMMON = "/etc/nginx/conf.d/forum-common.conf"
POLL = """curl -sN {flags} -m 2 -H 'Content-Type: application/json' -d '{{"channels":["/latest"]}}' \\
    {base}/message-bus/trainee/poll || true"""
RELOAD = "nginx -t -q && nginx -s reload 2>/dev/null && sleep 1\n"

# The shortcuts, as a trainee types them in the forum box.
UNICORN_BACK = """forumctl restart unicorn
until curl -fsS -o /dev/null http://127.0.0.1:3000/srv/status; do sleep 0.5; done
"""
SHORT_POLL = f"sed -i 's/POLL_SECONDS = 25/POLL_SECONDS = 1/' {MESSAGE_BUS}\n" + UNICORN_BACK
LONG_POLL_BACK = f"sed -i 's/POLL_SECONDS = 1$/POLL_SECONDS = 25/' {MESSAGE_BUS}\n" + UNICORN_BACK
UNBUFFERED_SITE = f"sed -i 's/^    proxy_buffering on;/    proxy_buffering off;/' {SITE}\n" + RELOAD
NO_LIMIT = f"sed -i 's/^        limit_req zone=flood/        #limit_req zone=flood/' {SITE}\n" + RELOAD
LIMIT_BACK = f"sed -i 's/^        #limit_req zone=flood/        limit_req zone=flood/' {SITE}\n" + RELOAD
# The whole network the forum box is on (Docker's: lb, and the clients too).
TRUST_THE_NETWORK = (
    "network=$(ip -o -4 addr show eth0 | awk '{print $4}')\n"
    f"sed -i \"s|^set_real_ip_from .*|set_real_ip_from $network;|\" {COMMON}\n" + RELOAD
)
# The reference fix taken back out (the line solve.sh adds after the location's opening).
UNSOLVE_106 = f"sed -i '/location \\/message-bus\\/ {{/{{n;/proxy_buffering off;/d}}' {SITE}\n" + RELOAD
UNSOLVE_107 = f"sed -i '/^set_real_ip_from /d; /^real_ip_header /d' {COMMON}\n" + RELOAD
TRUST_EVERYONE = (
    "printf 'set_real_ip_from 0.0.0.0/0;\\nreal_ip_header X-Forwarded-For;\\nreal_ip_recursive on;\\n'"
    f" >> {COMMON}\n" + RELOAD
)


@pytest.fixture
def forum(projects: list[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Opener]:
    forumkit.short_hold(monkeypatch)  # these tests are about guards, not the hold
    with forumkit.sessions(projects, monkeypatch) as open_one:
        # Room for the shortcuts played before the watched one, all in one session: they can
        # take most of the track's 120 s, and a session that timed out trips no guard.
        monkeypatch.setenv("REPLAYBOOK_SLA_SECONDS", "600")
        yield open_one


def broken_again_within(s: ForumSession, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not s.fixed():
            return True
        time.sleep(1)
    return False


def test_106_each_shortcut_is_caught(forum: Opener) -> None:
    s = forum(LIVE_UPDATES)
    assert s.fixed()  # the baseline: a poll through nginx streams a new post
    s.break_it()
    assert not s.fixed()
    assert s.failing_guards() == []  # every guard passes on the broken stack

    # The evidence: straight to unicorn the poll streams its first chunk at once; through nginx,
    # asked as a browser asks (gzip accepted), nothing comes; without gzip it would stream.
    assert s.trainee("forum", POLL.format(flags="", base="http://127.0.0.1:3000")).startswith("[]")
    assert s.trainee("forum", POLL.format(flags="--compressed", base="http://127.0.0.1")) == ""
    assert s.trainee("forum", POLL.format(flags="", base="http://127.0.0.1")).startswith("[]")
    tuned = s.trainee("forum", "nginx -T 2>/dev/null | grep -E 'proxy_buffering|gzip_types'")
    assert "proxy_buffering on;" in tuned and "text/plain" in tuned

    # Shortcut: a poll that ends after 1 s, so nginx's buffer empties sooner.
    s.trainee("forum", SHORT_POLL)
    assert not s.guard_passes("long-poll-kept")
    assert s.stays_unfixed(6)  # the poll's first chunk comes only as it ends: the post never reaches it
    s.trainee("forum", LONG_POLL_BACK)
    assert s.guard_passes("long-poll-kept")

    # The reference fix (buffering off for /message-bus/ only) passes, with every guard.
    s.solve()
    assert s.fixed_within(20)
    assert s.failing_guards() == []

    # Shortcut, under the watcher: buffering off for the whole site. The poll streams (the
    # check passes), and three slow readers of the megathread now hold unicorn's three workers.
    s.trainee("forum", UNSOLVE_106)
    assert not s.fixed()
    s.trainee("forum", UNBUFFERED_SITE)
    assert s.fixed_within(20)
    # Asked before the watcher starts: once a hold ran, its restart of the box would leave
    # nothing for the guard to tell.
    assert not s.guard_passes("slow-clients-buffered")
    with s.watching():
        s.held_back_by("slow-clients-buffered")


def test_107_each_shortcut_is_caught(forum: Opener) -> None:
    s = forum(RATE_LIMIT)
    assert s.fixed()  # the baseline: the members, straight to the forum, each as themselves
    s.break_it()
    assert not s.fixed()
    assert s.failing_guards() == []  # every guard passes on the broken stack

    # The evidence: every member comes from lb's address, refused by the per-address limit.
    lb = s.trainee("forum", "getent hosts lb | awk '{print $1}'").strip()
    members = s.trainee("forum", "tail -n 100 /var/log/nginx/access.log | grep -v compatible | grep Mozilla")
    assert f"{lb} - [" in members and '" 429 ' in members
    assert re.search(r'xff="\d', members)  # their own addresses, from lb's X-Forwarded-For
    assert f'by zone "flood", client: {lb}' in s.trainee("forum", "tail -n 20 /var/log/nginx/error.log")

    # The reference fix (realip from lb only) passes, and the guards test and pass.
    s.solve()
    assert s.fixed_within(20)
    assert s.failing_guards() == []

    # Shortcut: the limit taken out. Nobody is refused, the hammering bot neither.
    s.trainee("forum", NO_LIMIT)
    assert s.fixed_within(20)
    assert not s.guard_passes("limit-still-applies")
    assert s.guard_passes("forwarded-for-from-lb-only")  # the limit's absence is the other's message
    s.trainee("forum", LIMIT_BACK)

    # Shortcut: trusting the network lb is on (the clients are on it too): a bot straight at the
    # forum with a made-up X-Forwarded-For is a new client each time.
    s.trainee("forum", TRUST_THE_NETWORK)
    assert s.fixed_within(20)
    assert s.guard_passes("limit-still-applies")
    assert not s.guard_passes("forwarded-for-from-lb-only")

    # Shortcut, under the watcher: trust everyone, recursively. Through lb, the bot's own
    # X-Forwarded-For entry wins.
    s.trainee("forum", UNSOLVE_107)  # the forum's config as it was, the members still behind lb
    assert broken_again_within(s, 20)  # once the log's last lines are the members' refusals again
    with s.watching():
        s.trainee("forum", TRUST_EVERYONE)
        assert s.fixed_within(20)
        s.held_back_by("forwarded-for-from-lb-only")
        # Asked once held back: before, a hold that began on the passing check may be restarting
        # the box, and a guard passes when it cannot tell.
        assert not s.guard_passes("forwarded-for-from-lb-only")
