#!/usr/bin/env bash
# The incident: the forum's nginx has limited each client address to 200 requests a minute
# (bursts of 10) for weeks. Last night the members were moved behind the new load balancer
# (lb): every request now reaches the forum from lb's address, so all members share one
# allowance and, together, overrun it. Everything that runs in a container goes over stdin.
set -euo pipefail

# Compose's progress lines are noise; its output is shown only when the command fails.
quiet() {
    local out
    out=$("$@" 2>&1) || { printf '%s\n' "$out" >&2; return 1; }
}

# The forum's nginx as it has been for weeks: the per-address limit (dated 40 days ago).
quiet docker compose cp faults/forum-common.conf forum:/etc/nginx/conf.d/forum-common.conf
quiet docker compose cp faults/forum.site forum:/etc/nginx/sites-available/forum
docker compose exec -T forum sh -s <<'EOF_FORUM'
at=$(date -d '-40 days' '+%Y-%m-%d 10:12:00')
touch -d "$at" /etc/nginx/conf.d/forum-common.conf /etc/nginx/sites-available/forum
nginx -t -q && nginx -s reload 2>/dev/null
EOF_FORUM

# The move: the members' traffic now goes through lb, at the evening's pace.
replicas=$(docker compose ps -q users | wc -l)
for i in $(seq 1 "$replicas"); do
    quiet docker compose cp --index "$i" faults/users.env users:/etc/forum/users.env
done
quiet docker compose restart users

# Until the members' requests reach the forum from lb's address and the first are refused.
docker compose exec -T forum sh -s <<'EOF_FORUM'
lb=$(getent hosts lb | awk '{print $1}')
i=0
while [ "$i" -lt 60 ]; do
    # A member's line: a browser's user agent (the log's sixth "-separated field).
    tail -n 200 /var/log/nginx/access.log | awk -F'"' -v lb="$lb" '
        $6 ~ /^Mozilla\/5\.0 \(/ && $6 !~ /compatible;/ {
            split($1, who, " "); split($3, answer, " ")
            if (who[1] == lb && answer[1] == 429) refused = 1
        }
        END { exit !refused }' && exit 0
    sleep 0.5
    i=$((i + 1))
done
echo "no member was refused through lb within 30 s" >&2
exit 1
EOF_FORUM
