#!/usr/bin/env bash
# Guard: the per-client limit still stops a client that hammers the forum. A bot on the internet
# (the `client` service) fetches /latest.json 14 times at once through the load balancer (all in
# flight together, so the bucket cannot refill between them however slow the box is); with 200
# requests a minute and bursts of 10 per client, some must be refused (429). Removing the
# limit, raising it until it limits nothing, or a dry run lets all through.
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
codes=$(i=0; while [ "$i" -lt 14 ]; do
    printf 'url = "http://lb/latest.json"\noutput = "/dev/null"\nsilent\nmax-time = 3\n'
    printf 'user-agent = "%s"\nwrite-out = "%%{http_code}\\n"\n' "$bot"
    i=$((i + 1))
    [ "$i" -lt 14 ] && echo next
done | curl --parallel --parallel-immediate --parallel-max 14 -K -) || true
case $codes in
    *429*) exit 0 ;;
esac
echo "14 requests at once through lb, none refused: $(echo $codes)" >&2
exit 1
EOS
