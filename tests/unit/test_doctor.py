"""The doctor's decisions, with the host replaced by fakes: what is missing, the exact fix
command for it (sudo form when not root), the order fixes run in, and the exit status."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from libreplay.core import paths
from libreplay.core.errors import EnvironmentProblem, ReplayError
from libreplay.host import baseimage, doctor
from replaybook.commands import doctor as doctor_command

GIB = 1024**3


class FakeHost:
    """A machine described by a few facts; builds a doctor.Host whose probes read them."""

    def __init__(self, **facts: Any) -> None:
        self.tools = set(facts.get("tools", {"docker", "tmux", "git", "debootstrap"}))
        self.engine_error = facts.get("engine_error")
        self.engine_version = facts.get("engine_version", "20.10.24")
        self.compose = facts.get("compose", "2.26.1")
        self.compose_v1 = facts.get("compose_v1")
        self.image = facts.get("image", True)
        self.free = facts.get("free", 50 * GIB)
        self.root = facts.get("root", True)
        self.xterm = facts.get("xterm", True)
        self.commands: list[list[str]] = []

    def run(self, argv: Sequence[str]) -> tuple[int, str]:
        self.commands.append(list(argv))
        if list(argv[:2]) == ["docker", "compose"]:
            missing = (1, "docker: 'compose' is not a docker command.")
            return (0, self.compose + "\n") if self.compose else missing
        if argv[0] == "docker-compose":
            return (0, self.compose_v1 + "\n") if self.compose_v1 else (127, "not found")
        raise AssertionError(argv)

    def engine(self) -> doctor.Engine:
        if self.engine_error:
            raise RuntimeError(self.engine_error)
        return doctor.Engine(self.engine_version, "/var/lib/docker")

    def host(self) -> doctor.Host:
        return doctor.Host(
            which=lambda name: f"/usr/bin/{name}" if name in self.tools else None,
            run=self.run,
            engine=self.engine,
            image_present=lambda tag: bool(self.image),
            free_bytes=lambda path: int(self.free),
            is_root=lambda: bool(self.root),
            replaybook="/venv/bin/replaybook",
            exists=lambda path: bool(self.xterm),
        )


def findings(**facts: Any) -> dict[str, doctor.Finding]:
    report = doctor.examine(FakeHost(**facts).host())
    return {f.name: f for f in report.findings}


def test_a_ready_machine_is_all_ok() -> None:
    report = doctor.examine(FakeHost().host())
    assert report.ok
    assert {f.status for f in report.findings} == {"ok"}
    assert report.fixes() == []
    names = [f.name for f in report.findings]
    assert names[:7] == ["docker engine", "docker compose v2", "tmux", "git", "xterm.js", "debootstrap",
                         "base image"]
    assert "disk: data dir" in names and "disk: docker root" in names


def test_missing_tmux_and_git_share_one_apt_command() -> None:
    found = findings(tools={"docker", "debootstrap"})
    assert found["tmux"].status == "missing"
    assert found["tmux"].fix == "apt-get update && apt-get install -y tmux git"
    assert found["git"].fix == found["tmux"].fix
    report = doctor.examine(FakeHost(tools={"docker", "debootstrap"}).host())
    assert not report.ok
    assert report.fixes() == ["apt-get update && apt-get install -y tmux git"]


def test_the_test_suite_s_browser_is_checked_only_for_tests() -> None:
    machine = FakeHost(tools={"docker", "debootstrap", "git"})
    playing = {f.name for f in doctor.examine(machine.host()).findings}
    assert not playing & {"chromium", "chromedriver"}
    report = doctor.examine(machine.host(), tests=True)
    found = {f.name: f for f in report.findings}
    assert (found["chromium"].status, found["chromedriver"].status) == ("missing", "missing")
    # The browser's own apt-get (under Debian's package names), after playing's.
    assert report.fixes() == ["apt-get update && apt-get install -y tmux",
                              "apt-get update && apt-get install -y chromium chromium-driver"]
    ready = FakeHost(tools={"docker", "debootstrap", "git", "tmux", "chromium", "chromedriver"})
    assert doctor.examine(ready.host(), tests=True).ok


def test_not_root_gets_the_sudo_form() -> None:
    found = findings(tools={"docker"}, image=False, root=False, compose=None)
    assert found["tmux"].fix == "sudo apt-get update && sudo apt-get install -y tmux git debootstrap"
    assert found["docker compose v2"].fix == f"sudo bash {paths.asset_path('install-compose-v2.sh')}"
    assert found["base image"].fix == "sudo /venv/bin/replaybook base-image"


def test_debootstrap_is_only_needed_without_the_base_image() -> None:
    with_image = findings(tools={"docker", "tmux", "git"}, image=True)
    assert with_image["debootstrap"].status == "ok"
    assert "not needed" in with_image["debootstrap"].detail
    without = findings(tools={"docker", "tmux", "git"}, image=False)
    assert without["debootstrap"].status == "missing"
    assert without["debootstrap"].fix == "apt-get update && apt-get install -y debootstrap"
    assert without["base image"].status == "missing"
    assert "obtainable with docker pull, or debootstrap" in without["base image"].detail


def test_compose_v1_only_is_missing_v2_with_the_install_script() -> None:
    found = findings(compose=None, compose_v1="1.29.2")
    compose = found["docker compose v2"]
    assert compose.status == "missing"
    assert compose.detail == "only Compose v1 (1.29.2) is installed"
    assert compose.fix == f"bash {paths.asset_path('install-compose-v2.sh')}"
    assert Path(compose.fix.split()[-1]).is_file()


def test_compose_v1_answering_docker_compose_is_not_v2() -> None:
    assert findings(compose="1.29.2")["docker compose v2"].status == "missing"


def test_unreachable_engine() -> None:
    found = findings(engine_error="Error while fetching server API version: connection refused")
    assert found["docker engine"].status == "missing"
    assert found["docker engine"].detail.endswith("connection refused")
    assert found["docker engine"].fix == "systemctl start docker"
    assert found["base image"].status == "missing"
    assert "disk: docker root" not in found  # unknown without the engine


def test_no_docker_command_at_all() -> None:
    found = findings(tools={"tmux", "git", "debootstrap"}, root=False)
    assert found["docker engine"].fix == "sudo apt-get update && sudo apt-get install -y docker.io"


def test_old_engine_is_a_warning_not_a_failure() -> None:
    found = findings(engine_version="19.03.12")
    assert found["docker engine"].status == "warn"
    assert doctor.examine(FakeHost(engine_version="19.03.12").host()).ok


def test_low_disk_is_a_warning() -> None:
    report = doctor.examine(FakeHost(free=2 * GIB).host())
    disk = [f for f in report.findings if f.name.startswith("disk")]
    assert {f.status for f in disk} == {"warn"}
    assert "only 2.0 GiB free (want 5 GiB)" in disk[0].detail
    assert report.ok


def test_fixes_run_in_order_engine_compose_packages_image() -> None:
    report = doctor.examine(FakeHost(tools={"docker"}, compose=None, image=False,
                                     engine_error="refused").host())
    fixes = report.fixes()
    assert fixes[0] == "systemctl start docker"
    assert fixes[1].startswith("bash ") and fixes[1].endswith("install-compose-v2.sh")
    assert fixes[2] == "apt-get update && apt-get install -y tmux git debootstrap"
    assert fixes[3] == "/venv/bin/replaybook base-image"
    assert len(fixes) == 4


def test_apply_fixes_announces_each_command_before_running_it() -> None:
    report = doctor.Report((
        doctor.Finding("one", "missing", "x", fix="echo first-output"),
        doctor.Finding("two", "missing", "x", fix="echo second-output; exit 3"),
        doctor.Finding("three", "ok", "fine", fix="echo never"),
    ))
    talk: list[str] = []
    results = doctor.apply_fixes(report, talk.append)
    assert results == [("echo first-output", 0), ("echo second-output; exit 3", 3)]
    assert talk == ["$ echo first-output", "first-output", "$ echo second-output; exit 3", "second-output"]


# -- the command ----------------------------------------------------------------------------


@pytest.fixture
def fake_machine(monkeypatch: pytest.MonkeyPatch) -> FakeHost:
    machine = FakeHost(tools={"docker", "debootstrap"})
    real_examine = doctor.examine
    monkeypatch.setattr(doctor, "examine", lambda host=None, **kw: real_examine(machine.host(), **kw))
    return machine


def test_command_exits_1_and_prints_the_fix(fake_machine: FakeHost) -> None:
    result = CliRunner().invoke(doctor_command.app, [])
    assert result.exit_code == 1
    assert "missing  tmux" in result.stdout
    assert "fix: apt-get update && apt-get install -y tmux git" in result.stdout
    assert "replaybook doctor --fix" in result.stderr


def test_the_names_line_up_after_the_widest_status_whatever_the_report_holds() -> None:
    fine = doctor.Report((doctor.Finding("tmux", "ok", "/usr/bin/tmux"),
                          doctor.Finding("base image", "ok", "debian:bookworm-slim present")))
    assert doctor_command.render(fine) == ["ok       tmux        /usr/bin/tmux",
                                           "ok       base image  debian:bookworm-slim present"]
    missing = doctor.Report((doctor.Finding("git", "missing", "not installed", fix="apt install git"),))
    assert doctor_command.render(missing) == ["missing  git  not installed",
                                              "              fix: apt install git"]


def test_command_json(fake_machine: FakeHost) -> None:
    result = CliRunner().invoke(doctor_command.app, ["--json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False
    tmux = next(f for f in data["findings"] if f["name"] == "tmux")
    assert tmux == {"name": "tmux", "status": "missing", "required": True,
                    "detail": "not installed (splits the terminal into shell and HUD)",
                    "fix": "apt-get update && apt-get install -y tmux git"}


def test_command_fix_runs_then_rechecks(fake_machine: FakeHost, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []

    def fake_apply(report: doctor.Report, progress: Any) -> list[tuple[str, int]]:
        for command in report.fixes():
            progress(f"$ {command}")
            ran.append(command)
        fake_machine.tools |= {"tmux", "git"}  # what the apt command would have done
        return [(command, 0) for command in ran]

    monkeypatch.setattr(doctor, "apply_fixes", fake_apply)
    result = CliRunner().invoke(doctor_command.app, ["--fix"])
    assert result.exit_code == 0, result.output
    assert ran == ["apt-get update && apt-get install -y tmux git"]
    assert "$ apt-get update && apt-get install -y tmux git" in result.stderr
    assert "Checking again" in result.stderr
    assert "missing" not in result.stdout


# -- the base-image steps the doctor's fix runs: failures of the engine are errors, not tracebacks ----


class FakeEngineApi:
    """The SDK's low-level client as libreplay.engine.images uses it; no engine is contacted."""

    def __init__(self, *, tag_refused: str | None = None) -> None:
        self.tag_refused = tag_refused
        self.import_read = threading.Event()
        self.release = threading.Event()  # a stalled import returns once the test is over

    def pull(self, repository: str, **_kw: Any) -> Iterator[dict[str, Any]]:
        yield {"status": f"Pulling from library/{repository}"}

    def tag(self, source: str, repository: str, version: str) -> bool:
        if self.tag_refused is None:
            return True
        import docker.errors
        import requests

        response = requests.Response()
        response.status_code = 500
        raise docker.errors.APIError("500 Server Error", response=response, explanation=self.tag_refused)

    def import_image(self, *, src: Iterator[bytes], **_kw: Any) -> str:
        next(src)  # the engine reads the first chunk of the tar, then stalls
        self.import_read.set()
        self.release.wait(30)
        return ""


