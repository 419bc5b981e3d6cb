"""The campaign's rule (libreplay.progress.campaign) on fixed ledgers and dates."""

from __future__ import annotations

import json
import random
import zlib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from scenario_kit import make_pack_repo, use_official_pack, write_scenario

from libreplay.progress import campaign
from libreplay.progress.campaign import (
    NEW,
    REST,
    RETRY,
    REVIEW,
    CampaignScenario,
    Suggestion,
    plan,
    suggest,
)
from libreplay.session.ledger import LedgerEntry, Ledgers, read_ledgers

TODAY = date(2026, 12, 7)
SLA = 900.0

EASY = CampaignScenario("official/001-easy", "Easy one", 1, 0)
EASY_TOO = CampaignScenario("official/002-easy-too", "Easy too", 1, 0)
MIDDLE = CampaignScenario("official/003-middle", "Middle", 3, 0)
HARD = CampaignScenario("official/004-hard", "Hard", 5, 0)
ADDED_EASY = CampaignScenario("extra/001-added", "Added easy", 1, 1)
SCENARIOS = [EASY, EASY_TOO, MIDDLE, HARD, ADDED_EASY]


def session(
    scenario: CampaignScenario | str, outcome: str, day: date | None, *,
    hints: int = 0, elapsed: float = 100.0, sla: float = SLA, guards: tuple[str, ...] = (),
    relapses: int = 0, player: str = "alice", number: int = 1,
) -> LedgerEntry:
    """A ledger line as ``record`` writes it, played at noon (UTC) on ``day``."""
    ref = scenario.ref if isinstance(scenario, CampaignScenario) else scenario
    pack, _, scenario_id = ref.rpartition("/")
    line: dict[str, Any] = {
        "session": f"{zlib.crc32(repr((ref, outcome, day, number, player)).encode()):08x}",
        "scenario": scenario_id, "pack": pack, "outcome": outcome,
        "started_at": f"{day.isoformat()}T12:00:00+00:00" if day else None,
        "elapsed_seconds": elapsed, "sla_seconds": sla, "hints_used": hints, "hints_total": 3,
        "score": 700 if outcome == "success" else 0, "relapses": relapses,
        "guards_tripped": list(guards), "player": player,
    }
    return LedgerEntry(line, Path("ledger.jsonl"), number)


def win(scenario: CampaignScenario, day: date | None, **figures: Any) -> LedgerEntry:
    return session(scenario, "success", day, **figures)


def shaky_win(scenario: CampaignScenario, day: date | None, **figures: Any) -> LedgerEntry:
    return win(scenario, day, hints=2, **figures)


def days_ago(n: int) -> date:
    return TODAY - timedelta(days=n)


def by_ref(suggestions: list[Suggestion]) -> dict[str, Suggestion]:
    return {suggestion.ref: suggestion for suggestion in suggestions}


def refs(suggestions: list[Suggestion]) -> list[str]:
    return [suggestion.ref for suggestion in suggestions]


# -- new ------------------------------------------------------------------------------------


def test_an_empty_ledger_plans_every_scenario_new_easiest_first_then_pack_order_then_ref() -> None:
    planned = plan([], SCENARIOS, TODAY)
    assert refs(planned) == [EASY.ref, EASY_TOO.ref, ADDED_EASY.ref, MIDDLE.ref, HARD.ref]
    assert {s.kind for s in planned} == {NEW}
    assert {s.due for s in planned} == {TODAY}
    assert planned[0] == Suggestion(EASY.ref, "Easy one", 1, NEW, "not played yet (difficulty 1)", TODAY)
    assert suggest([], SCENARIOS, TODAY) == planned[0]


def test_no_scenario_installed_means_no_suggestion() -> None:
    assert plan([win(EASY, days_ago(3))], [], TODAY) == []
    assert suggest([win(EASY, days_ago(3))], [], TODAY) is None


