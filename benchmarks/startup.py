"""Start-up to a playable session against the raw-Compose floor, on warm images.

Ours: `replay-up SCENARIO | replay-break --fault F`, one shell pipe as a trainee types it,
timed from spawn until replay-break exits (the session is broken, proven broken, and its
clock runs). The floor: the scenario's own compose file brought up by hand under a project of
the benchmark's, `docker compose -p <project> up -d --build --wait`, then the same fault
applied by hand as its break steps say (`docker compose cp`, `exec -T`, `restart`) or its
script runs (with COMPOSE_PROJECT_NAME, COMPOSE_FILE and SCENARIO_DIR set). Nothing proves the
floor's baseline or its break: that is what ours adds, and must hide in the waits.

Images are warmed first (one untimed run of each), then the runs alternate ours and raw, so a
busy moment of the machine falls on both alike. Ours' stderr lines are stamped as they arrive,
which gives the per-step breakdown. Everything made is torn down after each run and on every
exit path, Ctrl-C and SIGTERM included: ours with `replay-down --all` in the benchmark's own
REPLAYBOOK_HOME, raw with `docker compose down` and by its project label; the raw images are
removed at the end.

Usage: .venv/bin/python benchmarks/startup.py [--runs 7] [--scenario 001-nginx-502] [--fault NAME]
Figures are written down in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from cli_startup import percentile  # the same nearest-rank percentile (this directory is on the path)

from libreplay.packs.catalog import resolve_scenario
from libreplay.scenario.model import Fault, Scenario

BIN = Path(sys.executable).parent
RAW_PROJECT = f"replaybook-bench-raw-{os.getpid()}"
PROJECT_LABEL = "com.docker.compose.project"
STEP_TIMEOUT_SECONDS = 300

# Ours' steps, each ending at the first stderr line that matches (in order); the last step ends
# when replay-break exits.
MILESTONES: tuple[tuple[str, str], ...] = (
    ("process start, trust, model, snapshot", "starting "),
    ("compose build", " Creating"),
    ("compose up --wait", "__last_compose_line__"),
    ("after the wait: get-hint, baseline, guards", "is up and healthy"),
    ("handoff to replay-break", "injecting "),
    ("inject, break proof, guards", "is broken"),
)


# -- the two contenders ------------------------------------------------------------------------


def run_ours(scenario: Scenario, fault: Fault) -> tuple[float, list[tuple[float, str]]]:
    """Seconds from spawn to a playable session, and ours' stderr lines, stamped from spawn."""
    up = [str(BIN / "replay-up"), str(scenario.directory)]
    brk = [str(BIN / "replay-break"), "--fault", fault.name]
    start = time.perf_counter()
    first = subprocess.Popen(up, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    second = subprocess.Popen(brk, stdin=first.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert first.stdout is not None
    first.stdout.close()  # replay-break holds the pipe now
    lines: list[tuple[float, str]] = []
    readers = [threading.Thread(target=_stamp, args=(p, start, lines)) for p in (first, second)]
    for reader in readers:
        reader.start()
    second.wait(timeout=STEP_TIMEOUT_SECONDS)
    elapsed = time.perf_counter() - start
    first.wait(timeout=STEP_TIMEOUT_SECONDS)
    for reader in readers:
        reader.join()
    if first.returncode or second.returncode:
        said = "\n".join(text for _, text in sorted(lines))
        raise SystemExit(f"ours failed (up {first.returncode}, break {second.returncode}):\n{said}")
    return elapsed, sorted(lines)


def _stamp(process: subprocess.Popen[bytes], start: float, lines: list[tuple[float, str]]) -> None:
    assert process.stderr is not None
    for raw in process.stderr:
        lines.append((time.perf_counter() - start, raw.decode(errors="replace").rstrip()))


def run_raw(scenario: Scenario, fault: Fault) -> float:
    """Seconds from spawn to the stack up (waited for) and the fault applied by hand."""
    start = time.perf_counter()
    _must(_raw_compose(scenario, "up", "-d", "--build", "--wait"), "raw up")
    if fault.script:
        env = {**os.environ, "COMPOSE_PROJECT_NAME": RAW_PROJECT,
               "COMPOSE_FILE": str(scenario.compose_file), "SCENARIO_DIR": str(scenario.directory)}
        _must(subprocess.run(["bash", fault.script], cwd=scenario.directory, env=env,
                             capture_output=True, check=False), "raw break script")
    for step in fault.steps:
        if step.action == "cp":
            args = ["cp", str(scenario.directory / (step.src or "")), f"{step.service}:{step.dest}"]
        elif step.action == "exec":
            args = ["exec", "-T", step.service, *step.cmd]
        else:
            args = ["restart", step.service]
        _must(_raw_compose(scenario, *args), f"raw break {step.action}")
    return time.perf_counter() - start


def _raw_compose(scenario: Scenario, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["docker", "compose", "-p", RAW_PROJECT, "--project-directory", str(scenario.directory),
         "-f", str(scenario.compose_file), *args],
        capture_output=True, check=False, timeout=STEP_TIMEOUT_SECONDS,
    )  # fmt: skip


def _must(result: subprocess.CompletedProcess[bytes], what: str) -> None:
    if result.returncode != 0:
        raise SystemExit(f"{what} failed ({result.returncode}):\n{result.stderr.decode(errors='replace')}")


# -- clean-up on every path ----------------------------------------------------------------------


def teardown_ours() -> None:
    subprocess.run([str(BIN / "replay-down"), "--all"], capture_output=True, check=False)


def teardown_raw(scenario: Scenario) -> None:
    _raw_compose(scenario, "down", "--volumes", "--remove-orphans", "--timeout", "3")
    for kind in ("container", "network", "volume"):
        listed = subprocess.run(
            ["docker", kind, "ls", "-q", "--filter", f"label={PROJECT_LABEL}={RAW_PROJECT}"]
            if kind != "container" else
            ["docker", "ps", "-aq", "--filter", f"label={PROJECT_LABEL}={RAW_PROJECT}"],
            capture_output=True, text=True, check=False,
        ).stdout.split()  # fmt: skip
        if listed:
            remove = ["docker", "rm", "-f"] if kind == "container" else ["docker", kind, "rm"]
            subprocess.run([*remove, *listed], capture_output=True, check=False)


def remove_raw_images() -> None:
    listed = subprocess.run(
        ["docker", "images", "-q", "--filter", f"label={PROJECT_LABEL}={RAW_PROJECT}"],
        capture_output=True, text=True, check=False,
    ).stdout.split()  # fmt: skip
    if listed:
        subprocess.run(["docker", "rmi", "-f", *sorted(set(listed))], capture_output=True, check=False)


@contextmanager
def torn_down(scenario: Scenario) -> Iterator[None]:
    """Whatever the benchmark made goes, however it ends (SIGTERM is made a KeyboardInterrupt)."""

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        teardown_ours()
        teardown_raw(scenario)
        remove_raw_images()
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, signal.default_int_handler)


# -- figures -----------------------------------------------------------------------------------


def breakdown(lines: list[tuple[float, str]], total: float) -> list[tuple[str, float]]:
    """Ours' steps as seconds, from the stamped stderr lines (MILESTONES)."""
    compose_done = max((at for at, text in lines if text.startswith(" Container ")), default=0.0)
    steps, previous, index = [], 0.0, 0
    for name, marker in MILESTONES:
        if marker == "__last_compose_line__":
            found = compose_done or None
        else:
            found = next((at for at, text in lines[index:] if marker in text), None)
        if found is None:
            continue
        index = next((i for i, (at, _) in enumerate(lines) if at >= found), index)
        steps.append((name, found - previous))
        previous = found
    steps.append(("replay-break's exit", total - previous))
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="paired runs (at least 5)")
    parser.add_argument("--scenario", default="001-nginx-502")
    parser.add_argument("--fault", help="the fault both apply (default: the scenario's first)")
    args = parser.parse_args()
    scenario = resolve_scenario(args.scenario)
    fault = scenario.fault(args.fault) if args.fault else scenario.faults[0]
    with tempfile.TemporaryDirectory(prefix="replaybook-bench-") as home:
        os.environ["REPLAYBOOK_HOME"] = home
        with torn_down(scenario):
            measure(scenario, fault, max(5, args.runs))


