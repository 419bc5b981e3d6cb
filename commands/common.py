"""What every command shares: the app factory, error handling, talk on stderr, data on stdout.

Command modules are thin adapters: parse arguments, call libreplay, render the result.
Library errors become ``Error: …`` on stderr and the exit status the error carries
(see libreplay.core.errors); a traceback is only ever shown for a bug, never for a user error.

Everything a command prints goes through :func:`say`, :func:`emit`, :func:`emit_json` or
:func:`table_lines`, and each makes its text inert (libreplay.core.text.inert): titles, hints, file
names, field values, script and container output come from packs and containers, which must not
be able to drive the reader's terminal. ``--json`` carries inert text as well, because JSON is as
often piped to a terminal (``| jq .`` prints strings decoded) as to a program; the values a
program needs (ids, numbers, times, ordinary text and paths) are unchanged by it. The JSON text
itself is plain ASCII: whatever non-ASCII survives is written as a ``\\uXXXX`` escape.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import os
import stat
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from libreplay.core import table
from libreplay.core.errors import Interrupted, ReplayError
from libreplay.core.text import inert

if TYPE_CHECKING:
    from libreplay.session.ledger import Ledgers

F = TypeVar("F", bound=Callable[..., Any])

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
# Blind play (docs/terminal.md): what a trainee sees names neither the scenario nor the fault.
RevealOption = Annotated[
    bool,
    typer.Option("--reveal", help="Author's view: name the scenario and the fault, show Compose's output."),
]
PlayerOption = Annotated[
    str | None,
    typer.Option(help="Who plays, as the ledger records it (default: your user name)."),
]
LedgerOption = Annotated[
    list[Path] | None,
    typer.Option("--ledger", metavar="FILE",
                 help="Read this ledger instead of yours; give it again to merge several (a team's)."),
]
SessionArgument = Annotated[
    str | None,
    typer.Argument(help="Session id. Read from stdin when omitted, so commands compose in a pipe."),
]


def make_app(help_text: str) -> typer.Typer:
    _text_without_pydantic()
    _spare_the_collector_what_was_imported()
    return typer.Typer(
        help=help_text,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )


def _spare_the_collector_what_was_imported() -> None:
    """Keep the cyclic garbage collector from walking, again and again and once more at exit,
    the tens of thousands of objects typer and the modules imported so far are made of: they live
    as long as the process (module contents, classes, functions), and no collection could free
    them. ``gc.freeze`` moves them out of its reach (what Python documents it for, at a program's
    start); objects made after this are collected as ever. A command's start-up and exit cost
    ~8 ms less CPU for it (benchmarks/cli_startup.py, docs/benchmarks.md)."""
    gc.freeze()


def _text_without_pydantic() -> None:
    """Let text parameters and flags skip pydantic, which costs ``replay-list`` a third of its time.

    typer 0.29 coerces a parameter's value through a pydantic TypeAdapter that it builds the
    first time the command runs, even for an option left out. Text and flags need no coercion
    (typer's own adapter for ``str`` only decodes bytes, which argv never holds), so they get
    typer's pass-through coercion instead (:func:`_needs_no_coercion`), which returns a value of
    the declared type unchanged; other types keep their adapters. Applied once.

    Both names are typer's private API, and pyproject allows any typer from 0.29 on: rather than
    pin typer below its next release, a typer without them gets no bypass, and every parameter
    goes through pydantic as typer means it to (correct, only slower)."""
    try:
        from typer._coercion import PassThroughRuntimeParam
        from typer.core import _TyperParameter
    except ImportError:
        return
    build = getattr(_TyperParameter, "get_runtime_param", None)
    if build is None:
        return
    if getattr(build, "text_without_pydantic", False):
        return

    def get_runtime_param(self: _TyperParameter) -> Any:
        described = self.type_descriptor
        if self._runtime_param is None and _needs_no_coercion(self):
            self._runtime_param = PassThroughRuntimeParam(parameter_info=described.parameter_info,
                                                          annotation=described.annotation)
        return build(self)

    get_runtime_param.text_without_pydantic = True  # type: ignore[attr-defined]
    _TyperParameter.get_runtime_param = get_runtime_param  # type: ignore[method-assign]


def _needs_no_coercion(parameter: Any) -> bool:
    """Plain text, or a flag (``--help`` and ``--json`` among them): argv gives a ``str`` and
    the flag a ``bool`` already, unless it is read from an environment variable."""
    described = parameter.type_descriptor
    special = described.parameter_info.parser is not None or described.is_path or described.is_choice \
        or described.is_file
    flag = described.annotation is bool and parameter.is_flag and not parameter.envvar
    return not special and (described.annotation is str or flag)


def say(message: str) -> None:
    """Talk for the human: stderr, so that stdout stays data."""
    print(inert(message), file=sys.stderr, flush=True)


def emit(text: str) -> None:
    """Data for the next command in a pipe."""
    print(inert(text), flush=True)


def emit_lines(lines: Sequence[str]) -> None:
    """Lines of data (a table), written at once: one write for thousands of rows, not one each."""
    sys.stdout.write("".join(f"{inert(line)}\n" for line in lines))
    sys.stdout.flush()


def silence() -> None:
    """Point stdout and stderr at /dev/null: the terminal is closed (SIGHUP), and writing to it
    would only fail, or stop the process on a blocked write."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            os.dup2(devnull, stream.fileno())
    os.close(devnull)


def confirm(question: str, *, default: bool = False) -> bool:
    """A yes/no question on stderr (typer's prompt), its text inert: it may quote a pack's names."""
    return typer.confirm(inert(question, keep_newlines=False), default=default, err=True)


def emit_json(data: Any) -> None:
    """``data`` as JSON on stdout, every string in it (keys too) inert; see the module's note."""
    plain = json.loads(json.dumps(data, default=str))  # dataclass fields, paths, times: strings
    print(json.dumps(_inert_strings(plain), indent=2, sort_keys=True, ensure_ascii=True), flush=True)


def _inert_strings(value: Any) -> Any:
    if isinstance(value, str):
        return inert(value)
    if isinstance(value, list):
        return [_inert_strings(item) for item in value]
    if isinstance(value, dict):
        return {inert(key): _inert_strings(item) for key, item in value.items()}
    return value


def table_lines(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A plain table for stdout: the header, a rule of dashes, one line per row, every cell
    inert (the one renderer, libreplay.core.table, which the library's summaries use too)."""
    return table.table_lines(rows, header=header)


def emit_session(state: Any, json_: bool) -> None:
    """A session for the next command: its id, or with --json its whole state."""
    if json_:
        emit_json(state.to_dict())
    else:
        emit(state.id)


def end_of_data() -> None:
    """Nothing more goes to stdout: a pipe's reader (replay-break after replay-up, replay-check
    after replay-break) sees the end now instead of when this process has finished exiting.
    Only a pipe is let go early; a terminal, a file or a test's capture is left as it is.
    The pipe is replaced by /dev/null rather than closed: a closed descriptor 1 would be the next
    file this process opens, and anything printed later would land in that file."""
    sys.stdout.flush()
    try:
        descriptor = sys.stdout.fileno()
        is_pipe = stat.S_ISFIFO(os.fstat(descriptor).st_mode)
    except (OSError, ValueError):  # not a real descriptor (io.UnsupportedOperation is an OSError)
        return
    if is_pipe:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, descriptor)  # our end of the pipe goes: the reader sees its end now
        os.close(devnull)


def fail(error: ReplayError) -> typer.Exit:
    say(f"Error: {error.message}")
    if error.hint:
        say(f"Hint: {error.hint}")
    return typer.Exit(error.exit_code)


def handles_errors(function: F) -> F:
    """Turn library errors and interrupts into a message and an exit status."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            _notice_orphans()
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


def _any_session() -> bool:
    """Whether a session directory may exist: without one there is no orphan, and the session
    library (a tenth of ``replay-list``'s time) need not be loaded to say so."""
    from libreplay.core.paths import sessions_dir

    try:
        with os.scandir(sessions_dir()) as entries:
            return any(True for _ in entries)
    except FileNotFoundError:
        return False
    except OSError:
        return True  # unreadable: let find_orphans decide


def _notice_orphans() -> None:
    """Say on stderr when a session's owner died (SIGKILL) and left its stack behind."""
    if os.environ.get("REPLAYBOOK_NO_ORPHAN_NOTICE") or not _any_session():
        return
    from libreplay.session.owners import find_orphans

    try:
        orphans = find_orphans()
    except ReplayError:
        return  # a damaged home must not stop the command itself (replay-sessions names it)
    if orphans:
        ids = ", ".join(orphans)
        say(f"Note: orphaned session(s) {ids}: their owner is gone. `replay-down --all` removes them.")


SKIPPED_LINES_SHOWN = 5  # per ledger: a file of garbage gets a count, not a page of warnings


def read_ledgers(files: Sequence[Path] | None) -> Ledgers:
    """The ledgers ``--ledger`` named (none: this machine's), each line a reader cannot use
    named on stderr as a warning (file and line number); the files are never written."""
    from libreplay.session.ledger import read_ledgers as read

    ledgers = read(files or ())
    shown: dict[Path, int] = {}
    for skipped in ledgers.skipped:
        shown[skipped.source] = shown.get(skipped.source, 0) + 1
        if shown[skipped.source] <= SKIPPED_LINES_SHOWN:
            say(f"warning: {skipped}")
    for source, count in shown.items():
        if count > SKIPPED_LINES_SHOWN:
            say(f"warning: {source}: {count - SKIPPED_LINES_SHOWN} more lines skipped")
    if ledgers.repeated:
        say(f"note: {ledgers.repeated} session line(s) met more than once were counted once")
    return ledgers
