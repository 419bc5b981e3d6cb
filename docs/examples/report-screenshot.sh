#!/bin/sh
# docs/report.png: the team report of the two sample ledgers, as headless chromium draws it.
# Needs the checkout's virtualenv (make venv) and Debian's chromium (replaybook doctor --fix --tests).
# Usage: sh docs/examples/report-screenshot.sh [OUTPUT.png]
set -eu
examples=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$examples/../.." && pwd)
output=${1:-$root/docs/report.png}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

"$root/bin/replaybook" report --html "$work/report.html" --title "Team report: alice and bob" \
    --ledger "$examples/ledger-alice.jsonl" --ledger "$examples/ledger-bob.jsonl" >/dev/null

# chromium's sandbox refuses to start as root; the page is our own file and runs no script.
sandbox=""
[ "$(id -u)" = 0 ] && sandbox="--no-sandbox"
# shellcheck disable=SC2086  # $sandbox is one flag or none
chromium --headless=new $sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
    --user-data-dir="$work/profile" --no-first-run --disable-background-networking \
    --disable-component-update --window-size=1280,2900 \
    --screenshot="$output" "file://$work/report.html" 2>/dev/null
echo "$output"
