#!/usr/bin/env bash
# Guard: uploads still go through nginx. Port 80 (and 443) must be nginx's, and the app server
# (unicorn, on 127.0.0.1:3000) must not be opened to the network: a relay on port 80 or a
# unicorn listening on every address skips nginx's limits, its buffering and its logs.
# `ss` shows the owner of a socket only for processes this root may inspect: the forum's
# services run as their own users and show none, nginx's master (root) shows "nginx".
# Passes when nothing listens on port 80 (nginx restarting). Logic over stdin: `ps` shows `ss`.
set -euo pipefail
docker compose exec -T forum sh -s <<'EOS'
listeners=$(ss -Hltnp 2>/dev/null) || exit 0
while read -r state recvq sendq local peer owner; do
    [ -n "$local" ] || continue
    port=${local##*:}
    case $local in
        127.*|'[::1]':*|'::1':*) loopback=yes ;;
        *) loopback=no ;;
    esac
    case $port in
        80|443)
            case $owner in *'"nginx"'*) continue ;; esac
            echo "port $port ($local) is served by ${owner:-a service user's process}, not nginx" >&2
            exit 1 ;;
    esac
    [ "$loopback" = yes ] && continue
    case $owner in
        '') echo "$local is open to the network by a service user's process (the app server?)" >&2; exit 1 ;;
        *'"ruby'*|*'"unicorn'*) echo "$local is open to the network by the app server: $owner" >&2; exit 1 ;;
    esac
done <<LISTENERS
$listeners
LISTENERS
exit 0
EOS
