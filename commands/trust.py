"""replay-trust: show what a pack runs on this machine and trust it at its current commit.

Also the one place the other adapters ask: :func:`admit` before a session first runs a pack's
code (replay-up, replay-run, replay-test), :func:`offer` after replay-add fetched a commit.
The question is asked only when stdin is a terminal; ``--yes`` answers it; otherwise the run
stops with PackUntrusted (exit 7), whose message says what to run. See libreplay/packs/trust.py.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from replaybook.commands.common import JsonOption, confirm, emit_json, handles_errors, make_app, say

if TYPE_CHECKING:
    from libreplay.packs import trust
    from libreplay.packs.catalog import Pack
    from libreplay.scenario.model import Scenario

app = make_app("Show what a pack runs on this machine, and trust it at the commit checked out.")

YesOption = Annotated[
    bool,
    typer.Option("--yes", "-y", help="Trust the pack at its current commit without asking "
                                     "(its scripts run on this machine as you)."),
]


@app.command("trust")
@handles_errors
def trust_command(
    pack: Annotated[str, typer.Argument(help="The pack's name, as replay-packs lists it.")],
    yes: YesOption = False,
    json_: JsonOption = False,
) -> None:
    """List every script the pack runs on this machine (with its size) and every service it
    starts, then ask whether to trust the pack at this commit. An update that moves the commit
    asks again. Exit 7 when the pack stays untrusted (no answer, or no terminal without --yes)."""
    from libreplay.packs import catalog as packs
    from libreplay.packs import trust

    found = packs.get_pack(pack)
    if found.official:
        say("The official pack ships with replaybook and is always trusted.")
        return
    summary = trust.summarize(found)
    if json_:
        emit_json({**summary.to_dict(), "trusted": trust.is_trusted(found, commit=summary.commit)})
    if trust.is_trusted(found, commit=summary.commit):
        say(f"Pack {summary.pack} is trusted at {summary.short_commit}.")
        return
    if not _decide(found, summary, yes=yes, show=not json_):
        raise trust.not_trusted(found, refused=stdin_is_terminal())


def admit(scenario: Scenario, *, yes: bool) -> None:
    """Before a scenario's code first runs: its pack is trusted, or is trusted now, or this stops.

    Raises PackUntrusted (exit 7) when the answer is no, or when nobody can be asked.
    """
    from libreplay.packs import trust

    pack = trust.untrusted_pack(scenario)
    if pack is None:
        return
    if yes:
        record = trust.trust(pack)
        say(f"Trusted pack {trust.shown(pack.name)} at {trust.short(record.commit)} (--yes): "
            "its scripts run on this machine as you.")
        return
    if not stdin_is_terminal():
        raise trust.not_trusted(pack)
    if not _decide(pack, trust.summarize(pack), yes=False, show=True):
        raise trust.not_trusted(pack, refused=True)


def offer(pack: Pack, *, yes: bool) -> None:
    """replay-add's offer: show what the pack runs and trust it at the commit just fetched.

    Without a terminal and without --yes the pack just stays untrusted; the first run asks.
    """
    from libreplay.packs import trust

    summary = trust.summarize(pack)
    if trust.is_trusted(pack, commit=summary.commit):
        say(f"Pack {summary.pack} is trusted at {summary.short_commit}.")
        return
    if _decide(pack, summary, yes=yes, show=True):
        return
    command = f"replay-trust {trust.shown(pack.name)}"
    say(f"Pack {summary.pack} is not trusted at {summary.short_commit}: its first run will ask "
        f"(or `{command}` now; `{command} --yes` without asking).")


def stdin_is_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def _decide(pack: Pack, summary: trust.TrustSummary, *, yes: bool, show: bool) -> bool:
    """Show the summary, then trust with --yes, ask a terminal, or (no terminal) leave it; True if trusted."""
    from libreplay.packs import trust

    if show:
        for line in summary.lines():
            say(line)
    if not yes and not (stdin_is_terminal() and _ask(summary)):
        return False
    trust.trust(pack, commit=summary.commit)  # the commit that was shown, not whatever is there now
    say(f"Trusted pack {summary.pack} at {summary.short_commit}.")
    return True


def _ask(summary: trust.TrustSummary) -> bool:
    question = f"Trust {summary.pack} at {summary.short_commit} and run its scripts on this machine?"
    try:
        return confirm(question, default=False)
    except typer.Abort as abort:
        # click turns Ctrl-C and end of input into Abort: Ctrl-C stays an interrupt (exit 130).
        if isinstance(abort.__context__, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        return False


main = app
