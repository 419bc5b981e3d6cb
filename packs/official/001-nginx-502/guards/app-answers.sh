#!/usr/bin/env bash
# Guard: when /checkout answers 2xx through nginx, the answer came from the checkout app.
# A stub in nginx (`location = /checkout { return 200 "{}"; }`) satisfies a status check with
# the app still unreachable. Asked from the app's own box: a request with a fresh marker goes
# through web, and the app's request log must show it. A /checkout that does not answer 2xx
# passes: nothing is faked, the check itself still fails.
# The logic travels on stdin and the URL in curl's config on stdin: a trainee's `ps` shows
# neither.
set -euo pipefail
docker compose exec -T app sh -s <<'EOF'
marker="synthetic-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
status=$(curl -s -o /dev/null -m 2 -w '%{http_code}' -K - <<CONFIG
url = "http://web/checkout?$marker"
CONFIG
) || true
case $status in 2??) ;; *) exit 0 ;; esac
for _ in 1 2 3 4 5; do  # the log line travels through the supervisor's pipe
    while IFS= read -r line; do
        case $line in *"$marker"*) exit 0 ;; esac
    done <<LOG
$(tail -n 500 /var/log/checkout.log)
LOG
    sleep 0.1
done
echo "web answered /checkout with $status, but the checkout app never saw the request" >&2
exit 1
EOF
