"""Helpers for tests that run against the real Docker engine: run the real executables,
and find (and, in teardown, remove) what a Compose project left behind."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
TESTPACK = FIXTURES / "testpack"
FAILING = FIXTURES / "failing"
BIN = Path(sys.executable).parent
PROJECT_LABEL = "com.docker.compose.project"


def exe(name: str) -> str:
    return str(BIN / name)


def run(
    *argv: str, stdin: str | None = None, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [exe(argv[0]), *argv[1:]],
        input=stdin,
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env if env is not None else os.environ.copy(),
    )


def start(*argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [exe(argv[0]), *argv[1:]],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )


def leftovers(project: str) -> dict[str, list[str]]:
    """What the engine still holds for a Compose project: containers, networks, volumes."""
    client = docker.from_env()
    label = {"label": f"{PROJECT_LABEL}={project}"}
    return {
        kind: names
        for kind, names in {
            "containers": [c.name for c in client.containers.list(all=True, filters=label)],
            "networks": [n.name for n in client.networks.list(filters=label)],
            "volumes": [v.name for v in client.volumes.list(filters=label)],
        }.items()
        if names
    }


def remove_project(project: str) -> None:
    """Teardown by label: whatever a failed test left, removed so later tests start clean."""
    client = docker.from_env()
    label = {"label": f"{PROJECT_LABEL}={project}"}
    for container in client.containers.list(all=True, filters=label):
        container.remove(force=True, v=True)
    for network in client.networks.list(filters=label):
        network.remove()
    for volume in client.volumes.list(filters=label):
        volume.remove(force=True)


def session_from_stderr(text: str) -> str | None:
    match = re.search(r"as session ([0-9a-f]+)", text)
    return match.group(1) if match else None


def wait_for_line(process: subprocess.Popen[str], pattern: str, timeout: float) -> str:
    """Read the process's stderr until a line matches; return everything read so far."""
    assert process.stderr is not None
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen += line
        if re.search(pattern, line):
            return seen
    raise AssertionError(f"no line matching {pattern!r} within {timeout} s; saw:\n{seen}")


def up_and_broken(scenario: Path, projects: list[str]) -> str:
    """A new session of ``scenario``, broken; its project noted for the teardown by label."""
    result = run("replay-up", str(scenario))
    assert result.returncode == 0, result.stderr
    session = result.stdout.strip()
    projects.append(f"replaybook-{session}")
    broke = run("replay-break", session)
    assert broke.returncode == 0, broke.stderr
    return session
