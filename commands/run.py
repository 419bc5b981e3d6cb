"""replay-run (replaybook run): play a scenario end to end in a tmux workspace.

The flow is the library's (libreplay/play/flow.py), composing the single executables as
subprocesses as a trainee could by hand (docs/terminal.md); this adapter checks the terminal,
asks about tmux and the pack's trust, shows the debrief, and after a miss offers to play again
(libreplay/play/offer.py decides what to offer; the key is read here). `replaybook next`
(commands/next_.py) plays through :func:`play` too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import select
import shutil
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from libreplay.core.errors import EnvironmentProblem, Interrupted, ReplayError
from libreplay.core.text import inert
from replaybook.commands.common import (
    PlayerOption,
    confirm,
    emit,
    handles_errors,
    make_app,
    read_ledgers,
    say,
    silence,
)
from replaybook.commands.trust import YesOption, admit

if TYPE_CHECKING:
    from libreplay.play.choice import Choice
    from libreplay.play.flow import PlayOptions, PlayResult
    from libreplay.play.offer import Answer, Offer
    from libreplay.progress.campaign import Suggestion

app = make_app("Play a scenario: break it, fix it in a real shell against the SLA, get a debrief.")

# The options every play shares (`replaybook next` takes them too).
SlaOption = Annotated[int | None, typer.Option(help="SLA in minutes (default: the scenario's).")]
KeepOption = Annotated[bool, typer.Option("--keep", help="Leave the stack up afterwards.")]
NoSplitOption = Annotated[
    bool, typer.Option("--no-split", help="No tmux: the shell in this terminal, the HUD elsewhere.")
]
TrackOption = Annotated[
    str | None, typer.Option(help="The campaign walks this track only, new scenarios in its order "
                                  "(replaybook list --tracks; with run, goes with --next).")
]
KEYS_READ_AT_ONCE = 64  # an arrow key or a paste arrives whole; only its first character counts


@app.command()
@handles_errors
def run(  # noqa: PLR0917 - one parameter per option
    scenario: Annotated[str | None, typer.Argument(help="Scenario id, pack/id or directory.")] = None,
    sla: SlaOption = None,
    fault: Annotated[str | None, typer.Option(help="The fault to inject (default: drawn at random).")] = None,
    keep: KeepOption = False,
    no_split: NoSplitOption = False,
    random_: Annotated[bool, typer.Option("--random", help="Play a scenario drawn at random.")] = False,
    tag: Annotated[str | None, typer.Option(help="With --random: only scenarios with this tag.")] = None,
    next_: Annotated[bool, typer.Option("--next", help="Play the scenario the campaign suggests "
                                                       "(replaybook next --show names it).")] = False,
    track: TrackOption = None,
    yes: YesOption = False,
    player: PlayerOption = None,
) -> None:
    """Bring SCENARIO up, break it, open the shell and HUD in tmux; debrief and tear down at the end."""
    _check_choice(scenario, random_=random_, tag=tag, next_=next_, fault=fault, track=track)
    play(lambda: _choose(scenario, random_, tag, next_=next_, player=player, track=track),
         sla=sla, fault=fault, keep=keep, no_split=no_split, yes=yes, player=player, track=track)


def play(
    choose: Callable[[], Choice], *, sla: int | None, fault: str | None, keep: bool, no_split: bool,
    yes: bool, player: str | None, command: str = "run", track: str | None = None,
) -> None:
    """Play what ``choose`` picks, offer again after each miss, and exit with the last play's
    status: `replaybook run` and `replaybook next` alike (``command``: which, for its messages)."""
    from libreplay.play.flow import PlayOptions

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise EnvironmentProblem(
            f"replaybook {command} is interactive and needs a terminal (stdin/stdout are not a tty)",
            hint="to script a session use replay-up | replay-break | replay-check --watch; replay-down",
        )
    if player is not None:
        from libreplay.session.ledger import check_player

        check_player(player)  # before anything is built
    chosen = choose()
    admit(chosen.scenario, yes=yes)  # asked here, once: replay-up then finds the pack trusted
    if not no_split and shutil.which("tmux") is None:
        from libreplay.play.workspace import install_hint

        say("tmux is not installed: " + install_hint() + ".")
        if not confirm("Play without tmux now (--no-split)?"):
            raise EnvironmentProblem("tmux is not installed")
        no_split = True
    options = PlayOptions(chosen.name, sla=sla, fault=fault, keep=keep, split=not no_split,
                          title=chosen.scenario.title, player=player, track=track)
    result = _play_until_quit(options, yes=yes)
    if result.signum:
        raise Interrupted(result.signum)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def _check_choice(scenario: str | None, *, random_: bool, tag: str | None, next_: bool,
                  fault: str | None, track: str | None = None) -> None:
    """What to play is named one way only; checked before the terminal, so a typo in the
    command line is told as such."""
    if track is not None and not next_:
        raise typer.BadParameter("--track goes with --next: the campaign walks the track")
    if next_ and (scenario or random_):
        raise typer.BadParameter("--next plays the campaign's suggestion: name no SCENARIO and "
                                 "leave out --random")
    if next_ and (tag or fault):
        raise typer.BadParameter("--next plays the campaign's suggestion as it is: "
                                 "--tag and --fault go with --random or a SCENARIO")
    if scenario and random_:
        raise typer.BadParameter("name a SCENARIO or use --random, not both")
    if not (scenario or random_ or next_):
        raise typer.BadParameter("name a SCENARIO (replay-list shows them), or use --random or --next")


def _choose(scenario: str | None, random_: bool, tag: str | None, *, next_: bool = False,
            player: str | None = None, track: str | None = None) -> Choice:
    """What run plays (the command line already checked by :func:`_check_choice`)."""
    from libreplay.play import choice

    if scenario:
        return choice.named(scenario)  # a typo fails here, before anything is built
    if next_:
        return suggested_choice(player=player, track=track)
    chosen = choice.drawn(tag)
    say(f"Drawn at random: {chosen.scenario.title}")  # blind play: never the id (docs/terminal.md)
    return chosen


def suggested_choice(
    suggestion: Suggestion | None = None, *, player: str | None = None, track: str | None = None,
) -> Choice:
    """The campaign's suggestion (``suggestion``, else asked now of the ledger, ``player``'s
    sessions only when one is named, on ``track`` only when one is), announced by its title and
    reason (blind play)."""
    from libreplay.play import choice

    chosen = choice.suggested(
        suggestion or choice.suggestion(read_ledgers(None), player=player, track=track)
    )
    say(f"Next: {chosen.scenario.title} ({chosen.reason})" if chosen.reason
        else f"Next: {chosen.scenario.title}")
    return chosen


# -- playing, and the offer after a miss ------------------------------------------------------------


def _play_until_quit(options: PlayOptions, *, yes: bool) -> PlayResult:
    """Play ``options``; after each miss, offer to retry it, to play the next suggestion, or to
    quit (docs/progress.md). The last play's result."""
    from libreplay.play.offer import Answer, offer_after

    while True:
        result = _play_once(options)
        offer = offer_after(
            result, options, functools.partial(_suggestion_or_none, options.player, options.track)
        )
        if offer is None:
            return result
        answer = _ask(offer)
        if answer is Answer.RETRY:
            options = offer.retry
        elif answer is Answer.NEXT and offer.next is not None:
            chosen = suggested_choice(offer.next)
            admit(chosen.scenario, yes=yes)
            options = dataclasses.replace(options, scenario=chosen.name, fault=None,
                                          title=chosen.scenario.title)
        else:
            return result


