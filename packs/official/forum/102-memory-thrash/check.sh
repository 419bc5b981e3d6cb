#!/usr/bin/env bash
# Fixed = the box stays inside its memory and serves:
#  1. no process of the box was OOM-killed since the last look (the kernel's count in the box's
#     memory cgroup; kept between runs in the session's copy of the scenario, on the host);
#  2. the app server answers a burst of 10 concurrent requests, every one a 200;
#  3. Sidekiq processes a job: the admin's "send test email" (critical queue) is done within 8 s
#     (sent or failed: either way a worker ran it);
#  4. and no OOM kill happened while all that ran.
# What runs in a container goes over stdin (sh -s): the trainee's `ps` shows none of it.
set -euo pipefail
counts=$(docker compose exec -T forum sh -s <<'EOF_FORUM'
kills() {
    for f in /sys/fs/cgroup/memory/memory.oom_control /sys/fs/cgroup/memory.events; do
        [ -r "$f" ] || continue
        while read -r key value; do
            [ "$key" = oom_kill ] && { echo "$value"; return; }
        done < "$f"
    done
    echo 0
}
before=$(kills)
codes=$(i=0; while [ "$i" -lt 10 ]; do
            echo 'url = "http://127.0.0.1:3000/latest.json"'; echo 'output = "/dev/null"'; i=$((i + 1))
        done | curl -s -Z --parallel-immediate --parallel-max 10 -m 8 -w '%{http_code}\n' -K - 2>/dev/null)
ok=0
for code in $codes; do [ "$code" = 200 ] && ok=$((ok + 1)); done
[ "$ok" -eq 10 ] || { echo "burst: $ok of 10 requests answered 200 ($(echo $codes))" >&2; exit 1; }
token=check$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
now=$(date +%s)
printf '{"class":"Jobs::TestEmail","args":["ops@forum.example","%s"],"queue":"critical","retry":false,"jid":"%s","created_at":%s,"enqueued_at":%s}' \
    "$token" "$token" "$now" "$now" | redis-cli -x LPUSH queue:critical >/dev/null
redis-cli SADD queues critical >/dev/null
i=0
while [ "$i" -lt 32 ]; do
    case $(redis-cli GET "forum:test-email:$token") in
        sent|failed*) echo "$before $(kills)"; exit 0 ;;
    esac
    sleep 0.25
    i=$((i + 1))
done
echo "sidekiq: the test email job was not run within 8 s" >&2
exit 1
EOF_FORUM
)
read -r before after <<<"$counts"
# What the box printed is used as numbers below: digits only.
if ! [[ $before =~ ^[0-9]+$ && $after =~ ^[0-9]+$ ]]; then
    echo "the box's OOM kill counts could not be read: $(printf '%q' "$counts")" >&2
    exit 1
fi
seen_file="$SCENARIO_DIR/.oom-kills-seen"
seen=$(cat "$seen_file" 2>/dev/null || true)
[[ $seen =~ ^[0-9]+$ ]] || seen=$before
echo "$after" >"$seen_file"
if [ "$after" -gt "$before" ]; then
    echo "$((after - before)) OOM kill(s) in the box while the check ran" >&2
    exit 1
fi
# A smaller count than last time: the box restarted (a new cgroup counts from zero).
if [ "$before" -gt "$seen" ]; then
    echo "$((before - seen)) OOM kill(s) in the box since the last check" >&2
    exit 1
fi
