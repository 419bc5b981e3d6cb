"""replaybook doctor on this machine, against the real engine: it must tell the truth."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import docker
import pytest
from typer.testing import CliRunner

from libreplay.core import paths
from libreplay.host import doctor
from replaybook.commands import doctor as doctor_command

pytestmark = pytest.mark.docker


def test_doctor_reports_this_machine_truthfully() -> None:
    report = doctor.examine()
    found = {f.name: f for f in report.findings}
    engine_version = docker.from_env().version()["Version"]
    assert found["docker engine"].status == "ok"
    assert engine_version in found["docker engine"].detail
    compose = subprocess.run(["docker", "compose", "version", "--short"], capture_output=True,
                             text=True, check=True).stdout.strip()
    assert found["docker compose v2"].status == "ok"
    assert compose in found["docker compose v2"].detail
    assert found["base image"].status == "ok"
    assert found["base image"].detail == "debian:bookworm-slim present"
    assert found["tmux"].detail == shutil.which("tmux")
    assert found["git"].detail == shutil.which("git")
    assert found["debootstrap"].status == "ok"
    assert report.ok


def test_doctor_command_exits_0_here_and_its_json_parses() -> None:
    result = CliRunner().invoke(doctor_command.app, ["--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ok"] is True
    assert {f["name"] for f in data["findings"]} >= {"docker engine", "docker compose v2", "base image"}


def test_doctor_fix_with_nothing_missing_runs_nothing() -> None:
    executable = Path(sys.executable).with_name("replaybook")
    result = subprocess.run([str(executable), "doctor", "--fix"], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "Nothing to fix." in result.stderr
    assert "$ " not in result.stderr


@pytest.mark.timeout(300)
def test_compose_v2_script_fetches_the_trixie_plugin_without_touching_apt(tmp_path: Path) -> None:
    """The fix's download half, for real (the install half is dpkg -i of this very file)."""
    sources_before = sorted(p.name for p in Path("/etc/apt").rglob("*"))
    lists_before = sorted(p.name for p in Path("/var/lib/apt/lists").iterdir())
    result = subprocess.run(
        ["bash", str(paths.asset_path("install-compose-v2.sh")), "--download-only", str(tmp_path)],
        capture_output=True, text=True, timeout=280, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (deb,) = tmp_path.glob("docker-compose_2.*.deb")
    contents = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True,
                              check=True).stdout
    assert "./usr/libexec/docker/cli-plugins/docker-compose" in contents
    depends = subprocess.run(["dpkg-deb", "-f", str(deb), "Depends"], capture_output=True, text=True,
                             check=True).stdout
    assert depends.strip().startswith("libc6")
    assert sorted(p.name for p in Path("/etc/apt").rglob("*")) == sources_before
    assert sorted(p.name for p in Path("/var/lib/apt/lists").iterdir()) == lists_before
