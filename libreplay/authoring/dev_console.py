"""The dev console's picture and its keys: what ``replaybook dev`` shows beside the author's
shell. Pure, so tests call it directly; libreplay/authoring/dev.py feeds it and acts on it.

:func:`render` turns a :class:`ConsoleView` (the check's reading, the source's validation,
the last action and its output) into :class:`Line` objects no wider than the pane, each with a
style name the drawer turns into colour; every piece of text a scenario or a script wrote is
made inert. :func:`dispatch` says what a key asks for, or why it is refused now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from libreplay.core.text import clock, inert, wrap

TITLE = "== replaybook dev =="
MIN_WIDTH = 20

# What a key asks for.
BREAK = "break"  # run the fault again on the running stack, with the current files
REBUILD = "rebuild"  # down, build, up, break: the stack from scratch
SOLVE = "solve"  # run the fault's solve script
NEXT_FAULT = "next fault"  # the next fault of the scenario, for the next break
QUIT = "quit"  # tear everything down
INTERRUPT = "interrupt"  # Ctrl-C: the same, as a stop signal to replaybook dev

KEYS = {"b": BREAK, "r": REBUILD, "s": SOLVE, "f": NEXT_FAULT, "q": QUIT, "\x03": INTERRUPT}
# Keys that act on the stack: one at a time, off the drawing loop.
STACK_ACTIONS = frozenset({BREAK, REBUILD, SOLVE})
KEY_LINES = (
    "b  break again (current files)",
    "r  rebuild and restart, then break",
    "s  run the fault's solve script",
    "f  next fault",
    "q  quit: tear it all down",
    "Here, or C-b + key in the shell.",
)


class Line(NamedTuple):
    text: str
    style: str = ""  # "", "bold", "dim", "green", "red", "yellow"


@dataclass(frozen=True)
class CheckReading:
    """The success check as last run: passing, failing, or no answer (``passing`` None: the
    check could not run, or is paused while the stack is rebuilt; ``note`` says which)."""

    passing: bool | None
    since: datetime  # when it began to answer what it answers now
    checked_at: datetime | None = None  # when the run that gave it started
    note: str = ""


@dataclass(frozen=True)
class Validation:
    """The scenario directory as last validated, and what changed in it that the running stack
    cannot take without a rebuild."""

    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    at: datetime | None = None  # None: not validated yet
    rebuild: tuple[str, ...] = ()  # build inputs changed since the stack was built
    gone: bool = False  # the directory itself was removed

    @property
    def valid(self) -> bool:
        return self.at is not None and not self.problems and not self.gone


@dataclass(frozen=True)
class ActionNews:
    """An action the console ran (or runs): how it went, and the tail of its output."""

    name: str
    started: datetime
    ended: datetime | None = None
    ok: bool | None = None  # None while it runs
    summary: str = ""
    output: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConsoleView:
    session_id: str
    title: str
    check_what: str  # "check.sh" or the URL the probe fetches
    fault: str
    faults: tuple[str, ...]
    check: CheckReading
    validation: Validation = field(default_factory=Validation)
    action: ActionNews | None = None
    notice: str = ""  # one line: a refused key, a progress line of the running action


@dataclass(frozen=True)
class Decision:
    """What a key asks for (``action`` None: nothing) and, when it is refused, why."""

    action: str | None
    refusal: str = ""


def dispatch(key: str, *, busy: str | None) -> Decision:
    """The action ``key`` asks for. A stack action while another one runs is refused (they
    would tread on each other's containers); quitting and choosing a fault never are."""
    action = KEYS.get(key.lower() if key.isalpha() else key)
    if action is None:
        return Decision(None)
    if action in STACK_ACTIONS and busy is not None:
        return Decision(None, f"{busy} is still running: {action} refused")
    return Decision(action)


def next_fault(faults: tuple[str, ...], current: str) -> str:
    """The fault after ``current`` (the first after the last, or when it is gone)."""
    if not faults:
        return current
    if current not in faults:
        return faults[0]
    return faults[(faults.index(current) + 1) % len(faults)]


def status_text(reading: CheckReading, now: datetime) -> tuple[str, str]:
    """The check's word and its style: PASSING (green), FAILING (red), or the note (yellow)."""
    if reading.passing is None:
        return (reading.note or "NO ANSWER").upper(), "yellow"
    return ("PASSING", "green") if reading.passing else ("FAILING", "red")


def since_text(moment: datetime, now: datetime) -> str:
    """``since 08:01:02 (12 s)``: the local clock time, and how long ago."""
    seconds = max(0, int((now - moment).total_seconds()))
    ago = f"{seconds} s" if seconds < 120 else clock(seconds)
    return f"since {moment.astimezone().strftime('%H:%M:%S')} ({ago})"


def render(view: ConsoleView, now: datetime, width: int, height: int | None = None) -> list[Line]:
    """Every line of the console for a pane ``width`` columns wide (``height`` rows, if known):
    the keys always stay at the bottom; what does not fit above them is cut."""
    width = max(width, MIN_WIDTH)
    body = [Line(TITLE[:width], "bold"), *_text(view.title, width, "bold"),
            *_text(f"session {view.session_id}  fault: {_fault_text(view)}", width, "dim"), Line(""),
            *_check(view, now, width), Line(""), *_source(view.validation, width)]
    if view.action is not None:
        body += [Line(""), *_action(view.action, now, width)]
    if view.notice:
        body += [Line(""), *_text(view.notice, width, "yellow")]
    keys = [Line("KEYS", "bold"), *(Line(text[:width], "dim") for text in KEY_LINES)]
    if height is not None:
        body = body[: max(0, height - len(keys) - 1)]
    every = [*body, Line(""), *keys]
    return [Line(inert(line.text, keep_newlines=False)[:width], line.style) for line in every]


# -- sections ---------------------------------------------------------------------------------


def _fault_text(view: ConsoleView) -> str:
    if len(view.faults) > 1 and view.fault in view.faults:
        return f"{view.fault} ({view.faults.index(view.fault) + 1}/{len(view.faults)})"
    return view.fault


def _check(view: ConsoleView, now: datetime, width: int) -> list[Line]:
    word, style = status_text(view.check, now)
    lines = [Line(f"CHECK: {word}", style), Line(f"  {since_text(view.check.since, now)}")]
    lines += _text(view.check_what, width, "dim", indent="  ")
    return lines


def _source(validation: Validation, width: int) -> list[Line]:
    if validation.gone:
        return [Line("SOURCE: GONE", "red"), *_text("the scenario directory was removed", width, "", "  ")]
    if validation.at is None:
        return [Line("SOURCE: validating...", "dim")]
    at = validation.at.astimezone().strftime("%H:%M:%S")
    if validation.problems:
        count = len(validation.problems)
        lines = [Line(f"SOURCE: INVALID, {count} problem{'s' if count > 1 else ''} ({at})", "red")]
        for problem in validation.problems:
            lines += [Line(text, "red") for text in wrap(inert(problem), width, "- ", "  ")]
    else:
        lines = [Line(f"SOURCE: valid ({at})", "green")]
    for warning in validation.warnings:
        lines += [Line(text, "yellow") for text in wrap(inert(warning), width, "! ", "  ")]
    if validation.rebuild:
        lines.append(Line("REBUILD NEEDED (r): changed", "yellow"))
        lines += _text(", ".join(validation.rebuild), width, "yellow", indent="  ")
    return lines


def _action(news: ActionNews, now: datetime, width: int) -> list[Line]:
    if news.ok is None:
        seconds = max(0, int((now - news.started).total_seconds()))
        lines = [Line(f"{news.name.upper()}: running... {seconds} s", "yellow")]
    else:
        ended = news.ended or now
        took = (ended - news.started).total_seconds()
        word, style = ("done", "green") if news.ok else ("FAILED", "red")
        lines = [Line(f"{news.name.upper()}: {word} in {took:.1f} s "
                      f"({ended.astimezone().strftime('%H:%M:%S')})", style)]
    lines += _text(news.summary, width, "", indent="  ")
    for output in news.output:
        lines += [Line(text, "dim") for text in wrap(inert(output, keep_newlines=False), width, "| ", "| ")]
    return lines


def _text(text: str, width: int, style: str, indent: str = "") -> list[Line]:
    return [Line(line, style) for line in wrap(inert(text), width, indent, indent)] if text else []
