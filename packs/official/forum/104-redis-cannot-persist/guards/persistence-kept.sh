#!/usr/bin/env bash
# Guard: Redis still persists as the box was set up, and still stops writes when a snapshot
# fails. `CONFIG SET stop-writes-on-bgsave-error no`, `save ""` or `appendonly no` (or the same
# in /etc/redis/redis.conf) make the MISCONF go away while the cause stays: the snapshots keep
# failing, nobody is told, and the AOF cannot be rewritten in that directory either. Moving
# `dir` elsewhere (/tmp, in redis.conf: Redis 7 refuses CONFIG SET dir) starts Redis afresh
# away from its data. The running server's settings are what counts (CONFIG GET), whatever the
# file says.
# Passes when Redis does not answer (a restart): nothing is known then. Logic over stdin.
set -euo pipefail
docker compose exec -T forum sh -s <<'EOS'
answer=$(printf 'CONFIG GET save\nCONFIG GET stop-writes-on-bgsave-error\nCONFIG GET appendonly\nCONFIG GET dir\n' \
    | redis-cli 2>/dev/null) || exit 0
case $answer in
    ''|LOADING*|*'Connection refused'*) exit 0 ;;
    *'unknown command'*) echo "redis: CONFIG is not available to read its persistence settings" >&2; exit 1 ;;
esac
save=unset stop=unset aof=unset dir=unset key= cr=$(printf '\r')
while IFS= read -r line; do
    line=${line%"$cr"}
    if [ -z "$key" ]; then
        key=$line
        continue
    fi
    case $key in
        save) save=$line ;;
        stop-writes-on-bgsave-error) stop=$line ;;
        appendonly) aof=$line ;;
        dir) dir=$line ;;
    esac
    key=
done <<ANSWER
$answer
ANSWER
problems=
[ -n "$save" ] && [ "$save" != unset ] || problems="$problems save rules are off;"
[ "$stop" = yes ] || problems="$problems stop-writes-on-bgsave-error is $stop;"
[ "$aof" = yes ] || problems="$problems appendonly is $aof;"
[ "$dir" = /var/lib/redis ] || problems="$problems dir is $dir;"
[ -z "$problems" ] && exit 0
echo "redis:$problems" >&2
exit 1
EOS
