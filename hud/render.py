"""The HUD's picture of a session: state in, lines out. Pure, so tests can call it directly.

:func:`render` turns a :class:`SessionState`, the current time and a width (and optionally
a height) into :class:`Line` objects, each a piece of plain text no wider than the width
plus a style name the drawer turns into colour. Every piece of scenario text is made
inert first (libreplay.core.text.inert), so nothing a pack wrote can reach the terminal raw,
and every line is made inert again on the way out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from libreplay.core.text import clock, inert, wrap
from libreplay.session import state as st
from libreplay.session.state import SessionState

TITLE = "== replaybook =="
MIN_WIDTH = 12
MIN_PAGE_LINES = 3  # when the pane is short, the page gives way first, but never below this
ELLIPSIS = "..."
WON_AND_STAYING = "the clock has stopped: look around, then exit the shell for the debrief"


class Line(NamedTuple):
    text: str
    style: str = ""  # "", "bold", "dim", "green", "red", "yellow"


@dataclass(frozen=True)
class Layout:
    """How the trainee reaches the other services: tmux windows (run) or commands (standalone)."""

    in_tmux: bool = False
    prefix: str = "C-b"
    hint_key: str | None = None  # e.g. "h": C-b h asks for a hint
    windows: dict[str, int] = field(default_factory=dict)  # service -> tmux window index


def other_services(state: SessionState) -> list[str]:
    return [s for s in state.services if s != state.shell_service]


def tmux_windows(state: SessionState) -> dict[str, int]:
    """The window numbers ``replaybook run`` gives the other services: 1, 2, … in order."""
    return {service: index for index, service in enumerate(other_services(state), start=1)}


def render(
    state: SessionState,
    now: datetime,
    width: int,
    height: int | None = None,
    layout: Layout | None = None,
) -> list[Line]:
    """Every line of the HUD for a pane ``width`` columns wide (and ``height`` rows, if known)."""
    width = max(width, MIN_WIDTH)
    layout = layout or Layout()
    head = [Line(TITLE[:width], "bold"), Line("")]
    page = _incident(state, width)
    rest = [Line(""), *_status(state, now, width, layout), *_hints(state, width, layout)]
    rest += _services(state, width, layout)
    if height is not None:
        page = _fit_page(page, height - len(head) - len(rest), width)
    lines = head + page + rest
    return _inert_lines(lines[:height] if height is not None else lines)


# -- sections ---------------------------------------------------------------------------------


def _incident(state: SessionState, width: int) -> list[Line]:
    lines = [Line("INCIDENT:", "bold")]
    title = inert(state.title, keep_newlines=False).strip()
    if title:
        lines += [Line(text, "bold") for text in wrap(title, width)]
    page = inert(state.page).strip()
    if page:
        lines += [Line(text) for text in wrap(page, width)]
    elif not title:
        lines.append(Line("(waiting for the page)", "dim"))
    return lines


def _fit_page(page: list[Line], room: int, width: int) -> list[Line]:
    """Shorten the incident so the status and hints stay on screen in a short pane."""
    if len(page) <= room:
        return page
    keep = max(room, MIN_PAGE_LINES + 1)  # the heading plus a few lines of the page
    return [*page[: keep - 1], Line(ELLIPSIS[:width], "dim")]


def _status(state: SessionState, now: datetime, width: int, layout: Layout) -> list[Line]:
    label, style = status_label(state, now)
    warnings = guard_warnings(state)
    if warnings:
        # A guard failing says what the trainee destroyed, before anything else; the state stays
        # visible under it.
        lines = _lines(f"STATUS: {warnings[0]}", width, "red")
        for warning in warnings[1:]:
            lines += _lines(warning, width, "red")
        lines += _lines(f"({label}: no win while a guard fails)", width, style)
    else:
        lines = _lines(f"STATUS: {label}", width, style)
    lines += _lines(_hold_news(state), width, "yellow")
    lines += [Line(text, style if style == "red" else "") for text in wrap(sla_text(state, now), width)]
    lines += _lines(costs_text(state), width, "yellow")
    if state.fixed_late_at is not None and state.status == st.TIMEOUT:
        late = clock(state.seconds_on_the_clock(state.fixed_late_at))
        lines += [Line(text, "yellow") for text in wrap(f"fixed late, at {late}", width)]
    if state.status == st.ERROR and state.error:
        lines += [Line(text, "red") for text in wrap(inert(state.error), width)]
    if state.status == st.RESOLVED and layout.in_tmux:
        # replaybook run keeps the workspace open after a win, until the trainee leaves.
        lines += _lines(WON_AND_STAYING, width, "dim")
    return lines


def status_label(state: SessionState, now: datetime) -> tuple[str, str]:
    """The word after STATUS: and its colour; an active session turns red at its deadline.

    A verifying session does not: a fix that landed in time and holds is a win
    (docs/scenario-format.md, "Fair wins").
    """
    if state.status == st.VERIFYING:
        return verifying_label(state, now), state.meaning.style
    shown = st.meaning_of(st.TIMEOUT) if state.meaning.on_the_clock and state.breached(now) else state.meaning
    return shown.label, shown.style


def verifying_label(state: SessionState, now: datetime) -> str:
    """The status while verifying, "VERIFYING… 4 s of 15 s": how long the fix has held so far
    (live: the HUD redraws every second) and how long it must."""
    held = f"{state.meaning.label}… {math.floor(state.held_seconds(now))} s"
    return f"{held} of {state.hold_seconds} s" if state.hold_seconds > 0 else held


def guard_warnings(state: SessionState) -> list[str]:
    """A warning naming what each guard failing now protects, while the clock runs (the watcher
    runs the guards only then, so after it what ``guards_failing`` holds is no longer news)."""
    if not state.meaning.on_the_clock:
        return []
    messages = (inert(message, keep_newlines=False).strip() for message in state.guards_failing)
    return [f"WARNING - {message or 'a guard is failing'}" for message in messages]


def _hold_news(state: SessionState) -> str:
    """What the hold is doing (while verifying), or why the last one failed (back to active)."""
    if state.status == st.VERIFYING:
        return inert(state.verify_note, keep_newlines=False).strip()
    if state.status == st.ACTIVE and state.relapses > 0:
        # The watcher words the note for the trainee ("the fix did not hold: the check failed
        # again after 4 s"); it is shown as it is.
        return inert(state.relapse_note, keep_newlines=False).strip() or "the fix did not hold"
    return ""


def costs_text(state: SessionState) -> str:
    """What the session has cost besides time and hints (each costs points: docs/scoring.md)."""
    costs = []
    if state.relapses:
        costs.append(f"relapses: {state.relapses}")
    if state.guards_tripped:
        costs.append(f"guards tripped: {len(state.guards_tripped)}")
    return ", ".join(costs)


def sla_text(state: SessionState, now: datetime) -> str:
    minutes = clock(state.sla_seconds)
    if state.meaning.before_the_clock or state.deadline is None:
        return f"SLA: {minutes} (starts with the break)"
    if state.status == st.RESOLVED:
        return f"SLA: met, fixed in {clock(state.seconds_on_the_clock(state.resolved_at))}"
    if state.status == st.VERIFYING and state.verifying_since is not None:
        # The time that counts is the hold's start: the clock is as good as stopped, if it holds.
        return f"SLA: {clock(remaining_seconds(state, state.verifying_since))} left when the fix landed"
    if state.status == st.TIMEOUT or state.breached(now):
        return f"SLA: BREACHED ({minutes} elapsed)"
    if state.meaning.on_the_clock:
        return f"SLA: {clock(remaining_seconds(state, now))} remaining"
    return f"SLA: {minutes}"


def remaining_seconds(state: SessionState, now: datetime) -> int:
    # Round up: "00:01 remaining" until the very last moment, never a premature 00:00.
    return math.ceil(state.remaining_seconds(now))


def _hints(state: SessionState, width: int, layout: Layout) -> list[Line]:
    if state.meaning.before_the_clock:
        # How many hints there are is known once the break has drawn its fault (a fault may
        # bring hints of its own), and none is given before the clock starts.
        return [Line(text, "dim") for text in wrap("HINTS: once the incident starts", width)]
    lines = [Line(text) for text in wrap(f"HINTS: {state.hints_used} / {state.hints_total} used", width)]
    if state.hints_total == 0:
        lines += [Line(text, "dim") for text in wrap("this scenario has no hints", width)]
    elif state.hints_used >= state.hints_total:
        lines += [Line(text, "dim") for text in wrap("no hints left", width)]
    elif not state.terminal:
        ask = "run get-hint for a hint"
        if layout.in_tmux and layout.hint_key:
            ask += f" (or {layout.prefix} {layout.hint_key})"
        lines += [Line(""), *(Line(text, "dim") for text in wrap(ask, width))]
    for number, hint in enumerate(state.hints_revealed, start=1):
        lines.append(Line(""))
        lines += [Line(text, "yellow") for text in wrap(inert(hint), width, f"{number}. ", "   ")]
    return lines


def _services(state: SessionState, width: int, layout: Layout) -> list[Line]:
    others = other_services(state)
    if not others:
        return []
    lines = [Line(""), *(Line(text, "bold") for text in wrap("other services:", width))]
    windows = layout.windows or tmux_windows(state)
    for service in others:
        name = inert(service, keep_newlines=False)
        if layout.in_tmux:
            entry = f"{layout.prefix} {windows.get(service, '?')}  {name}"
        else:
            entry = f"replay-shell {state.id} {name}"
        lines += [Line(text) for text in wrap(entry, width, "  ", "    ")]
    if layout.in_tmux:
        lines += [Line(text, "dim") for text in wrap(f"back to the shell: {layout.prefix} 0", width, "  ")]
    return lines


# -- helpers ----------------------------------------------------------------------------------


def _lines(text: str, width: int, style: str) -> list[Line]:
    """``text`` wrapped to ``width``, every line in ``style``; nothing for no text."""
    return [Line(line, style) for line in wrap(text, width)] if text else []


def _inert_lines(lines: list[Line]) -> list[Line]:
    """The guarantee: no line leaves render with anything a terminal would act on or hide.

    The sections already clean each field before wrapping it (so that widths are right); this
    pass covers whatever a future section forgets.
    """
    return [Line(inert(line.text, keep_newlines=False), line.style) for line in lines]
