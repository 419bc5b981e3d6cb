#!/usr/bin/env bash
# Guard: only the load balancer is believed about a client's address. X-Forwarded-For is a
# header anyone can send; lb appends the address it saw, so the forum must take the address lb
# added and nothing a client wrote before it (set_real_ip_from lb's address, no recursion
# through untrusted entries), and must not believe the header from anyone but lb. A bot (the
# `client` service) sends 19 requests at once with a new made-up X-Forwarded-For each: through
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
# 19 requests at once to $1, each with a made-up X-Forwarded-For when $2 is "spoof". From one
# client, 11 pass at once (the burst of 10 beyond the first) and the bucket (200 a minute)
# refills one each 0.3 s: only if they reached the forum spread over 2.4 s would none be
# refused. (Kept under the 20 connections a client may hold: past them the connection limit
# refuses with 429 too, whatever the address.)
series() {
    i=0
    while [ "$i" -lt 19 ]; do
        printf 'url = "http://%s/latest.json"\noutput = "/dev/null"\nsilent\nmax-time = 3\n' "$1"
        [ "$2" = spoof ] && printf 'header = "X-Forwarded-For: 203.0.113.%s"\n' "$((i + 20))"
        printf 'user-agent = "%s"\nwrite-out = "%%{http_code}\\n"\n' "$bot"
        i=$((i + 1))
        [ "$i" -lt 19 ] && echo next
    done | curl --parallel --parallel-immediate --parallel-max 19 -s -K - || true
}
# Whether a series to $1 ($2 as above) sees a refusal. A series that sees none is sent once
# more: on a loaded machine one burst's arrivals can spread out. The last codes are in $codes.
refused() {
    for try in 1 2; do
        codes=$(series "$1" "$2")
        case $codes in
            *429*) return 0 ;;
        esac
    done
    return 1
}
for host in lb forum; do
    refused "$host" spoof && continue
    spoofed=$codes
    # None refused: is anyone refused at all? Without the made-up header (through lb, as any
    # client). If not, the limit itself is gone: limit-still-applies says so, not this guard.
    refused lb plain || exit 0
    echo "19 requests at once with made-up X-Forwarded-For addresses, sent to $host, twice, none refused: $(echo $spoofed)" >&2
    exit 1
done
EOS
