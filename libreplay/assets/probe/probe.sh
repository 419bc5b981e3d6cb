#!/bin/sh
# Checks PROBE_URL every PROBE_INTERVAL seconds and prints a line each time the answer
# changes: "<unix time> ok|fail <http status>". replaybook follows these lines through the
# container's log stream, so a fix is noticed within one interval without host polling.
# A 2xx within 2 seconds is "ok"; TLS validity is not judged (-k): use exit_zero for that.
# Without a URL (an exit_zero scenario whose guards fetch pages) it only waits for execs.
[ -n "${PROBE_URL:-}" ] || exec sleep infinity
interval="${PROBE_INTERVAL:-0.2}"
last=""
while :; do
    code=$(curl -ks -o /dev/null -m 2 -w '%{http_code}' "$PROBE_URL" 2>/dev/null)
    case "$code" in
        2??) state=ok ;;
        *) state=fail ;;
    esac
    if [ "$state" != "$last" ]; then
        echo "$(date +%s.%N) $state ${code:-000}"
        last="$state"
    fi
    sleep "$interval"
done
