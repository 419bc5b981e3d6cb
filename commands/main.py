"""replaybook (alias replay): the dispatcher. `replaybook X …` is exactly `replay-X …`.

It implements nothing itself; `replaybook run` lives in its own module (commands/run.py)
like every other command. It imports a command's module only when that command runs (or its
own `--help` is asked): `replaybook --help` prints the commands from the static table below,
so it costs what the interpreter and typer cost, not what every command's libraries cost.
tests/cli/test_cli_commands.py keeps the table equal to the modules and to pyproject's scripts.
"""

from __future__ import annotations

import difflib
import importlib
from typing import NamedTuple

import typer
from typer import _click  # typer vendors click (a copy of 8.3): its classes, not the click package's
from typer.core import TyperGroup

from replaybook.commands.common import make_app


class Entry(NamedTuple):
    name: str  # the subcommand: `replaybook NAME` is `replay-NAME`
    module: str  # under replaybook.commands; defines `app` with exactly one command
    short_help: str  # the command's own short help (its first sentence), shown by `replaybook --help`


COMMANDS: tuple[Entry, ...] = (
    Entry("run", "run", "Bring SCENARIO up, break it, open the shell and HUD in tmux; debrief and "
                        "tear down at the end."),
    Entry("next", "next_", "Play the scenario the campaign suggests now, exactly as `replaybook run "
                           "--next` does."),
    Entry("list", "list_", "List scenarios: ID, difficulty and title; `--json` for scripts."),
    Entry("add", "add", "Clone SOURCE as a pack (a second add updates it) and show its scenarios."),
    Entry("remove", "remove", "Remove PACK: its clone and its record."),
    Entry("packs", "packs", "List packs: name, source, ref, commit and scenario count; `--json` for "
                            "scripts."),
    Entry("validate", "validate", "Validate scenarios; exits 3 if any is invalid."),
    Entry("doctor", "doctor", "Check Docker, Compose v2, tmux, git, xterm.js (serve), debootstrap, free disk "
                              "and the base image; exit 1 if something required is missing."),
    Entry("base-image", "base_image", "Ensure the base image exists: if present say so, else docker pull, "
                                      "else build it from the Debian archive with debootstrap (as root) "
                                      "and docker import."),
    Entry("up", "up", "Create a session: build and start the stack (`docker compose up --build --wait` "
                      "under the project `replaybook-<session>`), prove the success check passes, print "
                      "the session id."),
    Entry("break", "break_", "Break a ready session (SESSION from stdin when omitted); print its id."),
    Entry("check", "check", "Exit 0 when fixed (resolved), 1 otherwise."),
    Entry("hint", "hint", "Print the next hint and count it; exit 1 (and say so) when none are left."),
    Entry("down", "down", "A session still being played is recorded as abandoned."),
    Entry("test", "test", "One line per cycle; the failing step and its output on failure."),
    Entry("hud", "hud", "Draw the HUD full-screen until the session ends (q or Ctrl-C leaves when run on "
                        "its own)."),
    Entry("shell", "shell", "Enter SERVICE's container with docker exec; while it is not running, says so "
                            "and waits."),
    Entry("replay", "replay", "Play SESSION's transcript (one window of it); Ctrl-C stops, space pauses "
                              "(asciinema play)."),
    Entry("sessions", "sessions", "List the sessions whose stacks are up."),
    Entry("stats", "stats", "Per scenario: sessions, wins, best and median time to fix, hints, best score, "
                            "last played; totals; and what to play next, and why (what `replaybook next` "
                            "suggests)."),
    Entry("export", "export", "Write the ledger's sessions on stdout in the order played: JSON Lines, or "
                              "CSV with a header."),
    Entry("trust", "trust", "List every script the pack runs on this machine (with its size) and every "
                            "service it starts, then ask whether to trust the pack at this commit."),
    Entry("new-pack", "new_pack", "Start a scenario pack in DIR: a git repository with a Makefile, a "
                                  "README and CI."),
    Entry("new", "new", "A new scenario ID from a stack template, passing `replaybook test` as it is."),
    Entry("dev", "dev", "Bring SCENARIO up and break it; beside a shell in the stack, a console shows the "
                        "check (passing or failing, since when) and validates the directory at every "
                        "change."),
    Entry("report", "report", "Write a self-contained HTML report of the ledger: charts, tables, every "
                              "session."),
    Entry("serve", "serve", "Serve training days in the browser until Ctrl-C (or SIGTERM), which tears down "
                            "every session it started."),
)
_BY_NAME = {entry.name: entry for entry in COMMANDS}


def load_command(entry: Entry) -> _click.Command:
    """The click command `replay-NAME` runs: built from the module's app the same way, so the
    callback, options and help are the executable's own."""
    module = importlib.import_module(f"replaybook.commands.{entry.module}")
    command = typer.main.get_command(module.app)
    command.name = entry.name
    return command


class LazyCommands(TyperGroup):
    """The group of every command, importing one only when it is asked for."""

    def __init__(self, **attrs: object) -> None:
        super().__init__(**attrs)  # type: ignore[arg-type]
        self.loaded: dict[str, _click.Command] = {}

    def list_commands(self, ctx: _click.Context) -> list[str]:
        return [entry.name for entry in COMMANDS]

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        entry = _BY_NAME.get(cmd_name)
        if entry is None:
            return None
        if cmd_name not in self.loaded:
            self.loaded[cmd_name] = load_command(entry)
        return self.loaded[cmd_name]

    def format_commands(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        """The commands section from the table, shortened as click shortens a command's help."""
        limit = formatter.width - 6 - max(len(entry.name) for entry in COMMANDS)
        rows = [(entry.name, _click.utils.make_default_short_help(entry.short_help, limit))
                for entry in COMMANDS]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def resolve_command(
        self, ctx: _click.Context, args: list[str]
    ) -> tuple[str | None, _click.Command | None, list[str]]:
        """TyperGroup's, with "Did you mean …" drawn from the table (it looks in `self.commands`,
        which stays empty here)."""
        try:
            return self._click_resolve_command(ctx, args)
        except _click.exceptions.UsageError as error:
            matches = difflib.get_close_matches(args[0], list(_BY_NAME)) if args else []
            if matches:
                suggestions = ", ".join(repr(match) for match in matches)
                error.message = f"{error.message.rstrip('.')}. Did you mean {suggestions}?"
            raise


def build() -> typer.Typer:
    dispatcher = make_app("replaybook: fix real, broken services before the SLA runs out.")
    dispatcher.info.cls = LazyCommands

    @dispatcher.callback()
    def commands() -> None:
        # A callback makes typer build a group (of class LazyCommands) with no command registered.
        pass

    return dispatcher


def main() -> None:
    build()()
