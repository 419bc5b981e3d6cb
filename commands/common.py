"""What every command shares: the app factory, error handling, talk on stderr, data on stdout.

Command modules are thin adapters: parse arguments, call libreplay, render the result.
Library errors become ``Error: …`` on stderr and the exit status the error carries
(see libreplay.errors); a traceback is only ever shown for a bug, never for a user error.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from libreplay.errors import Interrupted, ReplayError

F = TypeVar("F", bound=Callable[..., Any])

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
SessionArgument = Annotated[
    str | None,
    typer.Argument(help="Session id. Read from stdin when omitted, so commands compose in a pipe."),
]


def make_app(help_text: str) -> typer.Typer:
    return typer.Typer(
        help=help_text,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )


def say(message: str) -> None:
    """Talk for the human: stderr, so that stdout stays data."""
    print(message, file=sys.stderr, flush=True)


def emit(text: str) -> None:
    """Data for the next command in a pipe."""
    print(text, flush=True)


def emit_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, default=str), flush=True)


def emit_session(state: Any, json_: bool) -> None:
    """A session for the next command: its id, or with --json its whole state."""
    if json_:
        emit_json(state.to_dict())
    else:
        emit(state.id)


def fail(error: ReplayError) -> typer.Exit:
    say(f"Error: {error.message}")
    if error.hint:
        say(f"Hint: {error.hint}")
    return typer.Exit(error.exit_code)


def handles_errors(function: F) -> F:
    """Turn library errors and interrupts into a message and an exit status."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _notice_orphans()
        try:
            return function(*args, **kwargs)
        except Interrupted as exc:
            say("Interrupted; cleaned up.")
            raise typer.Exit(exc.exit_code) from None
        except ReplayError as exc:
            raise fail(exc) from None
        except KeyboardInterrupt:
            say("Interrupted.")
            raise typer.Exit(130) from None
        except BrokenPipeError:
            # The reader of our stdout went away (`replay-list | head`): not an error of ours.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(0) from None

    return wrapper  # type: ignore[return-value]


def session_from(argument: str | None) -> str:
    """The session id given as an argument, else the last non-empty line of stdin."""
    if argument:
        return argument.strip()
    if sys.stdin is None or sys.stdin.isatty():
        raise typer.BadParameter("name a SESSION, or pipe one in (replay-up SCENARIO | …)")
    lines = [line.strip() for line in sys.stdin.read().splitlines() if line.strip()]
    if not lines:
        raise ReplayError("no session id on stdin: the command before this one in the pipe failed")
    return lines[-1]


def _notice_orphans() -> None:
    """Say on stderr when a session's owner died (SIGKILL) and left its stack behind."""
    if os.environ.get("REPLAYBOOK_NO_ORPHAN_NOTICE"):
        return
    from libreplay.owners import find_orphans

    orphans = find_orphans()
    if orphans:
        ids = ", ".join(orphans)
        say(f"Note: orphaned session(s) {ids}: their owner is gone. `replay-down --all` removes them.")
