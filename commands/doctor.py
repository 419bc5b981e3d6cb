"""replay-doctor: check this machine (Docker, Compose v2, tmux, git, disk, base image); --fix repairs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from libreplay.core.table import table_lines
from replaybook.commands.common import JsonOption, emit, emit_json, handles_errors, make_app, say

if TYPE_CHECKING:
    from libreplay.host import doctor

app = make_app("Check that this machine can run scenarios, and say the exact command that fixes what is not.")


@app.command()
@handles_errors
def doctor_(
    fix: Annotated[
        bool,
        typer.Option("--fix", help="Run the fix commands for what is missing (each printed), re-check."),
    ] = False,
    json_: JsonOption = False,
    tests: Annotated[
        bool,
        typer.Option("--tests", help="Also what replaybook's own test suite needs (chromium, chromedriver)."),
    ] = False,
) -> None:
    """Check Docker, Compose v2, tmux, git, xterm.js (serve), debootstrap, free disk and the base
    image; exit 1 if something required is missing. `--fix` runs each fix command (printed on stderr)
    and re-checks."""
    from libreplay.host import doctor

    report = doctor.examine(tests=tests)
    if fix and report.fixes():
        say(_fixing_notice(report))
        for command, status in doctor.apply_fixes(report, say):
            if status != 0:
                say(f"Fix failed (exit status {status}): {command}")
        say("Checking again ...")
        report = doctor.examine(tests=tests)
    elif fix:
        say("Nothing to fix.")
    if json_:
        emit_json(report.as_dict())
    else:
        for line in render(report):
            emit(line)
    if not report.ok:
        if not fix:
            again = "replaybook doctor --fix --tests" if tests else "replaybook doctor --fix"
            say(f"Something required is missing: `{again}` runs the fix commands above.")
        raise typer.Exit(1)


def _fixing_notice(report: doctor.Report) -> str:
    count = len(report.fixes())
    return f"Running {count} fix command(s); each is printed before it runs."


STATUS_WIDTH = 7  # the widest status, "missing": the names line up whatever a report holds


def render(report: doctor.Report) -> list[str]:
    """One row per finding (status, name, detail), its fix on a row of its own under it."""
    from libreplay.host import doctor

    rows = []
    for finding in report.findings:
        rows.append((finding.status, finding.name, finding.detail))
        if finding.fix and finding.status != doctor.OK:
            rows.append(("", "", f"fix: {finding.fix}"))
    return table_lines(rows, min_widths=(STATUS_WIDTH,))


main = app
