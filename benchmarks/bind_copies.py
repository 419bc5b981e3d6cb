"""What holding a scenario's bind copies on the engine costs (issue 15): hold_on_engine timed,
its volumes removed after each run. The engine is DOCKER_HOST's or the current context's.

Usage: .venv/bin/python benchmarks/bind_copies.py SCENARIO_DIR [RUNS]
(tests/fixtures/engine/bound binds a directory and a file). Figures in docs/benchmarks.md.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from libreplay.engine import docker_api
from libreplay.scenario.load import load_scenario
from libreplay.scenario.sandbox import check, hidden_paths
from libreplay.session.bindcopies import BindCopy, hold_on_engine, remove_bind_volumes

PROJECT = "replaybook-bindbench"


def main() -> None:
    scenario = load_scenario(Path(sys.argv[1]))
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    resolved = check(scenario, PROJECT)
    copies = [BindCopy(index, mount.source) for index, mount in enumerate(resolved.mounts.values())]
    hidden = hidden_paths(scenario)
    labels = {docker_api.SESSION_LABEL: "bindbench"}
    docker_api.ensure_engine()
    times = []
    try:
        for _ in range(runs):
            start = time.perf_counter()
            hold_on_engine(copies, project=PROJECT, labels=labels, hidden=hidden)
            times.append((time.perf_counter() - start) * 1000)
            remove_bind_volumes(PROJECT)
    finally:
        remove_bind_volumes(PROJECT)
    print(f"{len(copies)} binds at {docker_api.engine_address()}: median {statistics.median(times):.0f} ms, "
          f"min {min(times):.0f} ms, max {max(times):.0f} ms over {runs}")


if __name__ == "__main__":
    main()
