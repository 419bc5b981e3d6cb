#!/usr/bin/env bash
# Guard: the forum still refuses to serve dotfiles (the security review's rule, which the
# uploads directory needs: members' files land there). Dropping the rule everywhere lets the
# challenge through, and serves .htaccess-style files to anyone again. Removing it from the
# port-80 server only is fine: everything there but the challenge is redirected (which
# https-redirect-kept watches), so HTTPS is where a dotfile could be served.
# Run from the CA's side, the logic on stdin: a trainee's `ps` shows nothing of it.
set -euo pipefail
docker compose exec -T acme sh -s <<'EOS'
got=$(curl -k -s -m 3 -A 'Mozilla/5.0 (compatible; uptime-monitor)' -o /dev/null -w '%{http_code}' \
    https://forum.example/uploads/.keep) || true
# The rule answers 403 whether the file is there or not; 000 is nginx not answering, which
# this guard cannot judge. Anything else (the file served, a 404 once it is gone) means no rule.
case $got in
    403 | 000) exit 0 ;;
esac
echo "https://forum.example/uploads/.keep is not refused as a dotfile ($got)" >&2
exit 1
EOS
