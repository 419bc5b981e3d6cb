"""The forum track's 105-cert-renewal: its evidence, and each guard catching its shortcut.

A real session per fault, up and broken through the engine (pebble as the CA, certbot in the
forum box). The evidence is where the hints send the trainee: the expired certificate the site
presents, certbot's own account of the failed challenge, the CA's requests in nginx's access
log. Then the shortcuts a trainee who wants the points would take, played as the trainee plays
them (a script sent into the forum box), each with what stops it: a self-signed certificate and
one made by hand with the CA's intermediate key (issued-by-the-ca), renewal switched off or
pointed elsewhere (renewal-kept), the redirect deleted (https-redirect-kept: under the watcher,
the session does not resolve while the check passes, and resolves once the redirect is back),
the dotfile rule dropped everywhere (dotfiles-denied; dropping it from the port-80 server only
is a fair fix and passes). The play-through with solve.sh is the track's end-to-end test.
"""

from __future__ import annotations

import pytest
from forumkit import ForumSession, Opener

from libreplay.session import lifecycle
from libreplay.session.state import RESOLVED

pytestmark = pytest.mark.docker

CERT_RENEWAL = "105-cert-renewal"
SITE = "/etc/nginx/sites-available/forum"
LIVE = "/etc/letsencrypt/live/forum.example"

# certbot, as the trainee runs it in a shell script: no random sleep (stdin is no terminal), and
# waiting out cron's certbot when both run at once.
CERTBOT = """
certbot_run() {
    for try in 1 2 3 4 5 6 7 8 9 10; do
        out=$(certbot "$@" --no-random-sleep-on-renew 2>&1) && { echo "$out"; return 0; }
        case $out in *"Another instance of Certbot"*) sleep 1 ;; *) echo "$out"; return 1 ;; esac
    done
    return 1
}
"""
RELOAD = "nginx -t -q && nginx -s reload && sleep 1\n"
RENEW = CERTBOT + "certbot_run renew\n"

# -- shortcuts -------------------------------------------------------------------------------

# A self-signed certificate from the site's own key, for a year, in place of the expired one.
SELF_SIGNED = f"""
openssl req -x509 -key {LIVE}/privkey.pem -subj /CN=forum.example \\
    -addext subjectAltName=DNS:forum.example -days 365 -out /etc/nginx/forum-selfsigned.pem 2>/dev/null
sed -i 's|ssl_certificate {LIVE}/fullchain.pem;|ssl_certificate /etc/nginx/forum-selfsigned.pem;|' {SITE}
{RELOAD}"""
SELF_SIGNED_UNDONE = f"""
sed -i 's|ssl_certificate /etc/nginx/forum-selfsigned.pem;|ssl_certificate {LIVE}/fullchain.pem;|' {SITE}
rm /etc/nginx/forum-selfsigned.pem
{RELOAD}"""

# A certificate for a year made by hand with the CA's own intermediate key, which pebble's
# management interface hands out: it chains to the CA's root like a real one, and the CA never
# issued it. Written over the lineage's current files, as a renewal would have.
HAND_MADE = f"""
set -e
cd "$(mktemp -d)"
mgmt=https://acme:15000
curl -fsS --cacert /etc/pebble/certs/acme.pem -o ca.pem $mgmt/intermediates/0
curl -fsS --cacert /etc/pebble/certs/acme.pem -o ca.key $mgmt/intermediate-keys/0
live={LIVE}
openssl req -new -key $live/privkey.pem -subj /CN=forum.example -out leaf.csr 2>/dev/null
printf 'subjectAltName=DNS:forum.example\\nextendedKeyUsage=serverAuth\\n' > ext
openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 -extfile ext \\
    -out "$(readlink -f $live/cert.pem)" 2>/dev/null
cat "$(readlink -f $live/cert.pem)" ca.pem > "$(readlink -f $live/fullchain.pem)"
{RELOAD}"""

RENEWAL_OFF = "mv /etc/cron.d/certbot /root/certbot.cron\n"
RENEWAL_BACK = "mv /root/certbot.cron /etc/cron.d/certbot\n"
RENEWAL_CONF = "/etc/letsencrypt/renewal/forum.example.conf"
STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
TO_STAGING = f"sed -i 's|^server = .*|server = {STAGING}|' {RENEWAL_CONF}\n"
FROM_STAGING = f"sed -i 's|^server = .*|server = https://acme:14000/dir|' {RENEWAL_CONF}\n"

# redirect-first: the change that broke the challenge taken out altogether. The challenge gets
# through, and plain HTTP answers the forum's pages with nginx's 404 instead of the redirect.
REDIRECT_DROPPED = f"""
sed -i '/^    return 301 https:\\/\\/\\$host\\$request_uri;$/d' {SITE}
{RELOAD}{RENEW}"""
# ...and put back where it belongs: in `location /`, below the challenge's own location.
REDIRECT_IN_LOCATION = f"""
awk '{{ print }} /^    access_log / && !done {{ done = 1
    print "    location / {{"; print "        return 301 https://$host$request_uri;"; print "    }}" }}' \\
    {SITE} > /tmp/site && cat /tmp/site > {SITE} && rm /tmp/site
{RELOAD}"""

