"""Keeps the page-fragment cache warm, and plays a few shoppers browsing the site.

`cache_warmer.py` runs forever; `cache_warmer.py --burst N` writes N fragments and exits
(a deploy-time cache prefill).
"""

import http.client
import os
import random
import sys
import threading
import time

from resp import Redis

REDIS_HOST = os.environ.get("REDIS_HOST", "redis")
WEB_HOST = os.environ.get("WEB_HOST", "web")
FRAGMENTS = 4000
FRAGMENT_BYTES = 8 * 1024
FRAGMENT_TTL = 900
BATCH = 50


def log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} cache-warmer: {message}", file=sys.stderr, flush=True)


def write_fragments(client: Redis, numbers: list[int]) -> None:
    payload = os.urandom(FRAGMENT_BYTES // 2).hex()
    for number in numbers:
        client.send("SET", f"cache:fragment:{number}", payload, "EX", FRAGMENT_TTL)
    for _ in numbers:
        try:
            client.reply()
        except Exception as exc:  # a full Redis answers OOM; keep going like the real warmer did
            log(f"write failed: {exc}")


def burst(count: int) -> None:
    client = Redis(REDIS_HOST, timeout=10)
    for start in range(0, count, BATCH):
        write_fragments(client, [random.randrange(FRAGMENTS) for _ in range(min(BATCH, count - start))])
    client.close()


def warm_forever() -> None:
    while True:
        try:
            client = Redis(REDIS_HOST, timeout=10)
            while True:
                for start in range(0, FRAGMENTS, BATCH):
                    write_fragments(client, list(range(start, start + BATCH)))
                    time.sleep(0.12)
                log(f"refreshed {FRAGMENTS} fragments")
        except Exception as exc:
            log(f"redis connection lost: {exc}; reconnecting")
            time.sleep(2)


def request(method: str, path: str, cookie: str | None = None, body: str | None = None):
    conn = http.client.HTTPConnection(WEB_HOST, 80, timeout=3)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if cookie:
        headers["Cookie"] = f"session={cookie}"
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    cookie_header = response.getheader("Set-Cookie") or ""
    conn.close()
    return response.status, cookie_header.split(";")[0].partition("=")[2]


def shoppers() -> None:
    """A handful of users who log in once and keep browsing."""
    sessions: dict[str, str] = {}
    while True:
        time.sleep(3)
        user = random.choice(["ana", "bo", "chen", "dara", "eli", "fay"])
        try:
            if user not in sessions:
                status, token = request("POST", "/login", body=f"user={user}")
                if status == 200:
                    sessions[user] = token
                continue
            status, _ = request("GET", "/me", cookie=sessions[user])
            if status == 401:
                sessions.pop(user)
        except OSError:
            pass


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--burst":
        burst(int(sys.argv[2]))
        sys.exit(0)
    threading.Thread(target=shoppers, daemon=True).start()
    warm_forever()
