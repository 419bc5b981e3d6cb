"""A break's `cp` step goes through the engine's API (Stack.copy_into) instead of a Compose
process: the file lands in every replica (mode kept, owner the tar's uid and gid), and what cannot
be copied is said, not raised. Against a real container labelled as a session's service."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from dockerkit import PROJECT_LABEL, remove_project

from libreplay.engine.docker_api import SERVICE_LABEL
from libreplay.session.stack import Stack

IMAGE = "debian:bookworm-slim"  # what the base image is built from: on every machine that plays


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    project = f"replaybook-copy-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["docker", "run", "-d", "--label", f"{PROJECT_LABEL}={project}", "--label", f"{SERVICE_LABEL}=web",
         IMAGE, "sleep", "300"],
        check=True, capture_output=True,
    )  # fmt: skip
    scenario: Any = SimpleNamespace(ref="test/copy")
    try:
        yield Stack(scenario, "copy", project, tmp_path)
    finally:
        remove_project(project)


def inside(stack: Stack, *command: str) -> str:
    found = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label={PROJECT_LABEL}={stack.project}"],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    return subprocess.run(["docker", "exec", found[0], *command], check=True, capture_output=True,
                          text=True).stdout


def test_a_file_lands_with_its_content_mode_and_the_tars_owner(stack: Stack, tmp_path: Path) -> None:
    source = tmp_path / "fault.conf"
    source.write_text("upstream app:3001;\n")
    source.chmod(0o640)
    owner = (1234, 1234) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    if os.geteuid() == 0:
        os.chown(source, *owner)
    assert stack.copy_into("web", source, "/etc/checkout.conf") is None
    assert inside(stack, "cat", "/etc/checkout.conf") == "upstream app:3001;\n"
    assert inside(stack, "stat", "-c", "%a %u %g", "/etc/checkout.conf").split() == ["640", *map(str, owner)]


def test_what_cannot_be_copied_is_said(stack: Stack, tmp_path: Path) -> None:
    source = tmp_path / "fault.conf"
    source.write_text("x\n")
    assert stack.copy_into("web", source, "/no/such/directory/fault.conf") is not None
    assert stack.copy_into("db", source, "/etc/fault.conf") == "service 'db' has no container"


def test_a_directory_at_the_destination_is_refused_and_left_whole(stack: Stack, tmp_path: Path) -> None:
    # docker compose cp would copy into it; the engine, unasked, would replace it by the file.
    source = tmp_path / "apt"
    source.write_text("x\n")
    problem = stack.copy_into("web", source, "/etc/apt")
    assert problem is not None and "directory" in problem
    assert "sources.list.d" in inside(stack, "ls", "/etc/apt").split()


def test_every_replica_of_the_service_gets_the_file(stack: Stack, tmp_path: Path) -> None:
    subprocess.run(
        ["docker", "run", "-d", "--label", f"{PROJECT_LABEL}={stack.project}",
         "--label", f"{SERVICE_LABEL}=web", "--label", "com.docker.compose.container-number=2",
         IMAGE, "sleep", "300"],
        check=True, capture_output=True,
    )  # fmt: skip
    source = tmp_path / "fault.conf"
    source.write_text("both\n")
    assert stack.copy_into("web", source, "/etc/fault.conf") is None
    replicas = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label={PROJECT_LABEL}={stack.project}"],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    assert len(replicas) == 2
    for replica in replicas:
        shown = subprocess.run(["docker", "exec", replica, "cat", "/etc/fault.conf"], check=True,
                               capture_output=True, text=True).stdout
        assert shown == "both\n"
