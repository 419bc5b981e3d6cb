"""The official forum track, each scenario played once end to end as a trainee plays it.

`replaybook run official/<id> --fault <its first fault>` in a real terminal, against real
containers, with the scenario's own hold (not the suite's one second): the page and the shell
come up, the trainee looks around in the shell, the scenario's reference fix (its solve script,
the way `replaybook test` runs it) is applied to the live session, the session resolves with no
guard tripped, and after `exit` the debrief shows and nothing is left behind by label.
"""

from __future__ import annotations

import json
import textwrap

import pytest
from dockerkit import ROOT
from trainee import Trainee

from libreplay.scenario.load import load_scenario
from libreplay.session import lifecycle
from libreplay.session.ledger import read_ledger
from libreplay.session.state import load_session

pytestmark = [pytest.mark.e2e, pytest.mark.docker, pytest.mark.timeout(1500)]

FORUM = ROOT / "packs" / "official" / "forum"
TRACK = json.loads((FORUM / "track.json").read_text(encoding="utf-8"))["scenarios"]
PROMPT = "root@"
LOOK_AROUND = "ps -eo pid,user,args | grep -c supervise; echo LOOKED-$((6*7))"


@pytest.mark.parametrize("scenario_id", TRACK)
def test_a_trainee_plays_the_scenario_to_a_fair_win(
    trainee: Trainee, scenario_id: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REPLAYBOOK_HOLD_SECONDS", raising=False)  # the scenario's own hold and restart
    scenario = load_scenario(FORUM / scenario_id, pack="official")
    fault = scenario.faults[0]
    trainee.start(scenario.ref, "--fault", fault.name)
    trainee.wait_for_session()
    trainee.wait_for("STATUS: ACTIVE", timeout=900)  # a cold build of the track's image included
    first_words = " ".join(scenario.page.split()[:3])
    trainee.wait_for(first_words, timeout=10)  # the incident page, in the HUD
    trainee.wait_for(PROMPT, timeout=60)

    trainee.type(LOOK_AROUND)  # a real shell in the forum box
    trainee.wait_for("LOOKED-42", timeout=30)

    assert trainee.session_id is not None
    stack = lifecycle.open_stack(load_session(trainee.session_id))
    solved = stack.run_script(fault.solve)
    assert solved.ok, solved.tail()
    budget = scenario.hold_seconds + 180  # the hold, its restart of the box, the guards' rounds
    trainee.wait_for("STATUS: RESOLVED", timeout=budget)
    trainee.type("exit")
    assert trainee.exit_status(timeout=180) == 0
    screen = trainee.screen()
    assert "Outcome:   RESOLVED within the SLA" in screen
    assert f"Fault:     {fault.name}" in screen
    debrief = scenario.debrief_for(fault)
    assert debrief is not None
    # The after-action text, as the debrief wraps it: its first words are on screen.
    assert textwrap.shorten(debrief.fix, 40, placeholder="")[:30] in " ".join(screen.split())

    trainee.assert_nothing_left()
    [line] = [line for line in read_ledger() if line.get("session") == trainee.session_id]
    assert line["outcome"] == "success"
    assert not line.get("guards_tripped")
