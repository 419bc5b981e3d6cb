#!/bin/sh
# Checks PROBE_URL PROBE_RATE times (default 5/s) and prints a line each time the answer
# changes: "<unix time> ok|fail <http status>". replaybook follows these lines through the
# container's log stream, so a fix is noticed within one interval without host polling.
# A 2xx within 2 seconds is "ok"; TLS validity is not judged (-k): use exit_zero for that.
# Without a URL (an exit_zero scenario whose guards fetch pages) it only waits for execs.
#
# Nothing is forked per request, so an idle session costs next to nothing: one curl repeats
# the request itself (a glob in the URL's fragment, which is never sent, counts the
# transfers; --rate spaces them) and writes each status on stderr (unbuffered, so each line
# arrives at once) into a loop of shell builtins. Each request asks for a fresh connection
# (Connection: close), so a fix that reloads the server is seen; a server that keeps the
# connection open anyway is left after one batch, when a new curl starts.
[ -n "${PROBE_URL:-}" ] || exec sleep infinity
rate="${PROBE_RATE:-5/s}"
batch="${PROBE_BATCH:-25}"
retry="${PROBE_RETRY:-0.2}"  # after a transfer that could not connect
# The fragment is never sent, so it is dropped; curl's glob characters in the rest are escaped.
url=$(printf '%s' "${PROBE_URL%%#*}" | sed 's/[][{}]/\\&/g')

# A transfer that could not connect ends the batch (--fail-early): curl keeps the name's
# address for the whole batch, and a restarted or recreated container may come back at
# another one, so the next curl looks the name up again. Such a failure is paced by hand.
statuses() {
    while :; do
        curl -ks -o /dev/null -m 2 -H 'Connection: close' --rate "$rate" --fail-early \
            -w '%{stderr}%{http_code}\n' "$url#[1-$batch]" 2>&1 >/dev/null
        case $? in
            0) ;;
            2|3) echo 000; sleep 1 ;;  # curl could not start, or refuses the URL: do not spin
            *) sleep "$retry" ;;
        esac
    done
}

last=""
statuses | while read -r code; do
    case "$code" in
        2??) state=ok ;;
        *) state=fail ;;
    esac
    if [ "$state" != "$last" ]; then
        echo "$(date +%s.%N) $state ${code:-000}"
        last="$state"
    fi
done
