#!/usr/bin/env bash
# Guard: Redis still snapshots to its data directory and still stops writes when a snapshot
# fails. `CONFIG SET stop-writes-on-bgsave-error no` (or `save ""`, or the same in
# /etc/redis/redis.conf) makes the writes go through while nothing reaches the disk: the jobs and
# the message bus then live in memory only, and the next restart loses them without a word.
# Pointing `dir` elsewhere (/tmp) saves where the next start does not look. The running server's
# settings are what counts (CONFIG GET), whatever the file says.
# Passes when Redis does not answer (a restart): nothing is known then. Logic over stdin.
set -euo pipefail
docker compose exec -T forum sh -s <<'EOS'
answer=$(printf 'CONFIG GET save\nCONFIG GET stop-writes-on-bgsave-error\nCONFIG GET dir\n' | redis-cli 2>/dev/null) || exit 0
case $answer in
    ''|LOADING*|*'Connection refused'*) exit 0 ;;
    *'unknown command'*) echo "redis: CONFIG is not available to read its snapshot settings" >&2; exit 1 ;;
esac
save=unset stop=unset dir=unset key= cr=$(printf '\r')
while IFS= read -r line; do
    line=${line%"$cr"}
    if [ -z "$key" ]; then
        key=$line
        continue
    fi
    case $key in
        save) save=$line ;;
        stop-writes-on-bgsave-error) stop=$line ;;
        dir) dir=$line ;;
    esac
    key=
done <<ANSWER
$answer
ANSWER
problems=
[ -n "$save" ] && [ "$save" != unset ] || problems="$problems save rules are off;"
[ "$stop" = yes ] || problems="$problems stop-writes-on-bgsave-error is $stop;"
[ "$dir" = /var/lib/redis ] || problems="$problems dir is $dir;"
[ -z "$problems" ] && exit 0
echo "redis:$problems" >&2
exit 1
EOS
