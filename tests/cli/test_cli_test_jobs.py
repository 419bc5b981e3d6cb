"""`replaybook test -j N`: the option as the command line sees it (no engine needed)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from replaybook.commands.main import build


def test_help_names_the_jobs_option_and_what_zero_means() -> None:
    result = CliRunner().invoke(build(), ["test", "--help"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "--jobs" in text and "-j" in text
    assert "0: one per core, plus one" in text


def test_a_negative_jobs_is_bad_usage() -> None:
    result = CliRunner().invoke(build(), ["test", "--all", "-j", "-1"])
    assert result.exit_code == 2


def test_jobs_do_not_skip_validation_before_anything_runs(tmp_path: Path) -> None:
    """An invalid scenario in the pack stops the run before any child starts (exit 3)."""
    pack = tmp_path
    (pack / "broken").mkdir()
    (pack / "broken" / "meta.json").write_text('{"id": "broken"}')
    result = CliRunner().invoke(build(), ["test", "--all", str(pack), "-j", "3"])
    assert result.exit_code == 3
    assert "broken/" in result.stderr