def _play_once(options: PlayOptions) -> PlayResult:
    from libreplay.play.flow import Play
    from libreplay.play.steps import CommandSteps

    result = Play(options, CommandSteps(), on_say=say, on_news=_news).run()
    if result.terminal_gone:
        silence()  # the terminal is closed: writing to it would only fail
    for line in result.debrief:
        emit(line)
    return result


def _suggestion_or_none(player: str | None, track: str | None, excluding: str) -> Suggestion | None:
    """The campaign's suggestion for the offer's ``n``: its first scenario other than the one
    just missed (``excluding``, which ``r`` plays again), from the ledger as it is now, the miss
    in it. None when there is none or it cannot be had (then the offer leaves ``n`` out rather
    than failing the run over it)."""
    from libreplay.play import choice

    try:
        return choice.suggestion(read_ledgers(None), player=player, excluding=excluding, track=track)
    except ReplayError:
        return None


def _ask(offer: Offer) -> Answer:
    """The offer on the terminal, answered by one key (see Offer.answer for what each means).
    A stop signal while it waits raises Interrupted, the terminal restored: the run ends as
    any stopped run does (128 + the signal), not with the miss's status."""
    from libreplay.play.offer import ANSWER_SECONDS

    _talk("\n")  # before raw mode, where a newline would not return the carriage
    try:
        key = read_key(ANSWER_SECONDS, prompt=f"{inert(offer.prompt, keep_newlines=False)} ")
    except Interrupted as stop:
        if stop.signum == signal.SIGHUP:
            silence()  # the terminal is gone
        _talk("\n")
        raise
    answer = offer.answer(key)
    _talk("(no answer: quitting)\n" if key is None else f"{answer.value}\n")
    return answer


def read_key(timeout: float, *, prompt: str = "") -> str | None:
    """Show ``prompt`` (on stderr), then one key from the terminal on stdin, without Enter; None
    when stdin is not a terminal, has ended, or no key came within ``timeout`` seconds.

    Everything is in place before the prompt shows, so a key pressed the moment it does is
    read: SIGTERM and SIGHUP (and a SIGINT sent from elsewhere) raise Interrupted, the terminal
    is raw, and keys typed before (during the teardown) are discarded, not taken as answers.
    The terminal's mode is restored on every path (libreplay.core.terminal.raw_mode)."""
    from libreplay.core.terminal import raw_mode

    try:
        descriptor = sys.stdin.fileno()
    except (AttributeError, ValueError, OSError):
        descriptor = -1
    if descriptor < 0 or not os.isatty(descriptor):
        _talk(prompt)
        return None
    with raw_mode(descriptor, discard_typed=True, signals_raise=True):
        _talk(prompt)
        ready, _, _ = select.select([descriptor], [], [], timeout)
        if not ready:
            return None
        try:
            keys = os.read(descriptor, KEYS_READ_AT_ONCE)
        except OSError:  # the terminal went away
            return None
        return keys.decode(errors="replace") or None


def _talk(text: str) -> None:
    """Part of a line on stderr (the question waits on its line for the key)."""
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(text)
        sys.stderr.flush()


def _news(text: str) -> None:
    """News while the shell (in raw mode) owns this terminal: a line of its own, \\r\\n ended."""
    sys.stderr.write(f"\r\n*** {inert(text, keep_newlines=False)} ***\r\n")
    sys.stderr.flush()


main = app
