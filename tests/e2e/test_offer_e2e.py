"""The offer after a miss, end to end: `replaybook run` in a real terminal against real containers.

The trainee gives up (leaves the shell), reads the debrief and the offer, presses `r`: a second
session of the same scenario starts with the same fault. They give up again and press `q`: run
exits with the last play's status. Both ledger lines, and nothing left in the engine.
"""

from __future__ import annotations

import pytest
from trainee import OFFER_QUIT, Trainee

from libreplay.packs.catalog import resolve_scenario
from libreplay.session.ledger import read_ledger

pytestmark = [pytest.mark.e2e, pytest.mark.docker, pytest.mark.timeout(1800)]

# Two faults (wrong-owner, wrong-mode): "the same fault" means something.
SCENARIO = "002-postgres-wont-start"
PROMPT = "root@"
OFFER = "[r] retry now (same fault)  [n] next: "


def wait_until_playing(trainee: Trainee) -> str:
    session_id = trainee.wait_for_session()
    trainee.wait_for(f"[replaybook {session_id}]", timeout=900)  # its workspace (a cold build included)
    trainee.wait_for("STATUS: ACTIVE", timeout=120)
    trainee.wait_for(PROMPT, timeout=60)  # keys typed before the shell has the terminal are lost
    return session_id


def test_give_up_retry_the_same_fault_give_up_quit(trainee: Trainee) -> None:
    trainee.start(SCENARIO)
    first = wait_until_playing(trainee)
    trainee.type("exit")  # a give-up: abandoned

    screen = trainee.wait_for(OFFER, timeout=180)
    assert "Outcome:   ABANDONED" in screen  # the debrief comes first
    assert OFFER_QUIT in screen
    offered = screen.split(OFFER)[1].split(OFFER_QUIT)[0].strip()
    assert SCENARIO not in offered  # the next one by its title only
    assert offered != resolve_scenario(SCENARIO).title  # n is another scenario: r plays this one
    trainee.assert_nothing_left()  # the first session is gone before the question
    trainee.press("r")

    second = wait_until_playing(trainee)
    assert second != first
    trainee.type("exit")
    trainee.quit_the_offer(session_id=second)  # the second debrief's offer, not the first's
    assert trainee.exit_status(timeout=120) == 1  # the last play's: abandoned
    trainee.assert_nothing_left()

    lines = {line["session"]: line for line in read_ledger() if line.get("session") in (first, second)}
    assert [lines[first]["outcome"], lines[second]["outcome"]] == ["abandoned", "abandoned"]
    assert lines[first]["scenario"] == lines[second]["scenario"] == SCENARIO
    assert lines[first]["fault"] in ("wrong-owner", "wrong-mode")
    assert lines[second]["fault"] == lines[first]["fault"]
