"""replay-hud's adapter: an unknown session is a clear error, not a traceback."""

from __future__ import annotations

from typer.testing import CliRunner

from replaybook.commands import hud as hud_command

runner = CliRunner()


def test_unknown_session_exits_4_with_a_message() -> None:
    result = runner.invoke(hud_command.app, ["nosuch"])
    assert result.exit_code == 4
    assert "no session 'nosuch'" in result.output


def test_help_is_instant_and_names_the_options() -> None:
    result = runner.invoke(hud_command.app, ["--help"])
    assert result.exit_code == 0
    assert "--tmux" in result.output
