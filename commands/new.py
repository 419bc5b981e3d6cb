"""replay-new: a new scenario in a pack, from a stack template, that passes `replaybook test` at once.

Every question is also a flag. In a terminal the questions not answered by a flag (or by the
post-mortem's draft) are asked; without one, a missing required answer (--title, --page) is a
usage error (exit 2) naming the flag, and the others take their defaults.
"""

from __future__ import annotations

import datetime
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from libreplay.authoring import choices
from libreplay.core.errors import Interrupted
from libreplay.core.text import inert
from replaybook.commands.common import JsonOption, emit, emit_json, handles_errors, make_app, say

if TYPE_CHECKING:
    from libreplay.authoring.scaffold import Answers

app = make_app("Write a new scenario from a stack template; it passes `replaybook test` as it is.")

TEMPLATE_HELP = "The stack: " + "; ".join(f"{name}: {what}" for name, what in choices.TEMPLATES.items())


def _template(value: str | None) -> str | None:
    if value is not None and value not in choices.TEMPLATES:
        raise typer.BadParameter(f"{value!r} is not a template: one of {', '.join(choices.TEMPLATES)}")
    return value


def _date(value: str | None) -> str | None:
    if value is not None and value.strip():
        try:
            datetime.date.fromisoformat(value.strip())
        except ValueError:
            raise typer.BadParameter(f"{value!r} is not a date: write YYYY-MM-DD") from None
    return value


@app.command()
@handles_errors
def new(
    scenario_id: Annotated[str, typer.Argument(metavar="ID", help="The scenario's id and directory name.")],
    *,
    pack: Annotated[Path, typer.Option("--pack", help="The pack's directory (default: here).")] = Path(),
    title: Annotated[str | None, typer.Option(help="A short title (required).")] = None,
    page: Annotated[
        str | None,
        typer.Option(help="The page the trainee is woken with: symptoms, never the cause (required)."),
    ] = None,
    difficulty: Annotated[
        int | None, typer.Option(min=1, max=5, help=f"1 to 5 (default {choices.DEFAULT_DIFFICULTY}).")
    ] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag (repeatable).")] = None,
    hint: Annotated[
        list[str] | None, typer.Option("--hint", help="A hint, nudge first (repeatable).")
    ] = None,
    objective: Annotated[
        list[str] | None, typer.Option("--objective", help="A learning objective (repeatable).")
    ] = None,
    date: Annotated[
        str | None, typer.Option(callback=_date, help="The incident's date, YYYY-MM-DD.")
    ] = None,
    reference: Annotated[str | None, typer.Option(help="The post-mortem or page it is drawn from.")] = None,
    template: Annotated[
        str | None, typer.Option(callback=_template, help=f"{TEMPLATE_HELP} (default blank).")
    ] = None,
    from_postmortem: Annotated[
        Path | None,
        typer.Option(
            "--from-postmortem", metavar="FILE", help="Draft the texts from a post-mortem in Markdown."
        ),
    ] = None,
    json_: JsonOption = False,
) -> None:
    """A new scenario ID from a stack template, passing `replaybook test` as it is.

    Prints its directory (--json: id, directory, template, warnings).
    Exit 2 for a missing --title/--page without a terminal, 3 for an invalid ID, an existing
    scenario, a directory that is not a pack or a post-mortem that cannot be read, 4 for a
    missing pack directory. Nothing is written unless the whole scenario is."""
    from libreplay.authoring import scaffold  # not for --help: it loads the template files

    scaffold.check_id(scenario_id)  # refused before any question is asked
    pack_dir = scaffold.pack_directory(pack)
    scaffold.refuse_existing(pack_dir, scenario_id)
    answers = scaffold.Answers(
        title=title, page=page, template=template, difficulty=difficulty, tags=tuple(tag or ()),
        hints=tuple(hint or ()), objectives=tuple(objective or ()), incident_date=date, reference=reference,
    )
    warnings: tuple[str, ...] = ()
    if from_postmortem is not None:
        from libreplay.authoring.postmortem import read_postmortem  # its rules compile on import

        draft = read_postmortem(from_postmortem)
        answers, warnings = scaffold.with_draft(answers, draft), draft.warnings
        for warning in warnings:
            say(f"Warning: {warning}")
    answers = _ask_missing(answers) if stdin_is_terminal() else _require_flags(answers)
    made = scaffold.create_scenario(pack_dir, scenario_id, answers, warnings=warnings)
    for note in made.warnings[len(warnings):]:  # what cleaning the texts changed
        say(f"Warning: {note}")
    if json_:
        emit_json({"id": made.id, "directory": str(made.directory), "template": made.template,
                   "warnings": list(made.warnings)})
    else:
        emit(str(made.directory))
    say(f"Made {made.directory} from the {made.template} template: it passes `replaybook test` as it is.")
    say(f"Next, in {pack_dir}: " + "   then   ".join(made.next_steps))


