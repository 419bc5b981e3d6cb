"""The whole official pack from a cold engine: every image built from nothing but the base image,
then every scenario and fault proven, beside raw Compose building the same images.

Cold means what a fresh CI machine has: the base image (`debian:bookworm-slim`) and nothing
else of ours. Before each side the script removes every `replaybook/…` image, the images its
raw side built, and the engine's whole build cache (`docker builder prune --all`), so it asks
for `--yes`: run it on a machine where nothing else is building.

1. raw Compose, the floor: `docker compose build` of each scenario's own compose file, one
   scenario after another (the cache filling up as it goes, as on any machine), timed per
   scenario and in all;
2. replaybook: `replaybook test --all packs/official -j 3` (what the suite's
   tests/integration/test_official_pack.py runs): the same builds, plus for every fault up,
   break, the scripted fix and the scenario's own hold, down.

Usage: .venv/bin/python benchmarks/official_pack_cold.py --yes [--jobs 3]
Figures are written down in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from parallel_test import machine, timed_test_run

from libreplay.packs.catalog import official_pack, scan_pack
from libreplay.scenario.load import find_compose_file

RAW_PROJECT_PREFIX = "rbcold-"
BUILD_TIMEOUT_SECONDS = 1800


def docker(*argv: str, timeout: float = 600) -> str:
    return subprocess.run(["docker", *argv], capture_output=True, text=True, check=True,
                          timeout=timeout).stdout


def forget_images() -> None:
    """Every image of ours and the whole build cache gone; the base image kept."""
    listed = docker("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").splitlines()
    ours = [line.split()[1] for line in listed if line.startswith(("replaybook/", RAW_PROJECT_PREFIX))]
    if ours:
        docker("rmi", "--force", *sorted(set(ours)))
    docker("image", "prune", "--force")
    docker("builder", "prune", "--all", "--force")


def raw_compose_build(directory: Path, project: str) -> float:
    """Seconds for `docker compose build` of the scenario's own file, as an author would run it."""
    compose = find_compose_file(directory)
    assert compose is not None, directory
    start = time.perf_counter()
    subprocess.run(["docker", "compose", "-p", project, "-f", str(compose), "build", "--quiet"],
                   cwd=directory, check=True, timeout=BUILD_TIMEOUT_SECONDS, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--yes", action="store_true", help="remove our images and the build cache")
    parser.add_argument("--jobs", type=int, default=3)
    options = parser.parse_args()
    if not options.yes:
        sys.exit("this removes every replaybook image and the engine's build cache: pass --yes")
    pack = official_pack().directory.resolve()
    scenarios = sorted(scan_pack(official_pack()).scenarios, key=lambda s: str(s.directory))

    print(f"machine: {machine()}")
    forget_images()
    print("raw Compose, cold, one scenario after another:")
    total = 0.0
    for index, scenario in enumerate(scenarios):
        seconds = raw_compose_build(scenario.directory, f"{RAW_PROJECT_PREFIX}{index}")
        total += seconds
        print(f"  {scenario.directory.relative_to(pack)}: {seconds:.1f} s", flush=True)
    print(f"raw Compose builds, all {len(scenarios)} scenarios: {total:.1f} s", flush=True)

    forget_images()
    seconds, summary = timed_test_run(pack, options.jobs)
    print(f"replaybook test --all -j {options.jobs}, cold: {seconds:.1f} s  {summary}", flush=True)
    forget_images()


if __name__ == "__main__":
    main()