def test_sessions_of_scenarios_no_longer_installed_are_left_out() -> None:
    gone = CampaignScenario("official/099-gone", "Gone", 1, 0)
    planned = plan([session(gone, "timeout", days_ago(1))], [MIDDLE], TODAY)
    assert planned == plan([], [MIDDLE], TODAY)


# -- retry and its cool-down -------------------------------------------------------------------


@pytest.mark.parametrize(("outcome", "said"), [("timeout", "timed out"), ("abandoned", "abandoned")])
def test_a_lost_scenario_comes_back_at_once_before_new_ones(outcome: str, said: str) -> None:
    planned = plan([session(HARD, outcome, days_ago(2))], SCENARIOS, TODAY)
    first = planned[0]
    assert (first.ref, first.kind, first.due) == (HARD.ref, RETRY, days_ago(2))
    assert first.reason == f"{said} 2 days ago: try it again"
    assert [s.kind for s in planned[1:]] == [NEW] * 4


@pytest.mark.parametrize(("misses", "cool_down"), [(1, 0), (2, 1), (3, 2), (5, 4), (8, 7), (9, 7), (20, 7)])
def test_misses_in_a_row_cool_a_scenario_down_one_day_each_capped_at_a_week(
    misses: int, cool_down: int,
) -> None:
    last = days_ago(1)
    entries = [session(MIDDLE, "timeout", last - timedelta(days=misses - n), number=n)
               for n in range(1, misses)]
    entries.append(session(MIDDLE, "abandoned", last, number=misses))
    assert by_ref(plan(entries, SCENARIOS, TODAY))[MIDDLE.ref].due == last + timedelta(days=cool_down)


def test_a_win_between_misses_resets_the_cool_down() -> None:
    entries = [session(MIDDLE, "timeout", days_ago(9)), session(MIDDLE, "timeout", days_ago(8), number=2),
               win(MIDDLE, days_ago(7), hints=3), session(MIDDLE, "timeout", days_ago(1), number=3)]
    suggestion = by_ref(plan(entries, SCENARIOS, TODAY))[MIDDLE.ref]
    assert (suggestion.kind, suggestion.due) == (RETRY, days_ago(1))


def test_a_cooling_retry_waits_behind_new_ones_and_comes_first_when_due() -> None:
    entries = [session(HARD, "timeout", days_ago(1), number=n) for n in range(1, 5)]  # due in 2 days
    planned = plan(entries, SCENARIOS, TODAY)
    assert refs(planned)[-1] == HARD.ref
    assert planned[-1].kind == RETRY
    back_on = (TODAY + timedelta(days=2)).isoformat()
    assert planned[-1].reason == f"lost 4 times in a row: cooling down, back on {back_on}"
    later = plan(entries, SCENARIOS, TODAY + timedelta(days=2))
    assert later[0].ref == HARD.ref and later[0].kind == RETRY
    assert later[0].reason == "lost 4 times in a row, last 3 days ago: cooled down, try again"


def test_due_retries_come_oldest_due_first() -> None:
    entries = [session(EASY, "timeout", days_ago(1)), session(HARD, "abandoned", days_ago(5)),
               session(MIDDLE, "timeout", days_ago(3))]
    assert refs(plan(entries, SCENARIOS, TODAY))[:3] == [HARD.ref, MIDDLE.ref, EASY.ref]


# -- review: shaky wins, growing intervals -----------------------------------------------------


@pytest.mark.parametrize("figures", [
    {"hints": 2}, {"elapsed": SLA / 2 + 1}, {"guards": ("no-restart-loop",)}, {"relapses": 1},
])
def test_a_shaky_win_comes_back_for_review_the_next_day(figures: dict[str, Any]) -> None:
    suggestion = by_ref(plan([win(MIDDLE, days_ago(4), **figures)], SCENARIOS, TODAY))[MIDDLE.ref]
    assert (suggestion.kind, suggestion.due) == (REVIEW, days_ago(3))
    assert suggestion.reason.startswith("shaky win 4 days ago (")
    assert suggestion.reason.endswith("review due now")


