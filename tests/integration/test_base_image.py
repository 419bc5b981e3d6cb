"""replaybook base-image against the real engine.

The debootstrap build runs under a test tag of its own: debian:bookworm-slim is shared by
everyone's builds on this machine and is never removed or retagged here.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest
from typer.testing import CliRunner

from libreplay.host import baseimage
from replaybook.commands import base_image as base_image_command

pytestmark = pytest.mark.docker


@pytest.fixture
def test_tag() -> Iterator[str]:
    tag = f"replaybook-test/debian:bookworm-{uuid.uuid4().hex[:8]}"
    yield tag
    client = docker.from_env()
    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.remove(tag)  # only this tag: an image with other tags keeps them
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(tag)


def test_present_image_is_reported_and_left_alone() -> None:
    before = docker.from_env().images.get(baseimage.BASE_IMAGE).id
    result = CliRunner().invoke(base_image_command.app, ["--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"tag": baseimage.BASE_IMAGE, "how": "present", "id": before}
    assert "debian:bookworm-slim is present" in result.stderr
    assert docker.from_env().images.get(baseimage.BASE_IMAGE).id == before


@pytest.mark.timeout(600)
def test_debootstrap_build_makes_a_working_image_and_leaves_no_rootfs(test_tag: str) -> None:
    leftovers_before = set(Path("/var/tmp").glob("replaybook-rootfs-*"))
    executable = Path(sys.executable).with_name("replaybook")
    result = subprocess.run(
        [str(executable), "base-image", "--tag", test_tag, "--from-archive"],
        capture_output=True, text=True, timeout=580, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == test_tag
    assert "$ debootstrap --variant=minbase bookworm" in result.stderr  # progress on stderr
    assert "I: Base system installed successfully." in result.stderr
    assert f"{test_tag} built from the Debian archive" in result.stderr

    image = docker.from_env().images.get(test_tag)
    assert image.labels.get("org.replaybook.base") == "debootstrap"
    assert image.attrs["Config"]["Cmd"] == ["bash"]
    assert set(Path("/var/tmp").glob("replaybook-rootfs-*")) == leftovers_before

    apt = subprocess.run(["docker", "run", "--rm", test_tag, "apt-get", "update"],
                         capture_output=True, text=True, timeout=240, check=False)
    assert apt.returncode == 0, apt.stderr
    assert "bookworm" in apt.stdout
    slim = subprocess.run(["docker", "run", "--rm", test_tag, "sh", "-c",
                           "ls /var/cache/apt/archives/*.deb 2>/dev/null | wc -l"],
                          capture_output=True, text=True, timeout=120, check=True)
    assert slim.stdout.strip() == "0"  # apt caches were cleaned before the import


def test_unknown_suite_is_invalid_input() -> None:
    result = CliRunner().invoke(base_image_command.app, ["--suite", "sid-nonsense"])
    assert result.exit_code == 3
    assert "--suite: 'sid-nonsense'" in result.stderr


def test_rootfs_removal_unmounts_first(tmp_path: Path) -> None:
    """What debootstrap leaves mounted after a Ctrl-C (proc) is unmounted, never deleted through."""
    rootfs = tmp_path / "rootfs"
    (rootfs / "proc").mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(rootfs / "proc")], check=True)
    (rootfs / "proc" / "marker").write_text("inside a mount")
    talk: list[str] = []
    baseimage.remove_rootfs(rootfs, talk.append)
    assert baseimage.mounts_under(rootfs) == []
    assert not rootfs.exists()
