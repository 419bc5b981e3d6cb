"""The hint channel against the real engine: get-hint in a real shell container, a real watcher.

The trainee is root in the shell container and does what a hostile trainee would: junk and
forged lines on the log stream, floods, symlinks and directories where the channel's files
are, deleting them, restarting the container, another user. Each test checks that only the
container is affected: the host's session directory and ledger stay as they were, the
watcher keeps running and answering, and every revealed hint is counted exactly once.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from watchkit import REPLIES, Watched, wait_for

from libreplay.core import paths
from libreplay.session.hints import BURST, NO_MORE_HINTS, REFILL_SECONDS
from libreplay.session.state import load_session

pytestmark = pytest.mark.docker

HINT_1 = "Hint 1/2: curl app:3000/ok"
HINT_2 = "Hint 2/2: ls /srv/www in the app"


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def _settle() -> None:
    """Time for the watcher to read what was written and for its replies to land."""
    time.sleep(1.5)


def test_get_hint_reveals_hints_in_order_and_nothing_else_counts(watched: Watched) -> None:
    forged = [
        "replaybook-hint-request ../../session.toml",  # no path can be named
        "replaybook-hint-request a b",
        " replaybook-hint-request padded",
        "replaybook-hint-request " + "a" * 65,
        "GET /ok 200 replaybook-hint-request inline",  # a service's own log line
        "\x1b]0;title\x07replaybook-hint-request escaped",
        "\x01\x7f binary \u00ff",
    ]
    for line in forged:
        watched.say(line)
    oversized = "{ printf 'replaybook-hint-request '; head -c 200000 /dev/zero | tr '\\0' b; echo; }"
    assert watched.trainee(f"{oversized} > /proc/1/fd/1")[0] == 0  # dropped whole, never parsed
    watched.say("replaybook-hint-request on-stderr", fd=2)  # only stdout carries requests

    # Stream order: these answers come after every line above was read, and none of them counted.
    assert watched.get_hint() == HINT_1
    assert load_session(watched.session).hints_used == 1
    assert watched.get_hint() == HINT_2
    assert watched.get_hint() == NO_MORE_HINTS
    state = load_session(watched.session)
    assert state.hints_used == 2
    assert state.hints_revealed == ["curl app:3000/ok", "ls /srv/www in the app"]

    time.sleep(REFILL_SECONDS)  # three requests in a row spent the burst: wait for one more
    for _ in range(3):
        watched.say("replaybook-hint-request same-id")  # one request read three times
    _settle()
    assert watched.replies() == {"same-id": NO_MORE_HINTS}  # answered once; no forged line was
    assert load_session(watched.session).hints_used == 2
    assert not (paths.session_dir(watched.session) / "channel").exists()  # no host path at all
    watched.assert_watching()


def test_tampering_with_the_channel_touches_only_the_container(watched: Watched) -> None:
    assert watched.get_hint() == HINT_1
    assert watched.get_hint() == HINT_2  # from now on no answer changes the session file
    session_dir = paths.session_dir(watched.session)
    before = _files(session_dir)

    # replies/ a symlink to the root: the answer lands in the container's /, where get-hint finds it.
    watched.trainee(f"rm -rf {REPLIES} && ln -s / {REPLIES}")
    assert watched.get_hint() == NO_MORE_HINTS

    # replies/ a symlink to the host's session directory (as a path inside the container) and a
    # forged request named like a file there: it is written in the container, never on the host.
    watched.trainee(f"rm -f {REPLIES} && mkdir -p '{session_dir}' && ln -s '{session_dir}' {REPLIES}")
    watched.say("replaybook-hint-request compose")
    _settle()
    status, output = watched.trainee(f"cat '{session_dir}/compose'")
    assert status == 0 and output.strip(), output  # the reply (whatever it says) is in the container

    # A directory where the reply goes, then the whole channel deleted: no crash, no answer.
    watched.trainee(f"rm -f {REPLIES} && mkdir -m 1777 {REPLIES} && mkdir {REPLIES}/trap")
    watched.say("replaybook-hint-request trap")
    _settle()
    watched.assert_watching()
    watched.trainee("rm -rf /run/replaybook")
    status, _ = watched.trainee("get-hint")
    assert status == 127  # the trainee's own doing: the command is gone from the container
    watched.say("replaybook-hint-request nothing-to-write-to")
    _settle()
    watched.assert_watching()

    # A restart of the shell container: the watcher follows its log again and puts get-hint back.
    watched.shell.restart(timeout=1)
    wait_for(lambda: watched.trainee("command -v get-hint")[0] == 0, "get-hint is back after a restart")
    assert watched.get_hint() == NO_MORE_HINTS

    # Another user than PID 1's may not write to the log stream: get-hint says so plainly.
    status, output = watched.trainee("get-hint", user="nobody")
    assert status == 1 and "C-b h" in output and "cannot reach replaybook" in output

    assert _files(session_dir) == before
    assert not paths.ledger_path().exists()
    assert load_session(watched.session).hints_used == 2
    watched.assert_watching()


def test_a_flood_of_requests_counts_nothing_twice_and_the_watcher_keeps_up(watched: Watched) -> None:
    # get-hint asks until it is answered; raw lines are read only once the watcher follows the log.
    assert watched.get_hint() == HINT_1
    time.sleep(REFILL_SECONDS)  # the burst is whole again
    started = time.monotonic()
    status, output = watched.trainee(
        'for i in $(seq 200); do echo "replaybook-hint-request flood$i" > /proc/1/fd/1; done; '
        "head -c 2000000 /dev/zero | tr '\\0' x > /proc/1/fd/1; echo > /proc/1/fd/1"
    )
    assert status == 0, output
    _settle()
    elapsed = time.monotonic() - started
    replies = watched.replies()
    hints = [text for text in replies.values() if text.startswith("Hint ")]
    slow_downs = [text for text in replies.values() if text.startswith("Slow down")]
    windows = 1 + int(elapsed / REFILL_SECONDS)
    assert len(replies) - len(slow_downs) <= BURST + windows  # the bucket, not the flood
    assert 1 <= len(slow_downs) <= windows, replies  # told once per window, the rest dropped
    assert hints == [HINT_2]  # the one hint left, revealed once however many asked for it
    assert load_session(watched.session).hints_used == 2  # each revealed hint counted exactly once
    watched.assert_watching()

    time.sleep(REFILL_SECONDS)
    asked = time.monotonic()
    assert watched.get_hint() == NO_MORE_HINTS
    assert time.monotonic() - asked < 5  # still answering, at once

    # And it still notices the fix: the flood did not stall the watcher's loop.
    assert watched.container("app").exec_run(["touch", "/srv/www/ok"]).exit_code == 0
    out, err = watched.watcher.communicate(timeout=60)
    assert (watched.watcher.returncode, out.strip()) == (0, "resolved"), err
    assert "Traceback" not in err
    assert load_session(watched.session).hints_used == 2

