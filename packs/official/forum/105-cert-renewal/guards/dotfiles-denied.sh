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
case $got in
    2*) echo "https://forum.example/uploads/.keep is served ($got)" >&2; exit 1 ;;
esac
exit 0
EOS
