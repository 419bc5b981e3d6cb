"""docs/scoring.md's worked examples are what libreplay.session.ledger.score computes."""

from __future__ import annotations

from pathlib import Path

from libreplay.session import ledger

DOC = Path(__file__).resolve().parents[2] / "docs" / "scoring.md"
SLA_SECONDS = 900  # the examples' SLA, as the page says


def worked_examples() -> list[list[str]]:
    """The cells of each row of the table under "## Worked examples"."""
    text = DOC.read_text(encoding="utf-8")
    table = text.split("## Worked examples", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("|")][2:]  # past header and rule
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def seconds(shown: str) -> int:
    minutes, secs = shown.split(":")
    return int(minutes) * 60 + int(secs)


def test_every_worked_example_scores_as_documented() -> None:
    examples = worked_examples()
    assert len(examples) >= 10
    checked = 0
    for fixed_in, hints, guards, relapses, expected, _why in examples:
        if fixed_in == "—":  # not fixed
            assert expected == "0"
            assert ledger.score(fixed=False, elapsed_seconds=60, sla_seconds=SLA_SECONDS, hints_used=3) == 0
            continue
        got = ledger.score(fixed=True, elapsed_seconds=seconds(fixed_in), sla_seconds=SLA_SECONDS,
                           hints_used=int(hints), guards_tripped=int(guards), relapses=int(relapses))
        assert got == int(expected), (fixed_in, hints, guards, relapses)
        checked += 1
    assert checked == len(examples) - 1


def test_the_documented_constants_are_the_codes() -> None:
    text = DOC.read_text(encoding="utf-8")
    formula = (f"max({ledger.MIN_FIX_SCORE}, {ledger.FIX_POINTS} + round({ledger.SPEED_POINTS} * left)"
               f" - {ledger.HINT_PENALTY} * hints - {ledger.GUARD_PENALTY} * guards_tripped"
               f" - {ledger.RELAPSE_PENALTY} * relapses)")
    assert formula in text