@pytest.mark.parametrize("figures", [
    {}, {"hints": 1}, {"elapsed": SLA / 2}, {"elapsed": 800.0, "sla": 0.0}, {"elapsed": 800.0, "sla": None},
])
def test_a_clean_win_rests_for_a_month(figures: dict[str, Any]) -> None:
    entry = win(MIDDLE, days_ago(4), **figures)
    if figures.get("sla", SLA) is None:
        del entry.line["sla_seconds"]
    suggestion = by_ref(plan([entry], SCENARIOS, TODAY))[MIDDLE.ref]
    assert (suggestion.kind, suggestion.due) == (REST, days_ago(4) + timedelta(days=30))
    assert suggestion.reason == f"mastered 4 days ago (clean win): resting until {suggestion.due.isoformat()}"


def test_the_reason_names_at_most_two_things_that_made_a_win_shaky() -> None:
    entry = win(MIDDLE, days_ago(1), hints=3, elapsed=810.0, guards=("g",), relapses=2)
    assert campaign.shaky(entry) == ["3 hints", "90% of the SLA", "a guard tripped", "2 relapses"]
    reason = by_ref(plan([entry], SCENARIOS, TODAY))[MIDDLE.ref].reason
    assert reason == "shaky win yesterday (3 hints, 90% of the SLA): review due now"


@pytest.mark.parametrize(("wins", "interval"), [(1, 1), (2, 3), (3, 7), (4, 14), (5, 30), (6, 30), (9, 30)])
def test_review_intervals_grow_with_the_wins_in_a_row(wins: int, interval: int) -> None:
    last = days_ago(2)
    entries = [session(EASY, "timeout", last - timedelta(days=100))]
    entries += [win(EASY, last - timedelta(days=wins - n), hints=3, number=n) for n in range(1, wins + 1)]
    assert by_ref(plan(entries, SCENARIOS, TODAY))[EASY.ref].due == last + timedelta(days=interval)


def test_clean_wins_in_the_run_count_for_a_shaky_last_win() -> None:
    entries = [win(EASY, days_ago(20)), win(EASY, days_ago(10), number=2), shaky_win(EASY, days_ago(2))]
    assert by_ref(plan(entries, SCENARIOS, TODAY))[EASY.ref].due == days_ago(2) + timedelta(days=7)


def test_a_mastered_scenario_comes_back_for_a_check_up_after_its_rest() -> None:
    rested = by_ref(plan([win(EASY, days_ago(29))], SCENARIOS, TODAY))[EASY.ref]
    assert rested.kind == REST
    check_up = by_ref(plan([win(EASY, days_ago(30))], SCENARIOS, TODAY))[EASY.ref]
    assert (check_up.kind, check_up.due) == (REVIEW, TODAY)
    assert check_up.reason == "mastered 30 days ago: time for a check-up"


# -- the order --------------------------------------------------------------------------------


def test_the_order_is_retries_then_new_then_reviews_then_not_due_then_rests() -> None:
    entries = [
        shaky_win(EASY, days_ago(10)),                     # review due
        win(EASY_TOO, days_ago(3)),                        # rest
        session(MIDDLE, "timeout", days_ago(1)),           # retry due
        shaky_win(ADDED_EASY, TODAY),                      # review due tomorrow
    ]
    planned = plan(entries, SCENARIOS, TODAY)
    assert [(s.ref, s.kind) for s in planned] == [
        (MIDDLE.ref, RETRY), (HARD.ref, NEW), (EASY.ref, REVIEW), (ADDED_EASY.ref, REVIEW),
        (EASY_TOO.ref, REST),
    ]
    assert planned[3].reason == "shaky win today (2 hints): review tomorrow"


