#!/usr/bin/env bash
# Guard: nginx still refuses a 100 MB upload. `client_max_body_size 0` (no limit at all) or a
# limit in gigabytes makes the 413s go away, and lets anyone send bodies that nginx spools to
# the box's disk before the app says no: one upload loop fills the disk. The limit belongs near
# the app's own (10 MB), anything at 100 MB or above is refused here. Read from the
# configuration nginx loads (nginx -T): a probe request would leave lines in its logs.
# Passes when the configuration does not load (mid-edit): nginx keeps what it runs then.
# Shell builtins over stdin: `ps` shows only `nginx -T`.
set -euo pipefail
docker compose exec -T forum sh -s <<'EOS'
config=$(nginx -T 2>/dev/null) || exit 0
blank=' 	'
while IFS= read -r line; do
    line=${line%%#*}
    case $line in *client_max_body_size*) ;; *) continue ;; esac
    value=${line#*client_max_body_size}
    value=${value%%;*}
    value=${value#"${value%%[!$blank]*}"}
    value=${value%"${value##*[!$blank]}"}
    case $value in
        *[kK]) number=${value%?} unit=1024 ;;
        *[mM]) number=${value%?} unit=1048576 ;;
        *[gG]) number=${value%?} unit=1073741824 ;;
        *) number=$value unit=1 ;;
    esac
    case $number in ''|*[!0-9]*) continue ;; esac
    number=${number#"${number%%[!0]*}"}
    if [ -z "$number" ]; then
        echo "nginx: client_max_body_size $value (no limit)" >&2
        exit 1
    fi
    if [ ${#number} -gt 12 ] || [ $((number * unit)) -ge 104857600 ]; then
        echo "nginx: client_max_body_size $value" >&2
        exit 1
    fi
done <<CONFIG
$config
CONFIG
exit 0
EOS