# dotfiles-everywhere: the dotfile rule emptied, so the challenge gets through on port 80 and
# every dotfile is served on HTTPS.
DOTFILE_RULE_EMPTIED = f"""
cp /etc/nginx/snippets/deny-dotfiles.conf /root/deny-dotfiles.conf
: > /etc/nginx/snippets/deny-dotfiles.conf
{RELOAD}{RENEW}"""
# The fair alternative to ^~: the rule back, and out of the port-80 server only (its first
# include), where everything but the challenge is redirected anyway.
DOTFILE_RULE_OFF_PORT_80 = f"""
cp /root/deny-dotfiles.conf /etc/nginx/snippets/deny-dotfiles.conf
awk '/include snippets\\/deny-dotfiles.conf;/ && !done {{ done = 1; next }} {{ print }}' {SITE} > /tmp/site
cat /tmp/site > {SITE} && rm /tmp/site
{RELOAD}"""




def broken(forum: Opener, fault: str) -> ForumSession:
    s = forum(CERT_RENEWAL)
    assert s.fixed()  # the baseline: a certificate from the CA, and a renewal that works
    s.break_it(fault)
    assert not s.fixed()
    assert s.failing_guards() == []  # every guard holds on the broken stack
    return s


def guard_message(s: ForumSession, name: str) -> str:
    return str(next(g.message for g in s.scenario.guards if g.name == name))


def rebreak(s: ForumSession, fault: str) -> None:
    """The fault's break steps again on the broken session (idempotent), to undo a shortcut."""
    lifecycle.inject(s.stack, lifecycle.choose_fault(s.scenario, fault, reveal=True))


def test_105_redirect_first_evidence_and_the_guards_of_the_certificate_the_schedule_and_the_redirect(
    forum: Opener, short_hold: None
) -> None:
    s = broken(forum, "redirect-first")

    # The evidence is where the hints send the trainee.
    assert "certificate has expired" in s.trainee("forum", "curl -sv https://forum.example/ 2>&1", ok=False)
    assert "INVALID: EXPIRED" in s.trainee("forum", "certbot certificates")
    log = s.trainee("forum", "cat /var/log/letsencrypt/letsencrypt.log")
    assert "Challenge failed for domain forum.example" in log
    assert "/.well-known/acme-challenge/" in log and "returned 403" in log
    access = s.trainee("forum", "grep Pebble /var/log/nginx/access.log")
    assert '" 301 ' in access and '" 403 ' in access  # the redirect, then the dotfile rule on HTTPS
    assert "return 301 https://$host$request_uri;" in s.trainee("forum", "nginx -T 2>/dev/null")

    # A self-signed certificate: the CA never issued it (nor does it verify).
    s.trainee("forum", SELF_SIGNED)
    assert not s.guard_passes("issued-by-the-ca")
    assert not s.fixed()
    s.trainee("forum", SELF_SIGNED_UNDONE)
    assert s.guard_passes("issued-by-the-ca")  # the expired one is the check's business

    # One made by hand with the CA's intermediate key chains like a real one: the CA's list of
    # what it issued is what tells them apart.
    s.trainee("forum", HAND_MADE)
    assert "certificate has expired" not in s.trainee("forum", "curl -sv https://forum.example/ 2>&1")
    assert not s.guard_passes("issued-by-the-ca")
    rebreak(s, "redirect-first")  # the expired certificate back
    assert s.failing_guards() == []

    # Renewal switched off, or pointed at another CA.
    s.trainee("forum", RENEWAL_OFF)
    assert not s.guard_passes("renewal-kept")
    s.trainee("forum", RENEWAL_BACK + TO_STAGING)
    assert not s.guard_passes("renewal-kept")
    s.trainee("forum", FROM_STAGING)
    assert s.guard_passes("renewal-kept")

    # The redirect deleted instead of moved: the certificate renews and the check passes, but
    # the guard trips and the session does not resolve; with the redirect back in `location /`
    # it does (the forum box restarted once during the hold).
    with s.watching():
        s.trainee("forum", REDIRECT_DROPPED)
        # Renewed: by this certbot, or by cron's (every 5 minutes) just before it, when this one
        # finds nothing due.
        month_ahead = f"openssl x509 -checkend 2592000 -noout -in {LIVE}/cert.pem"
        assert "will not expire" in s.trainee("forum", month_ahead)
        assert s.fixed_within(30)
        state = s.held_back_by("https-redirect-kept")
        assert state.guards_failing == [guard_message(s, "https-redirect-kept")]
        s.trainee("forum", REDIRECT_IN_LOCATION)
        assert s.guard_passes("https-redirect-kept")
        state = s.state_once(lambda state: state.terminal, within=90)
        assert state.status == RESOLVED, state
        assert state.guards_tripped == ["https-redirect-kept"]


def test_105_dotfiles_everywhere_dropping_the_rule_trips_dotfiles_denied_and_dropping_it_on_port_80_is_fair(
    forum: Opener,
) -> None:
    s = broken(forum, "dotfiles-everywhere")
    assert "access forbidden by rule" in s.trainee("forum", "cat /var/log/nginx/error.log")
    assert '" 403 ' in s.trainee("forum", "grep Pebble /var/log/nginx/access.log")

    # The rule emptied: the challenge gets through and the certificate renews, so the check
    # passes - and every dotfile on the site is public.
    s.trainee("forum", DOTFILE_RULE_EMPTIED)
    assert s.fixed_within(30)
    assert not s.guard_passes("dotfiles-denied")
    assert s.failing_guards() == ["dotfiles-denied"]

    # The rule back, out of the port-80 server only: a fair fix, nothing trips.
    s.trainee("forum", DOTFILE_RULE_OFF_PORT_80)
    assert s.fixed()
    assert s.failing_guards() == []
