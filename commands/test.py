"""replaybook test: up, baseline, break, check fails, solve, check passes, down — per fault."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from replaybook.commands.common import JsonOption, emit, emit_json, handles_errors, make_app, say
from replaybook.commands.trust import YesOption, admit

if TYPE_CHECKING:
    from libreplay.scenario.model import Fault, Scenario
    from libreplay.session.cycle import CycleResult
    from libreplay.session.parallel import PlannedCycle

app = make_app("Prove scenarios work: one full cycle per fault variant, on the real engine.")


@app.command()
@handles_errors
def test(  # noqa: PLR0917 - one parameter per option
    scenario: Annotated[
        str | None,
        typer.Argument(help="Scenario id, pack/id or directory; with --all, a pack or pack directory."),
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Every scenario of a pack (default: every pack).")
    ] = False,
    fault: Annotated[str | None, typer.Option(help="Only this fault variant.")] = None,
    jobs: Annotated[
        int,
        typer.Option("--jobs", "-j", min=0, help="Cycles run side by side, each in a child process "
                     "(0: one per core, plus one). Default 1: one after another."),
    ] = 1,
    yes: YesOption = False,
    json_: JsonOption = False,
) -> None:
    """One line per cycle; the failing step and its output on failure. Exit 1 if any cycle failed.
    --all validates everything before running anything and runs every scenario even after a failure.
    A pack not yet trusted at its commit is shown and asked about first (--yes trusts it; without a
    terminal, exit 7 and nothing runs). With -j N, N cycles run at a time: each line still names its
    scenario and fault, lines come as cycles end, --json lists the results in the serial order;
    cycles that publish one host port, or a scenario's cycles before its images are built, never
    overlap."""
    from libreplay.packs import catalog as packs
    from libreplay.session import cycle as testing

    if all_:
        scenarios = testing.scenarios_to_test(scenario)
    elif scenario:
        scenarios = [packs.resolve_scenario(scenario)]
    else:
        raise typer.BadParameter("name a SCENARIO, or use --all [PACK]")
    for found in scenarios:  # every pack answered for before the first cycle runs anything
        admit(found, yes=yes)
    cycles = [(found, variant) for found in scenarios for variant in testing.cycles_of(found, fault)]
    at_a_time = _jobs(jobs)
    if at_a_time > 1 and len(cycles) > 1:
        results = _side_by_side(cycles, at_a_time, json_)
    else:
        results = _one_by_one(cycles, json_)
    failed = [r for r in results if not r.ok]
    say(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if json_:
        emit_json([r.__dict__ for r in results])
    if failed:
        raise typer.Exit(1)


def _jobs(asked: int) -> int:
    """-j 0: as many as the machine suits (libreplay.session.parallel.auto_jobs)."""
    from libreplay.session.parallel import auto_jobs

    return asked or auto_jobs()


def _one_by_one(cycles: list[tuple[Scenario, Fault]], json_: bool) -> list[CycleResult]:
    from libreplay.session import cycle as testing

    results: list[CycleResult] = []
    for found, variant in cycles:
        say(f"testing {found.ref} [{variant.name}] …")
        result = testing.run_cycle(found, variant, on_progress=lambda _line: None)
        results.append(result)
        _report(result, json_)
    return results


def _side_by_side(cycles: list[tuple[Scenario, Fault]], jobs: int, json_: bool) -> list[CycleResult]:
    """Each cycle in a child: this very command for one scenario and fault, with --json."""
    from libreplay.play.steps import find_executable
    from libreplay.session import parallel

    executable = find_executable("replay-test")

    def argv_of(cycle: PlannedCycle) -> list[str]:
        return [executable, str(cycle.scenario.directory), "--fault", cycle.fault.name, "--json"]

    def started(cycle: PlannedCycle) -> None:
        say(f"testing {cycle.scenario.ref} [{cycle.fault.name}] …")

    return parallel.run_side_by_side(parallel.plan(cycles), jobs, argv_of,
                                     on_start=started, on_result=lambda result: _report(result, json_))


def _report(result: CycleResult, json_: bool) -> None:
    timing = " ".join(f"{name}={seconds:.1f}s" for name, seconds in result.steps)
    if result.ok:
        line = f"PASS {result.scenario} [{result.fault}] {result.seconds:.1f}s ({timing})"
    else:
        line = f"FAIL {result.scenario} [{result.fault}] at {result.failed_step}: {result.detail}"
    if json_:
        say(line)
    else:
        emit(line)


main = app