def stdin_is_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def _require_flags(answers: Answers) -> Answers:
    """Without a terminal nothing can be asked: a missing required answer is a usage error (2)."""
    if answers.missing():
        say(f"Error: {answers.missing()[0]} is required when stdin is not a terminal")
        say(f"Hint: pass {' and '.join(answers.missing())}, or run replaybook new in a terminal to be asked")
        raise typer.Exit(2)
    return answers


def _ask_missing(answers: Answers) -> Answers:
    """Ask, on stderr, every question no flag or draft answered; defaults shown where there are."""
    from libreplay.authoring.scaffold import Answers

    return Answers(
        title=answers.title or _ask("Title (short)"),
        page=answers.page or _ask("Page (what the on-call was sent: symptoms, never the cause)"),
        difficulty=answers.difficulty or _ask_int("Difficulty, 1 to 5", choices.DEFAULT_DIFFICULTY),
        tags=answers.tags or tuple(t.strip() for t in _ask("Tags, comma-separated", "").split(",")),
        hints=answers.hints or _ask_list("Hint"),
        objectives=answers.objectives or _ask_list("Learning objective"),
        incident_date=answers.incident_date or _ask_date(),
        reference=answers.reference or _ask("Post-mortem reference (a title, a URL)", ""),
        template=answers.template or _ask_template(),
        fix=answers.fix, why=answers.why, follow_ups=answers.follow_ups,
    )


def _ask(question: str, default: str | None = None) -> str:
    while True:
        try:
            answer: str = typer.prompt(inert(question, keep_newlines=False), default=default,
                                       show_default=bool(default), err=True)
        except typer.Abort:  # Ctrl-C or Ctrl-D at a question: nothing was written, exit as interrupted
            raise Interrupted(signal.SIGINT) from None
        if answer.strip() or default is not None:
            return answer.strip()


def _ask_int(question: str, default: int) -> int:
    while True:
        answer = _ask(question, str(default))
        if answer in {"1", "2", "3", "4", "5"}:
            return int(answer)
        say(f"{answer!r} is not a difficulty: a whole number from 1 to 5")


def _ask_list(what: str) -> tuple[str, ...]:
    """One answer per prompt until an empty one."""
    answers: list[str] = []
    while answer := _ask(f"{what} {len(answers) + 1} (empty to finish)", ""):
        answers.append(answer)
    return tuple(answers)


def _ask_date() -> str | None:
    while answer := _ask("Incident date, YYYY-MM-DD (empty if unknown)", ""):
        try:
            return datetime.date.fromisoformat(answer).isoformat()
        except ValueError:
            say(f"{answer!r} is not a date: write YYYY-MM-DD")
    return None


def _ask_template() -> str:
    for name, what in choices.TEMPLATES.items():
        say(f"  {name:<13} {what}")
    while (answer := _ask("Stack template", choices.DEFAULT_TEMPLATE)) not in choices.TEMPLATES:
        say(f"{answer!r} is not a template: one of {', '.join(choices.TEMPLATES)}")
    return answer


main = app