def measure(scenario: Scenario, fault: Fault, runs: int) -> None:
    print(f"warming images: {scenario.ref}, fault {fault.name}", file=sys.stderr)
    run_ours(scenario, fault)
    teardown_ours()
    run_raw(scenario, fault)
    teardown_raw(scenario)
    ours: list[float] = []
    raw: list[float] = []
    steps: dict[str, list[float]] = {}
    for index in range(runs):
        for contender in ("ours", "raw") if index % 2 == 0 else ("raw", "ours"):
            if contender == "ours":
                elapsed, lines = run_ours(scenario, fault)
                teardown_ours()
                ours.append(elapsed)
                for name, seconds in breakdown(lines, elapsed):
                    steps.setdefault(name, []).append(seconds)
            else:
                raw.append(run_raw(scenario, fault))
                teardown_raw(scenario)
        print(f"run {index + 1}: ours {ours[-1]:.2f} s, raw {raw[-1]:.2f} s", file=sys.stderr)
    print(f"{scenario.ref}, fault {fault.name}, {runs} paired runs")
    print(f"ours: median {statistics.median(ours):.2f} s, p95 {percentile(ours, 0.95):.2f} s")
    print(f"raw:  median {statistics.median(raw):.2f} s, p95 {percentile(raw, 0.95):.2f} s")
    pairs = statistics.median(o / r for o, r in zip(ours, raw, strict=True))
    print(f"ratio of medians: {statistics.median(ours) / statistics.median(raw):.3f}x (target <= 1.15x); "
          f"median of the paired runs' ratios: {pairs:.3f}x")
    print("ours, by step (median s):")
    for name, seconds in steps.items():
        print(f"  {name:45} {statistics.median(seconds):6.2f}")


if __name__ == "__main__":
    main()