@pytest.fixture
def engine_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEngineApi]:
    from libreplay.engine import docker_api

    api = FakeEngineApi()
    monkeypatch.setattr(docker_api, "client", lambda: SimpleNamespace(api=api))
    yield api
    api.release.set()


def test_a_refused_tag_is_an_environment_problem_with_the_engines_reason(engine_api: FakeEngineApi) -> None:
    from libreplay.engine.docker_api import engine_address

    engine_api.tag_refused = "disk full"
    with pytest.raises(EnvironmentProblem) as caught:
        baseimage._try_pull("debian:bookworm-slim", "replaybook-test/debian:x", lambda _line: None)
    assert caught.value.exit_code == 5
    assert caught.value.message == ("tagging debian:bookworm-slim as replaybook-test/debian:x failed: "
                                    f"the Docker engine at {engine_address()} refused: disk full")


def test_a_docker_import_that_times_out_is_a_replay_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine_api: FakeEngineApi
) -> None:
    monkeypatch.setattr(baseimage, "IMPORT_TIMEOUT_SECONDS", 1)
    rootfs = tmp_path / "rootfs"
    (rootfs / "etc").mkdir(parents=True)
    (rootfs / "etc" / "os-release").write_text("ID=debian\n")
    started = time.monotonic()
    with pytest.raises(ReplayError, match=r"^docker import did not finish within 1 s$") as caught:
        baseimage._import(rootfs, "replaybook-test/debian:x", lambda _line: None)
    assert time.monotonic() - started < 20
    assert engine_api.import_read.is_set()  # the tar did reach the engine
    assert not isinstance(caught.value, EnvironmentProblem)
    assert caught.value.hint and "docker image rm" in caught.value.hint


