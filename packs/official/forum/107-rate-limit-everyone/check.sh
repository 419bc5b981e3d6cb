#!/usr/bin/env bash
# Fixed = the members, through the load balancer, get their pages again and the forum sees each
# of them as themselves: in the forum's access log, the members' latest requests (a browser's
# user agent; the guards' client is a bot) are none of them refused (429), come from at least
# three addresses of their own and none from lb's, and the newest is at most 15 s old.
# What runs in the container goes over stdin (sh -s): the trainee's `ps` shows none of it.
set -euo pipefail
docker compose exec -T forum sh -s <<'EOF_FORUM'
lb=$(getent hosts lb | awk '{print $1}')
[ -n "$lb" ] || { echo "lb does not resolve" >&2; exit 1; }
newest=$(tail -n 600 /var/log/nginx/access.log | awk -F'"' -v lb="$lb" '
    $6 ~ /^Mozilla\/5\.0 \(/ && $6 !~ /compatible;/ {
        n++; split($1, who, " "); split($3, answer, " ")
        addr[n] = who[1]; status[n] = answer[1]; at = who[3]
    }
    END {
        if (n < 16) { print "only " n " requests of the members in the log" > "/dev/stderr"; exit 1 }
        for (i = n - 15; i <= n; i++) {
            if (status[i] == 429) refused++
            if (addr[i] == lb) via_lb++
            if (!(addr[i] in seen)) { seen[addr[i]] = 1; distinct++ }
        }
        if (refused) { print refused " of the last 16 member requests were refused (429)" > "/dev/stderr"; exit 1 }
        if (via_lb) { print via_lb " of the last 16 member requests come from the address of lb, " lb > "/dev/stderr"; exit 1 }
        if (distinct < 3) { print "the last 16 member requests come from " distinct " address(es)" > "/dev/stderr"; exit 1 }
        print at
    }') || exit 1
# [07/Dec/2026:20:02:18 -> 07 Dec 2026 20:02:18 (the log is in UTC, as the box is)
at=$(echo "$newest" | sed 's#^\[##; s#/# #g; s#:# #')
age=$(( $(date +%s) - $(date -d "$at UTC" +%s) ))
[ "$age" -le 15 ] && exit 0
echo "the members' newest request in the log is $age s old" >&2
exit 1
EOF_FORUM
