#!/usr/bin/env bash
# Guard: only the load balancer is believed about a client's address. X-Forwarded-For is a
# header anyone can send; lb appends the address it saw, so the forum must take the address lb
# added and nothing a client wrote before it (set_real_ip_from lb's address, no recursion
# through untrusted entries), and must not believe the header from anyone but lb. A bot (the
# `client` service) sends 14 requests at once with a new made-up X-Forwarded-For each: through
# lb, then straight to the forum. Each series must see refusals (429), as one client's would.
# Trusting every address (with real_ip_recursive, or a network the clients are on too), or
# keying the limit on the header itself, lets each made-up address count as a new client.
# It tests only once the members come through lb and the forum sees their own addresses: before
# the move they reach the forum directly, and after it the check fails until then (a bot's
# bursts through lb would only add to the members' 429s). Until then it passes at once.
# The logic goes over stdin: the trainee's `ps` shows `sh -s` and curl reading its config.
set -euo pipefail
if ! docker compose exec -T forum sh -s <<'EOS'
lb=$(getent hosts lb | awk '{print $1}')
tail -n 300 /var/log/nginx/access.log | awk -F'"' -v lb="$lb" '
    $6 ~ /^Mozilla\/5\.0 \(/ && $6 !~ /compatible;/ { split($1, who, " "); last = who[1]; xff = $8 }
    END { exit !(last != "" && last != lb && xff != "-") }'
EOS
then
    exit 0
fi
docker compose exec -T client sh -s <<'EOS'
bot='Mozilla/5.0 (compatible; PetalBot; +https://webmaster.petalsearch.com/site/petalbot)'
# 14 requests at once to $1 (in flight together: the bucket cannot refill between them),
# each with a made-up X-Forwarded-For when $2 is "spoof".
series() {
    i=0
    while [ "$i" -lt 14 ]; do
        printf 'url = "http://%s/latest.json"\noutput = "/dev/null"\nsilent\nmax-time = 3\n' "$1"
        [ "$2" = spoof ] && printf 'header = "X-Forwarded-For: 203.0.113.%s"\n' "$((i + 20))"
        printf 'user-agent = "%s"\nwrite-out = "%%{http_code}\\n"\n' "$bot"
        i=$((i + 1))
        [ "$i" -lt 14 ] && echo next
    done | curl --parallel --parallel-immediate --parallel-max 14 -K - || true
}
for host in lb forum; do
    codes=$(series "$host" spoof)
    case $codes in
        *429*) continue ;;
    esac
    # None refused: is anyone refused at all? Without the made-up header (through lb, as any
    # client). If not, the limit itself is gone: limit-still-applies says so, not this guard.
    case $(series lb plain) in
        *429*) ;;
        *) exit 0 ;;
    esac
    echo "14 requests with made-up X-Forwarded-For addresses, sent to $host, none refused: $(echo $codes)" >&2
    exit 1
done
EOS