def test_when_nothing_is_due_what_comes_due_soonest_leads_and_rests_come_last() -> None:
    entries = [
        shaky_win(EASY, days_ago(1)), shaky_win(EASY, TODAY, number=2),       # due in 3 days
        shaky_win(MIDDLE, TODAY),                                             # due tomorrow
        *[session(HARD, "timeout", TODAY, number=n) for n in range(1, 4)],    # due in 2 days
        win(EASY_TOO, days_ago(20)),                                          # rests 10 more days
        win(ADDED_EASY, days_ago(25)),                                        # rests 5 more days
    ]
    planned = plan(entries, SCENARIOS, TODAY)
    assert [(s.ref, s.kind) for s in planned] == [
        (MIDDLE.ref, REVIEW), (HARD.ref, RETRY), (EASY.ref, REVIEW), (ADDED_EASY.ref, REST),
        (EASY_TOO.ref, REST),
    ]
    assert all(s.due > TODAY for s in planned)


def test_ties_are_broken_by_difficulty_then_pack_order_then_ref() -> None:
    same_day = days_ago(2)
    entries = [session(s, "timeout", same_day, number=n) for n, s in enumerate(reversed(SCENARIOS))]
    expected = [EASY.ref, EASY_TOO.ref, ADDED_EASY.ref, MIDDLE.ref, HARD.ref]
    assert refs(plan(entries, SCENARIOS, TODAY)) == expected


def test_the_plan_is_deterministic_whatever_order_the_scenarios_come_in() -> None:
    entries = [shaky_win(EASY, days_ago(5)), session(HARD, "timeout", days_ago(2)), win(MIDDLE, days_ago(1))]
    expected = plan(entries, SCENARIOS, TODAY)
    shuffler = random.Random(7)
    for _ in range(20):
        shuffled = SCENARIOS[:]
        shuffler.shuffle(shuffled)
        assert plan(entries, shuffled, TODAY) == expected


# -- awkward ledgers ------------------------------------------------------------------------------


def test_a_session_dated_in_the_future_counts_as_played_today() -> None:
    ahead = by_ref(plan([shaky_win(EASY, TODAY + timedelta(days=40))], SCENARIOS, TODAY))[EASY.ref]
    assert (ahead.kind, ahead.due) == (REVIEW, TODAY + timedelta(days=1))
    assert ahead.reason == "shaky win today (2 hints): review tomorrow"


def test_sessions_without_a_time_count_as_long_ago_and_what_they_make_due_is_due_today() -> None:
    planned = by_ref(plan([win(EASY, None), shaky_win(MIDDLE, None)], SCENARIOS, TODAY))
    assert (planned[EASY.ref].kind, planned[EASY.ref].due) == (REVIEW, TODAY)
    assert planned[EASY.ref].reason == "mastered at an unknown date: time for a check-up"
    assert (planned[MIDDLE.ref].kind, planned[MIDDLE.ref].due) == (REVIEW, TODAY)


def test_an_undated_line_is_the_last_session_and_the_days_count_from_the_last_dated_one() -> None:
    entries = [shaky_win(EASY, days_ago(10)), session(EASY, "timeout", None), session(EASY, "abandoned", None,
                                                                                        number=2)]
    suggestion = by_ref(plan(entries, SCENARIOS, TODAY))[EASY.ref]
    assert (suggestion.kind, suggestion.due) == (RETRY, days_ago(9))  # two losses in a row: a day's cool-down
    assert suggestion.reason == "lost 2 times in a row, last 10 days ago: cooled down, try again"


def test_a_line_without_a_pack_belongs_to_the_one_installed_scenario_of_its_id() -> None:
    packless = session("003-middle", "timeout", days_ago(1))
    assert by_ref(plan([packless], SCENARIOS, TODAY))[MIDDLE.ref].kind == RETRY
    twin = CampaignScenario("extra/003-middle", "Twin", 3, 1)
    assert {s.kind for s in plan([packless], [MIDDLE, twin], TODAY)} == {NEW}  # which one? neither


