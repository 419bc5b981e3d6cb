"""What ``replaybook run`` offers after a miss: retry now (the same fault), the next suggestion,
or quit. Pure: a play's result in, an offer (or none) out; the command asks on the terminal.

A miss is a session the trainee played and did not fix in time: it timed out, or they gave it up
by leaving the shell or detaching. A stop signal (Ctrl-C, SIGTERM, SIGHUP) means "stop now", and
gets no question; neither does a session that ended in error (the scenario or the engine failed:
playing it again would fail again), one that never reached the clock, nor one kept up with
``--keep`` (its stack still holds the ports a new session would need). docs/progress.md,
"After a timeout or a give-up: retry, next, or quit".
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from dataclasses import dataclass

from libreplay.play.flow import PlayOptions, PlayResult
from libreplay.progress.campaign import Suggestion
from libreplay.session.state import ERROR, OUTCOME_ABANDONED, OUTCOME_TIMEOUT

ANSWER_SECONDS = 60.0  # no key by then: quit (a trainee who walked away leaves no run waiting)
MISSED = (OUTCOME_TIMEOUT, OUTCOME_ABANDONED)


class Answer(enum.Enum):
    RETRY = "r"
    NEXT = "n"
    QUIT = "q"


@dataclass(frozen=True)
class Offer:
    """The choices after a miss: ``retry`` plays the same scenario with the same fault;
    ``next`` is the campaign's suggestion (None: there is none, and no ``n`` is offered)."""

    retry: PlayOptions
    next: Suggestion | None = None

    @property
    def prompt(self) -> str:
        """The question, one line; the next scenario named by its title only (blind play)."""
        choices = ["[r] retry now (same fault)"]
        if self.next is not None:
            choices.append(f"[n] next: {self.next.title}")
        choices.append("[q] quit")
        return "  ".join(choices)

    def answer(self, key: str | None) -> Answer:
        """What a key means: ``r`` retry, ``n`` next (when offered); anything else — ``q``,
        Enter, Esc, Ctrl-C, another key — and no key at all (None: no terminal, its end, no
        answer in time) quit."""
        pressed = (key or "")[:1].lower()
        if pressed == Answer.RETRY.value:
            return Answer.RETRY
        if pressed == Answer.NEXT.value and self.next is not None:
            return Answer.NEXT
        return Answer.QUIT


def missed(result: PlayResult, options: PlayOptions) -> bool:
    """Whether ``result`` is a miss worth offering again (see the module's note)."""
    final = result.final
    if final is None or result.signum or result.terminal_gone or options.keep:
        return False
    if final.started_at is None or final.status == ERROR:
        return False
    return final.shown_outcome in MISSED


def offer_after(
    result: PlayResult, options: PlayOptions, suggest: Callable[[str], Suggestion | None],
) -> Offer | None:
    """The offer after the play of ``options`` ended in ``result``, or None when nothing is to
    be asked. ``suggest`` gives the campaign's suggestion other than the scenario whose ref it
    is given (the one just missed: a first miss is a retry due at once, the campaign's first,
    and ``r`` plays it already); it is called only when there is an offer."""
    if not missed(result, options):
        return None
    final = result.final
    assert final is not None
    fault = final.fault or options.fault  # the fault drawn, named so replay-break injects it
    retry = dataclasses.replace(options, fault=fault, title=options.title or final.title)
    played = f"{final.pack}/{final.scenario}" if final.pack else final.scenario  # as the ledger's ref
    return Offer(retry, suggest(played))
