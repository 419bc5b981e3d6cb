"""Listing a catalogue: `replaybook list` and `replay-list` over 50 packs x 40 scenarios.

A temporary REPLAYBOOK_HOME gets 50 added packs as `replay-add` leaves them (a git clone under
data/packs/<name>-<hash>, one commit, and its record beside it), each of 40 scenarios copied from
the official pack in turn (real compose files, scripts and fault files) under ids and titles of
their own: 2,000 scenarios, plus the official pack's, which every list shows.

Each command is timed from spawn to exit: once with no list cache (cold: every scenario
validated), then warm over --runs rounds, the cases alternating within a round so that a busy
moment of the machine falls on all of them alike. Every run must list every scenario. Each run's CPU time
(user + system of the child) is reported beside its wall time, and the load average around the
warm rounds: on a shared machine wall time includes waiting for a core.

With --upstream PATH (the Rust replaybook, built from its source), its `list` runs in the same
rounds over the same scenarios: it reads a directory of packs (`--scenarios-dir`, each pack a
directory of scenario directories), given here as links to the same 50 clones and the official
pack. It only parses meta.json; ours validates each scenario as `replay-validate` does (minus
Compose's resolution), through its cache when nothing changed.

Usage: .venv/bin/python benchmarks/list_catalogue.py [--runs 15] [--packs 50] [--scenarios 40]
       [--upstream /tmp/upstream-rb/target/release/replaybook]
Figures are written down in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The sibling script's (this directory is on sys.path): one way to run and report a command.
from cli_startup import Run, alternating_rounds, measured_run, print_summary, user_environment

ROOT = Path(__file__).resolve().parent.parent
OFFICIAL = ROOT / "packs" / "official"
BIN = Path(sys.executable).parent


def official_scenarios() -> list[Path]:
    return sorted(path.parent for path in OFFICIAL.glob("*/meta.json"))


def make_pack(packs_dir: Path, number: int, scenarios: int, templates: list[Path]) -> Path:
    """One added pack: a git clone of ``scenarios`` scenarios, and its record."""
    name = f"drills/pack-{number:02d}"
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    clone = packs_dir / f"drills-pack-{number:02d}-{digest}"
    for index in range(scenarios):
        template = templates[(number + index) % len(templates)]
        scenario_id = f"p{number:02d}-{index:02d}-{template.name[4:]}"
        target = clone / scenario_id
        shutil.copytree(template, target)
        meta = json.loads((target / "meta.json").read_text())
        meta["id"] = scenario_id
        meta["title"] = f"{meta['title']} (drill {number}.{index})"
        (target / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    git = ["git", "-C", str(clone), "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "drills"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True)
    record = (f'name = "{name}"\nsource = "https://example.invalid/{name}.git"\n'
              f'commit = "{commit.stdout.strip()}"\n')
    clone.with_name(clone.name + ".toml").write_text(record)
    return clone


def make_catalogue(root: Path, packs: int, scenarios: int) -> tuple[Path, Path]:
    """The home with the packs added, and the upstream view of the same scenarios."""
    home = root / "home"
    packs_dir = home / "data" / "packs"
    packs_dir.mkdir(parents=True)
    upstream = root / "upstream-scenarios"
    upstream.mkdir()
    (upstream / "official").symlink_to(OFFICIAL)
    templates = official_scenarios()
    for number in range(packs):
        clone = make_pack(packs_dir, number, scenarios, templates)
        (upstream / clone.name).symlink_to(clone)
    return home, upstream


def listed(argv: list[str], env: dict[str, str]) -> tuple[Run, int]:
    """The run, and how many scenarios the table showed."""
    run = measured_run(argv, env)
    lines = run.stdout.splitlines()
    return run, sum(1 for line in lines[2:] if line.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="warm runs of each case (at least 11)")
    parser.add_argument("--packs", type=int, default=50)
    parser.add_argument("--scenarios", type=int, default=40, help="scenarios per pack")
    parser.add_argument("--upstream", type=Path, help="the Rust replaybook binary, timed alongside")
    options = parser.parse_args()
    if options.runs < 11:
        parser.error("--runs must be at least 11")

    with tempfile.TemporaryDirectory(prefix="replaybook-catalogue-") as tmp:
        started = time.perf_counter()
        home, upstream = make_catalogue(Path(tmp), options.packs, options.scenarios)
        print(f"catalogue: {options.packs} packs x {options.scenarios} scenarios "
              f"+ the official pack, made in {time.perf_counter() - started:.1f}s")
        time.sleep(2.5)  # older than the cache's racy window: the cold run may keep its answers
        env = user_environment(REPLAYBOOK_HOME=str(home))  # bytecode caches written, as installed
        cases = {"replay-list": [str(BIN / "replay-list")],
                 "replaybook list": [str(BIN / "replaybook"), "list"]}
        if options.upstream:
            cases["upstream list"] = [str(options.upstream), "list", "--scenarios-dir", str(upstream)]
        expected = options.packs * options.scenarios + len(official_scenarios())

        cold: dict[str, Run] = {}
        for name, argv in cases.items():
            shutil.rmtree(home / "state" / "list-cache", ignore_errors=True)  # no cache: all validated
            cold[name], count = listed(argv, env)
            if count != expected:
                raise SystemExit(f"{name} listed {count} scenarios, expected {expected}")

        def warm_run(name: str, argv: list[str]) -> Run:
            run, count = listed(argv, env)
            if count != expected:
                raise SystemExit(f"{name} listed {count} scenarios, expected {expected}")
            return run

        samples = alternating_rounds(cases, options.runs, warm_run)

    print(f"{expected} scenarios; cold: one run each without a cache (wall / CPU)")
    for name, run in cold.items():
        print(f"  {name:<18} {run.wall * 1000:>6.0f}ms / {run.cpu * 1000:>6.0f}ms")
    print_summary("warm", samples, 18)


if __name__ == "__main__":
    main()