def write_ledger(path: Path, entries: list[LedgerEntry], *, garbage_at: int | None = None) -> Path:
    lines = [json.dumps(entry.line) for entry in entries]
    if garbage_at is not None:
        lines.insert(garbage_at, '{"session": "torn", "scenario": "003-mid')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_corrupted_line_is_skipped_and_the_rest_planned_as_without_it(tmp_path: Path) -> None:
    entries = [session(MIDDLE, "timeout", days_ago(3)), shaky_win(EASY, days_ago(2))]
    clean = read_ledgers([write_ledger(tmp_path / "clean.jsonl", entries)])
    torn = read_ledgers([write_ledger(tmp_path / "torn.jsonl", entries, garbage_at=1)])
    assert [(s.source.name, s.number) for s in torn.skipped] == [("torn.jsonl", 2)]
    assert plan(torn.entries, SCENARIOS, TODAY) == plan(clean.entries, SCENARIOS, TODAY)
    assert plan(torn.entries, SCENARIOS, TODAY)[0].ref == MIDDLE.ref


def test_two_merged_ledgers_are_one_campaign_in_the_order_played(tmp_path: Path) -> None:
    alice = write_ledger(tmp_path / "alice.jsonl", [session(MIDDLE, "timeout", days_ago(6)),
                                                    shaky_win(EASY, days_ago(1))])
    bob = write_ledger(tmp_path / "bob.jsonl", [win(MIDDLE, days_ago(4), player="bob"),
                                                session(EASY, "abandoned", days_ago(3), player="bob")])
    merged = by_ref(plan(read_ledgers([alice, bob]).entries, SCENARIOS, TODAY))
    # bob's win on MIDDLE came after alice's loss; alice's shaky win on EASY after bob's give-up
    assert merged[MIDDLE.ref].kind == REST
    assert (merged[EASY.ref].kind, merged[EASY.ref].due) == (REVIEW, TODAY)
    again = by_ref(plan(read_ledgers([bob, alice, bob]).entries, SCENARIOS, TODAY))
    assert again == merged


# -- what is installed, and this machine's suggestion -------------------------------------------


def test_installed_scenarios_come_from_the_list_with_their_pack_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from libreplay.packs import catalog

    official = use_official_pack(monkeypatch, tmp_path / "official", ["002-two"])
    write_scenario(official / "001-one", meta={"id": "001-one", "title": "One", "difficulty": 4})
    write_scenario(official / "003-broken", meta_text="{ not json")
    make_pack_repo(tmp_path / "extra", ["001-added"])
    catalog.add_pack(str(tmp_path / "extra"))
    installed = sorted(campaign.installed_scenarios(), key=lambda s: s.ref)
    assert installed == [
        CampaignScenario("extra/001-added", "Scenario 001-added", 2, 1),
        CampaignScenario("official/001-one", "One", 4, 0),
        CampaignScenario("official/002-two", "Official 002-two", 2, 0),
    ]


def test_suggest_next_plans_the_given_ledger_against_the_installed_packs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_official_pack(monkeypatch, tmp_path / "official", ["001-one", "002-two"])
    ledger = Ledgers([session("official/002-two", "timeout", days_ago(1))])
    suggestion = campaign.suggest_next(ledger, today=TODAY)
    assert suggestion is not None and (suggestion.ref, suggestion.kind) == ("official/002-two", RETRY)
    assert campaign.suggest_next(Ledgers(), today=TODAY) == Suggestion(
        "official/001-one", "Official 001-one", 2, NEW, "not played yet (difficulty 2)", TODAY)


def test_suggest_next_reads_this_machines_ledger_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from libreplay.core import paths

    use_official_pack(monkeypatch, tmp_path / "official", ["001-one", "002-two"])
    paths.ledger_path().parent.mkdir(parents=True, exist_ok=True)
    write_ledger(paths.ledger_path(), [win(CampaignScenario("official/001-one", "", 2, 0), date.today())])
    suggestion = campaign.suggest_next()
    assert suggestion is not None and suggestion.ref == "official/002-two"


