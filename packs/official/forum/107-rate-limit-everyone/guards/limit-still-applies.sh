#!/usr/bin/env bash
# Guard: the per-client limit still stops a client that hammers the forum. A bot on the internet
# (the `client` service) fetches /latest.json 19 times at once through the load balancer; with
# 200 requests a minute and bursts of 10 per client, some must be refused (429): 11 pass at once
# and the bucket refills one each 0.3 s, so only requests reaching the forum spread over 2.4 s
# could all pass. (Kept under the 20 connections a client may hold: past them the connection
# limit refuses with 429 too, the request limit gone or not.) None refused, it tries once more:
# on a loaded machine one burst's arrivals can spread out. Removing the limit, raising it until
# it limits nothing, or a dry run lets all through.
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
series() {
    i=0
    while [ "$i" -lt 19 ]; do
        printf 'url = "http://lb/latest.json"\noutput = "/dev/null"\nsilent\nmax-time = 3\n'
        printf 'user-agent = "%s"\nwrite-out = "%%{http_code}\\n"\n' "$bot"
        i=$((i + 1))
        [ "$i" -lt 19 ] && echo next
    done | curl --parallel --parallel-immediate --parallel-max 19 -s -K - || true
}
for try in 1 2; do
    codes=$(series)
    case $codes in
        *429*) exit 0 ;;
    esac
done
echo "19 requests at once through lb, twice, none refused: $(echo $codes)" >&2
exit 1
EOS
