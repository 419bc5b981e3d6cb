"""replaybook (alias replay): the dispatcher. `replaybook X …` is exactly `replay-X …`.

It re-registers each executable's one command under one group and implements nothing
itself; `replaybook run` lives in its own module (commands/run.py) like every other command.
"""

from __future__ import annotations

import importlib

import typer

from replaybook.commands.common import make_app

# (subcommand, module under replaybook.commands). Each module defines `app` with one command.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("run", "run"),
    ("list", "list_"),
    ("add", "add"),
    ("remove", "remove"),
    ("packs", "packs"),
    ("validate", "validate"),
    ("doctor", "doctor"),
    ("base-image", "base_image"),
    ("up", "up"),
    ("break", "break_"),
    ("check", "check"),
    ("hint", "hint"),
    ("down", "down"),
    ("test", "test"),
    ("hud", "hud"),
    ("shell", "shell"),
    ("replay", "replay"),
    ("sessions", "sessions"),
    ("trust", "trust"),
    ("new-pack", "new_pack"),
    ("new", "new"),
    ("dev", "dev"),
)


def build() -> typer.Typer:
    dispatcher = make_app("replaybook: fix real, broken services before the SLA runs out.")
    for name, module_name in COMMANDS:
        module = importlib.import_module(f"replaybook.commands.{module_name}")
        info = module.app.registered_commands[0]  # each module's app has exactly one
        dispatcher.command(name, help=info.help)(info.callback)
    return dispatcher


def main() -> None:
    build()()
