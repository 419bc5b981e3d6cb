"""Every command that reads a ledger, on one no writer would make: warnings and figures, never a
traceback, and the ledger untouched."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from libreplay.core import paths

BIN = Path(sys.executable).parent
SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "ledger-alice.jsonl"
DAMAGE = (
    b'{"scenario": "001-nginx-502", "pack": "official", "outcome": "success", "score": '
    + b"9" * 5000 + b"}\n"
    + b"[" * 100_000 + b"\n"
    + b'{"scenario": "001-nginx-502", "pack": "official", "outcome": "success", "score": 1' + b"0" * 400
    + b', "elapsed_seconds": 1e999, "hints_used": 1e308}\n'
    + b'{"scenario": "002-postgres-wont-start", "pack": "official", "outcome": "timeout",'
      b' "started_at": "9999-12-31T23:59:59-01:00"}\n'
    + b'{"scenario": "\x1b]0;owned\x07003", "pack": "official", "outcome": "abandoned",'
      b' "started_at": "0001-01-01T00:00:00+01:00", "player": "\x1b[2Jeve"}\n'
    # Figures any float holds, but whose sums, means and ratios would not: each twice, so that
    # they meet in a sum or a mean.
    + b'{"scenario": "004-disk-full", "pack": "official", "outcome": "timeout", "elapsed_seconds": 1e308,'
      b' "hints_used": 1e308}\n' * 2
    + b'{"scenario": "004-disk-full", "pack": "official", "outcome": "success", "elapsed_seconds": 1e308,'
      b' "sla_seconds": 900, "score": -1e308}\n' * 2
    + b'{"scenario": "005-oom-kill", "pack": "official", "outcome": "success", "elapsed_seconds": 60,'
      b' "sla_seconds": 5e-324, "hints_used": -1e308}\n' * 2
    # A list nested deeper than a writer of ours recurses (the decoder took it).
    + b'{"scenario": "006-sidekiq-cant-connect", "pack": "official", "outcome": "success",'
      b' "guards_tripped": ' + b"[" * 900 + b"]" * 900 + b"}\n"
    + b'{"session": "torn", "scenario": "004-di'
)
EXTRA_LINES = 7  # the lines above between the fifth and the torn one


@pytest.fixture
def damaged(tmp_path: Path) -> Path:
    ledger = paths.ledger_path()
    ledger.parent.mkdir(parents=True, exist_ok=True)
    ledger.write_bytes(SAMPLE.read_bytes() + DAMAGE)
    return ledger


@pytest.mark.parametrize("argv", [
    ["replay-stats"], ["replay-stats", "--json"], ["replay-next", "--show"], ["replay-next", "--json"],
    ["replay-export"], ["replay-export", "--format", "csv"], ["replay-report", "--html", "{out}"],
])  # fmt: skip
def test_a_damaged_ledger_gives_warnings_not_a_traceback(
    damaged: Path, tmp_path: Path, argv: list[str]
) -> None:
    before = damaged.read_bytes()
    command = [str(BIN / argv[0]), *(arg.format(out=tmp_path / "report.html") for arg in argv[1:])]
    done = subprocess.run(command, capture_output=True, timeout=120, check=False)
    talk = done.stderr.decode(errors="replace")
    assert done.returncode == 0, talk
    assert "Traceback" not in talk
    lines = len(SAMPLE.read_bytes().splitlines())
    for number in (lines + 1, lines + 2, lines + 6 + EXTRA_LINES):  # the two beyond JSON, the torn last
        assert f"line {number}: skipped" in talk, talk
    assert b"\x1b" not in done.stdout + done.stderr  # the escape sequences came out inert
    assert b"Infinity" not in done.stdout and b"NaN" not in done.stdout
    assert damaged.read_bytes() == before
