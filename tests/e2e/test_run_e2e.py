"""`replaybook run 001-nginx-502` end to end, in a real terminal, against real containers.

Each test plays one way a session can end: fixed with a hint (then left by the trainee: the
workspace stays open after a win), SLA breached, abandoned by Ctrl-C (SIGINT to run) and by
leaving the shell. Each asserts the ledger line and that the
session's Compose project left nothing behind (containers, networks, volumes, tmux server).
"""

from __future__ import annotations

import signal
import subprocess
import time

import pytest
from trainee import BIN, SCENARIO, Trainee

from libreplay.core import paths
from libreplay.play.policy import CLOSE_AFTER_SECONDS, RESOLVED_NEWS
from libreplay.session.ledger import read_ledger

pytestmark = [pytest.mark.e2e, pytest.mark.docker, pytest.mark.timeout(1500)]

PAGE_START = "URGENT: users getting 502s on checkout."
PROMPT = "root@"
FIRST_HINT = "A 502 comes from nginx itself"
FIX = (
    "sed -i 's/server app:3001 /server app:3000 /' /etc/nginx/conf.d/checkout.conf"
    " && nginx -t && nginx -s reload"
)


def ledger_line(session_id: str) -> dict[str, object]:
    lines = [line for line in read_ledger() if line.get("session") == session_id]
    assert len(lines) == 1, lines
    return lines[0]


def start_and_wait_until_active(trainee: Trainee, *args: str, env: dict[str, str] | None = None) -> None:
    trainee.start(SCENARIO, *args, env=env)
    trainee.wait_for_session()
    trainee.wait_for("STATUS: ACTIVE", timeout=900)  # a cold build of the images included
    trainee.wait_for(PAGE_START, timeout=10)
    # Keys typed before the recorder has the terminal are discarded (as in any terminal
    # program that flushes input when it starts), so wait for the shell's prompt.
    trainee.wait_for(PROMPT, timeout=60)


def test_fix_with_one_hint_resolves_debriefs_and_tears_down(trainee: Trainee) -> None:
    start_and_wait_until_active(trainee)
    assert "HINTS: 0 / 3 used" in trainee.screen()
    assert "C-b 1  app" in trainee.screen()  # the other service's window is announced

    trainee.type("get-hint")
    screen = trainee.wait_for("Hint 1/3", timeout=30)  # in the shell …
    screen = trainee.wait_for("1. " + FIRST_HINT[:30], timeout=10)  # … and in the HUD
    assert "HINTS: 1 / 3 used" in screen

    trainee.type(FIX)
    trainee.wait_for("STATUS: RESOLVED", timeout=60)  # the HUD …
    trainee.wait_for(RESOLVED_NEWS, timeout=10)  # … and tmux's status line
    # The workspace stays open after the win, the clock stopped, until the trainee leaves.
    time.sleep(CLOSE_AFTER_SECONDS + 2)
    assert "RUN-EXIT=" not in trainee.screen()
    assert "SLA: met, fixed in " in trainee.screen()
    trainee.type("exit")
    assert trainee.exit_status(timeout=120) == 0
    screen = trainee.screen()
    assert "== debrief ==" in screen
    assert "Outcome:   RESOLVED within the SLA" in screen
    assert "Hints:     1 / 3 used" in screen
    assert "Best:      " in screen
    assert "Fault:     default" in screen
    assert "What this incident teaches:" in screen
    assert "Based on: " in screen

    assert trainee.session_id is not None
    trainee.assert_nothing_left()
    line = ledger_line(trainee.session_id)
    assert line["outcome"] == "success"
    assert line["hints_used"] == 1
    assert isinstance(line["score"], int) and line["score"] > 0

    cast = paths.transcript_path(trainee.session_id)
    assert cast.is_file()
    played = subprocess.run(
        [str(BIN / "replaybook"), "replay", trainee.session_id, "--speed", "100"],
        capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL,
    )
    assert played.returncode == 0, played.stderr
    assert "get-hint" in played.stdout
    assert "signal process started" in played.stdout  # the reload, as nginx answered it


def test_sla_breach_turns_red_and_counts_as_a_timeout(trainee: Trainee) -> None:
    # The engine reads REPLAYBOOK_SLA_SECONDS as an SLA override in seconds, for tests.
    start_and_wait_until_active(trainee, env={"REPLAYBOOK_SLA_SECONDS": "20"})
    trainee.wait_for("STATUS: SLA BREACHED", timeout=60)
    trainee.wait_for("SLA: BREACHED", timeout=10)
    trainee.type("exit")
    trainee.quit_the_offer()
    assert trainee.exit_status(timeout=120) == 1
    assert "Outcome:   SLA BREACHED" in trainee.screen()
    assert trainee.session_id is not None
    trainee.assert_nothing_left()
    assert ledger_line(trainee.session_id)["outcome"] == "timeout"


@pytest.mark.parametrize(
    ("signum", "status"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)],
    ids=["ctrl-c", "sigterm", "sighup"],
)
def test_a_signal_to_run_abandons_and_tears_down(trainee: Trainee, signum: int, status: int) -> None:
    start_and_wait_until_active(trainee)
    trainee.run_process().send_signal(signum)
    assert trainee.exit_status(timeout=180) == status
    if signum != signal.SIGHUP:  # after a hangup the terminal is gone: run writes nothing more
        assert "Outcome:   ABANDONED" in trainee.screen()
    assert trainee.session_id is not None
    trainee.assert_nothing_left()
    assert ledger_line(trainee.session_id)["outcome"] == "abandoned"


def test_detaching_from_tmux_abandons_and_tears_down(trainee: Trainee) -> None:
    start_and_wait_until_active(trainee)
    trainee.tmux("send-keys", "C-b", "d")
    trainee.quit_the_offer()
    assert trainee.exit_status(timeout=180) == 1
    assert "Outcome:   ABANDONED" in trainee.screen()
    assert trainee.session_id is not None
    trainee.assert_nothing_left()
    assert ledger_line(trainee.session_id)["outcome"] == "abandoned"


def test_leaving_the_shell_abandons_and_tears_down(trainee: Trainee) -> None:
    start_and_wait_until_active(trainee)
    trainee.type("exit")
    trainee.quit_the_offer()
    assert trainee.exit_status(timeout=180) == 1
    assert "Outcome:   ABANDONED" in trainee.screen()
    assert trainee.session_id is not None
    trainee.assert_nothing_left()
    assert ledger_line(trainee.session_id)["outcome"] == "abandoned"
