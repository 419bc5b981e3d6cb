#!/usr/bin/env bash
# Guard: slow clients do not tie up unicorn. unicorn has three workers and no defence against a
# client that reads slowly; nginx's buffering is that defence: it takes the whole answer from
# unicorn at once and feeds the client at the client's pace. Here three clients with a slow
# line (a small receive window, small segments) start reading the support megathread (1.5 MB)
# through nginx; a normal request made meanwhile must still be answered within 2 s. With
# buffering turned off for the whole site, each slow reader holds a worker and the normal
# request waits behind them.
# Passes when it cannot tell (no database, no megathread, nginx not answering at all).
# The logic goes over stdin: the trainee's `ps` shows `sh -s` and `python3 -` only.
set -euo pipefail
docker compose exec -T forum sh -s <<'EOS'
topic=$(echo "SELECT id FROM topics WHERE title = 'Share your 3.4 import logs here (megathread)'" \
    | setpriv --reuid=postgres --regid=postgres --init-groups psql -XAtq -d forum 2>/dev/null) || exit 0
[ -n "$topic" ] || exit 0
TOPIC=$topic exec python3 - <<'PY'
import http.client, os, socket, sys, time

page = "/t/%s" % os.environ["TOPIC"]
slow = []
try:
    for _ in range(3):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1400)
        s.settimeout(2)
        s.connect(("127.0.0.1", 80))
        s.sendall(("GET %s HTTP/1.1\r\nHost: forum.example\r\nUser-Agent: Mozilla/5.0 (Linux; Android 9; SM-J530F) "
                   "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/96.0 Mobile Safari/537.36\r\n\r\n" % page).encode())
        slow.append(s)
except OSError:
    sys.exit(0)  # nginx is not answering at all: nothing to tell here
time.sleep(0.8)  # unicorn renders the page for each of them meanwhile
started = time.monotonic()
try:
    conn = http.client.HTTPConnection("127.0.0.1", 80, timeout=2)
    conn.request("GET", "/srv/status", headers={"User-Agent": "Mozilla/5.0"})
    conn.getresponse().read()
except OSError:
    print("a request waited %.1f s behind three slow readers of %s" % (time.monotonic() - started, page), file=sys.stderr)
    sys.exit(1)
finally:
    for s in slow:
        s.close()
PY
EOS
