"""The official pack, every scenario and every fault variant, proven by `replaybook test`.

This is the same command a pack's own CI runs: for each fault, up (the healthy baseline
passes, and its guards), break (the check fails, the guards pass), the scripted fix, the check
passes and holds for the scenario's own hold (not the suite's one-second override), down.
Three cycles at a time (`-j 3`, each in a `replay-test` child): on the suite's 2 cores about half
the wall time of one after another (docs/benchmarks.md), with the same lines and summary.
"""

from __future__ import annotations

import pytest
from dockerkit import ROOT, run

from libreplay.packs.catalog import official_pack, scan_pack

pytestmark = pytest.mark.docker


def test_every_official_scenario_and_fault_passes_replaybook_test(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REPLAYBOOK_HOLD_SECONDS")
    scan = scan_pack(official_pack())
    assert scan.invalid == []
    expected = sum(len(s.faults) for s in scan.scenarios)
    result = run("replaybook", "test", "--all", str(ROOT / "packs" / "official"), "-j", "3", timeout=3600)
    lines = result.stdout.strip().splitlines()
    failures = [line for line in lines if not line.startswith("PASS ")]
    assert failures == [], result.stdout + result.stderr[-5000:]
    assert len(lines) == expected
    assert result.returncode == 0
    assert f"{expected} passed, 0 failed" in result.stderr
