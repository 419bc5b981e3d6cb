#!/usr/bin/env bash
# Guard: when nginx answers 2xx, the answer came from the app. A stub in nginx
# (`location / { return 200; }`) turns the check green with the app unreachable. From the app's
# box, a request carrying a fresh marker goes through web; the app's log must show the marker.
# A request that does not answer 2xx passes (nothing is faked). Logic and URL go on stdin.
set -euo pipefail
docker compose exec -T app sh -s <<'EOF_GUARD'
marker="guard-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
status=$(curl -s -o /dev/null -m 2 -w '%{http_code}' -K - <<CONFIG
url = "http://web/?$marker"
CONFIG
) || true
case $status in 2??) ;; *) exit 0 ;; esac
for _ in 1 2 3 4 5; do  # the app's log line travels through the supervisor's pipe
    case $(tail -n 200 /var/log/app.log) in *"$marker"*) exit 0 ;; esac
    sleep 0.1
done
echo "web answered with $status, but the app never saw the request" >&2
exit 1
EOF_GUARD