# -- docs/progress.md's worked example ------------------------------------------------------------

EXAMPLE_LEDGER = Path(__file__).resolve().parents[2] / "docs" / "examples" / "ledger-alice.jsonl"
OFFICIAL_AS_IN_THE_EXAMPLE = [
    CampaignScenario(f"official/{scenario_id}", scenario_id, difficulty, 0)
    for scenario_id, difficulty in [
        ("001-nginx-502", 1), ("002-postgres-wont-start", 1), ("003-missing-env-var", 2),
        ("004-disk-full", 2), ("005-oom-kill", 2), ("006-sidekiq-cant-connect", 2),
        ("007-redis-oom-eviction", 3),
        ("008-migration-lock", 3), ("009-tls-cert-expired", 3), ("010-pool-exhausted", 3),
        ("011-too-many-open-files", 2),
    ]
]


def test_the_worked_example_in_the_docs() -> None:
    entries = read_ledgers([EXAMPLE_LEDGER]).entries
    planned = plan(entries, OFFICIAL_AS_IN_THE_EXAMPLE, date(2026, 11, 5))
    assert [(s.ref.removeprefix("official/")[:3], s.kind, s.due.isoformat()[5:]) for s in planned] == [
        ("008", RETRY, "11-04"), ("009", NEW, "11-05"), ("010", NEW, "11-05"), ("003", REVIEW, "10-14"),
        ("011", REVIEW, "10-18"), ("005", REVIEW, "10-26"), ("001", REST, "11-09"), ("002", REST, "11-17"),
        ("006", REST, "11-23"), ("007", REST, "11-27"), ("004", REST, "12-01"),
    ]
    assert planned[0].reason == "abandoned yesterday: try it again"
    # 008 abandoned three times in a row: due two days after, and the new 009 leads
    lost_again = [*entries, *(session("official/008-migration-lock", "abandoned", date(2026, 11, 4), number=n)
                              for n in (2, 3))]
    again = by_ref(plan(lost_again, OFFICIAL_AS_IN_THE_EXAMPLE, date(2026, 11, 5)))
    assert again["official/008-migration-lock"].due == date(2026, 11, 6)
    first = suggest(lost_again, OFFICIAL_AS_IN_THE_EXAMPLE, date(2026, 11, 5))
    assert first is not None and first.ref == "official/009-tls-cert-expired"
    # on 11-09, with 008, 009 and 010 won cleanly since: the reviews, then 001's check-up
    cleared = [*entries, *(win(s, date(2026, 11, 6)) for s in OFFICIAL_AS_IN_THE_EXAMPLE[7:10])]
    later = plan(cleared, OFFICIAL_AS_IN_THE_EXAMPLE, date(2026, 11, 9))
    assert [(s.ref[9:12], s.kind) for s in later[:4]] == [
        ("003", REVIEW), ("011", REVIEW), ("005", REVIEW), ("001", REVIEW)]
    assert later[3].reason == "mastered 30 days ago: time for a check-up"


def test_a_session_that_ended_in_error_teaches_nothing_and_is_left_out() -> None:
    """The watcher recorded an error (the scenario failed, not the trainee): outcome abandoned,
    status error. The plan goes on as if that session had not been played."""
    scenarios = [CampaignScenario("official/a", "A", 1, 0), CampaignScenario("official/b", "B", 2, 0)]
    failed = LedgerEntry({"scenario": "a", "pack": "official", "outcome": "abandoned", "status": "error",
                          "started_at": "2026-11-01T09:00:00+00:00"}, Path("l.jsonl"), 1)
    assert [s.kind for s in plan([failed], scenarios, date(2026, 11, 2))] == ["new", "new"]
    abandoned = LedgerEntry({**failed.line, "status": "abandoned"}, Path("l.jsonl"), 1)
    assert plan([abandoned], scenarios, date(2026, 11, 2))[0].kind == "retry"