def test_one_helper_names_the_replaybook_program(monkeypatch: pytest.MonkeyPatch) -> None:
    assert doctor.Host().replaybook == baseimage.replaybook_program()
    assert baseimage.sudo_hint("doctor --fix") == f"sudo {baseimage.replaybook_program()} doctor --fix"
    assert not hasattr(doctor, "_replaybook_program")


def test_serve_s_xterm_is_an_apt_fix_required_only_of_the_tests() -> None:
    machine = FakeHost(xterm=False)
    playing = doctor.examine(machine.host())
    found = {f.name: f for f in playing.findings}
    assert found["xterm.js"].status == "missing" and not found["xterm.js"].required
    assert playing.ok  # playing in a terminal needs no browser terminal
    assert playing.fixes() == ["apt-get update && apt-get install -y libjs-xterm node-xterm"]
    testing = doctor.examine(machine.host(), tests=True)
    assert not testing.ok
    ready = FakeHost(tools={"docker", "debootstrap", "git", "tmux", "chromium", "chromedriver"})
    assert doctor.examine(ready.host(), tests=True).ok


def test_xterm_missing_names_each_missing_file() -> None:
    assert doctor.xterm_missing(lambda path: True) == []
    gone = doctor.xterm_missing(lambda path: path.suffix != ".css")
    assert gone == [doctor.XTERM_CSS]
