"""replaybook doctor: is this machine ready to play, and the exact commands that make it so.

Every finding has a status (``ok``, ``missing`` or ``warn``), what was checked, what was found
and, when something is wrong, the exact command that fixes it (the ``sudo`` form when we are
not root). :func:`apply_fixes` runs those commands in order; ``make setup`` uses it on a fresh
machine. The probes of the host are one injectable object, so the decisions are testable
without breaking a machine.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from libreplay.core import paths, proc
from libreplay.core.errors import ReplayError
from libreplay.engine import images
from libreplay.host import baseimage

OK, MISSING, WARN = "ok", "missing", "warn"
MIN_FREE_BYTES = 5 * 1024**3
MIN_ENGINE = (20, 10)
APT_PACKAGES = {"tmux": "tmux", "git": "git", "debootstrap": "debootstrap",
                "chromium": "chromium", "chromedriver": "chromium-driver",
                "xterm.js": "libjs-xterm node-xterm"}
# `replaybook serve`'s browser terminal: Debian's xterm.js, never a CDN. bookworm's libjs-xterm
# ships the stylesheet and a stub script; node-xterm ships the modules the stub requires
# (replaybook.web.xterm serves them as one script).
XTERM_CSS = Path("/usr/share/javascript/xterm/xterm.css")
XTERM_MODULES = Path("/usr/share/nodejs/xterm/lib")
XTERM_PURPOSE = "the browser terminal of replaybook serve"
# What the test suite needs besides what playing needs (`doctor --tests`, which `make test` runs):
# the report's and the browser pages' tests drive Debian's chromium through its chromedriver.
TEST_TOOLS = (("chromium", "the test suite's headless browser"),
              ("chromedriver", "drives chromium in the test suite"))
COMPOSE_SCRIPT = "install-compose-v2.sh"
PROBE_TIMEOUT_SECONDS = 30  # a version question
# A fix may build the base image (debootstrap, then the import): longer than all of that, so
# only a fix that hangs (a held apt lock, a dead mirror) is stopped.
FIX_TIMEOUT_SECONDS = 3600
TIMED_OUT = 124  # the exit status a stopped fix counts as, as timeout(1) reports it


@dataclass(frozen=True)
class Finding:
    name: str
    status: str
    detail: str
    fix: str | None = None
    required: bool = True

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not any(f.status == MISSING and f.required for f in self.findings)

    def fixes(self) -> list[str]:
        """The fix commands for what is missing, each once, in the order they must run."""
        commands: list[str] = []
        for finding in self.findings:
            if finding.status == MISSING and finding.fix and finding.fix not in commands:
                commands.append(finding.fix)
        return commands

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "findings": [f.as_dict() for f in self.findings]}


@dataclass(frozen=True)
class Engine:
    version: str
    root_dir: str
    address: str = ""  # where the engine is, for a remote one (its root_dir is on its own host)
    local: bool = True


def _run(argv: Sequence[str]) -> tuple[int, str]:
    try:
        result = proc.run(argv, timeout=PROBE_TIMEOUT_SECONDS)
    except ReplayError as exc:  # not installed, or hung: either way not usable
        return 127, exc.message
    return result.exit_code, result.stdout + result.stderr


def _engine() -> Engine:
    from libreplay.engine.docker_api import client, engine_address, engine_errors, engine_is_local

    engine = client()  # the engine the CLI, Compose and the sessions use (a context included)
    with engine_errors():
        version = str(engine.version().get("Version", "unknown"))
        root_dir = str(engine.info().get("DockerRootDir", ""))
    return Engine(version, root_dir, engine_address(), engine_is_local())

def _remote_engine() -> str | None:
    from libreplay.engine.docker_api import engine_address, engine_is_local

    try:
        return None if engine_is_local() else engine_address()
    except ReplayError:  # a context that cannot be read: the engine check says so
        return None


def _free_bytes(path: Path) -> int:
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return shutil.disk_usage(existing).free

@dataclass
class Host:
    """How the doctor looks at the machine. Tests replace single probes with fakes."""

    which: Callable[[str], str | None] = shutil.which
    run: Callable[[Sequence[str]], tuple[int, str]] = field(default=_run)
    engine: Callable[[], Engine] = field(default=_engine)
    image_present: Callable[[str], bool] = field(default=lambda tag: images.image_id(tag) is not None)
    free_bytes: Callable[[Path], int] = field(default=_free_bytes)
    is_root: Callable[[], bool] = field(default=lambda: os.geteuid() == 0)
    # Where DOCKER_HOST or the context points: None for this machine's engine, else its address.
    remote_engine: Callable[[], str | None] = field(default=_remote_engine)
    replaybook: str = field(default_factory=baseimage.replaybook_program)
    exists: Callable[[Path], bool] = field(default=Path.exists)


def xterm_missing(exists: Callable[[Path], bool] = Path.exists) -> list[Path]:
    """What of Debian's xterm.js is not on this machine (serve refuses to start without it)."""
    return [path for path in (XTERM_CSS, XTERM_MODULES / "xterm.js", XTERM_MODULES / "addons/fit/fit.js")
            if not exists(path)]


def examine(
    host: Host | None = None, *, base_image: str = baseimage.BASE_IMAGE, tests: bool = False,
) -> Report:
    """What this machine lacks to play scenarios (``tests``: and to run replaybook's test suite)."""
    host = host or Host()
    sudo = "" if host.is_root() else "sudo "
    findings: list[Finding] = []
    engine, engine_finding = _check_engine(host, sudo)
    findings.append(engine_finding)
    findings.append(_check_compose(host, sudo))
    image = _check_base_image(host, engine, base_image, sudo)
    apt_missing = [name for name in ("tmux", "git") if host.which(name) is None]
    needs_debootstrap = image.status == MISSING and host.which("debootstrap") is None
    if needs_debootstrap:
        apt_missing.append("debootstrap")
    tools = (("tmux", "splits the terminal into shell and HUD"), ("git", "clones scenario packs"))
    xterm_gone = xterm_missing(host.exists)
    if xterm_gone:
        apt_missing.append("xterm.js")
    apt_fix = _apt_fix(apt_missing, sudo)  # one apt-get for what playing and serving need
    for name, purpose in tools:
        findings.append(_check_tool(host, name, purpose, apt_fix))
    # Playing needs no browser terminal: required only of the test suite (serve's e2e test).
    findings.append(Finding("xterm.js", MISSING, f"{xterm_gone[0]} is missing ({XTERM_PURPOSE})",
                            fix=apt_fix, required=tests) if xterm_gone
                    else Finding("xterm.js", OK, str(XTERM_MODULES), required=tests))
    if tests:
        # Their own apt-get: a browser that fails to install must not take playing's tools with it.
        test_fix = _apt_fix([name for name, _purpose in TEST_TOOLS if host.which(name) is None], sudo)
        findings += [_check_tool(host, name, purpose, test_fix) for name, purpose in TEST_TOOLS]
    findings.append(_check_debootstrap(host, image, apt_fix))
    findings.append(image)
    findings += _check_disk(host, engine)
    # This order is also the order the fixes run in: the engine, Compose, host packages, and
    # last the base image, whose build may need the debootstrap just installed.
    return Report(tuple(findings))


def _check_engine(host: Host, sudo: str) -> tuple[Engine | None, Finding]:
    if host.which("docker") is None:
        return None, Finding("docker engine", MISSING, "the docker command is not installed",
                             fix=_apt_fix(["docker.io"], sudo))
    try:
        engine = host.engine()
    except Exception as exc:  # noqa: BLE001 - any failure to talk to the engine is the finding itself
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        remote = host.remote_engine()
        if remote is not None:  # nothing on this machine starts it
            return None, Finding("docker engine", MISSING,
                                 f"not reachable: {reason} (a remote engine: start it, or reach it, there)")
        return None, Finding("docker engine", MISSING, f"not reachable: {reason}",
                             fix=f"{sudo}systemctl start docker")
    if _version_tuple(engine.version) < MIN_ENGINE:
        return engine, Finding("docker engine", WARN,
                               f"Docker Engine {engine.version} is older than 20.10; upgrade Docker",
                               required=False)
    return engine, Finding("docker engine", OK, f"Docker Engine {engine.version} reachable")


def _check_compose(host: Host, sudo: str) -> Finding:
    fix = f"{sudo}bash {paths.asset_path(COMPOSE_SCRIPT)}"
    if host.which("docker") is None:
        return Finding("docker compose v2", MISSING, "needs the docker command", fix=fix)
    code, output = host.run(["docker", "compose", "version", "--short"])
    version = output.strip().removeprefix("v")
    if code == 0 and _version_tuple(version) >= (2, 0):
        return Finding("docker compose v2", OK, f"Docker Compose {version}")
    v1_code, v1_output = host.run(["docker-compose", "version", "--short"])
    found = (f"only Compose v1 ({v1_output.strip()}) is installed" if v1_code == 0 and v1_output.strip()
             else "`docker compose` is not available")
    return Finding("docker compose v2", MISSING, found, fix=fix)


def _check_tool(host: Host, name: str, purpose: str, apt_fix: str) -> Finding:
    path = host.which(name)
    if path:
        return Finding(name, OK, f"{path}")
    return Finding(name, MISSING, f"not installed ({purpose})", fix=apt_fix)


def _check_debootstrap(host: Host, image: Finding, apt_fix: str) -> Finding:
    path = host.which("debootstrap")
    if path:
        return Finding("debootstrap", OK, path, required=False)
    if image.status != MISSING:
        return Finding("debootstrap", OK, "not installed; not needed while the base image exists",
                       required=False)
    return Finding("debootstrap", MISSING,
                   "not installed; needed to build the base image where docker pull fails", fix=apt_fix)


def _check_base_image(host: Host, engine: Engine | None, tag: str, sudo: str) -> Finding:
    fix = f"{sudo}{host.replaybook} base-image"
    if engine is None:
        return Finding("base image", MISSING, f"{tag}: cannot tell without the Docker engine", fix=fix)
    try:
        present = host.image_present(tag)
    except Exception as exc:  # noqa: BLE001 - an engine that answered version() but not this is still a finding
        return Finding("base image", MISSING, f"{tag}: could not ask the engine ({exc})", fix=fix)
    if present:
        return Finding("base image", OK, f"{tag} present")
    how = "docker pull, or debootstrap from the Debian archive"
    return Finding("base image", MISSING, f"{tag} not present; obtainable with {how}", fix=fix)


def _check_disk(host: Host, engine: Engine | None) -> list[Finding]:
    places = [("disk: data dir", paths.data_dir())]
    findings = []
    if engine is not None and engine.root_dir and engine.local:
        places.append(("disk: docker root", Path(engine.root_dir)))
    elif engine is not None and engine.root_dir:
        # The engine's data root is a path on its own host: this machine's disk says nothing of it.
        findings.append(Finding("disk: docker root", OK, f"{engine.root_dir} on the remote engine at "
                                f"{engine.address}: not measured from here", required=False))
    for name, path in places:
        try:
            free = host.free_bytes(path)
        except OSError as exc:
            findings.append(Finding(name, WARN, f"{path}: cannot measure free space ({exc})",
                                    required=False))
            continue
        gib = free / 1024**3
        if free < MIN_FREE_BYTES:
            findings.append(Finding(name, WARN, f"{path}: only {gib:.1f} GiB free (want 5 GiB)",
                                    required=False))
        else:
            findings.append(Finding(name, OK, f"{path}: {gib:.1f} GiB free", required=False))
    return findings


def _apt_fix(packages: list[str], sudo: str) -> str:
    if not packages:
        return ""
    names = " ".join(APT_PACKAGES.get(p, p) for p in packages)
    return f"{sudo}apt-get update && {sudo}apt-get install -y {names}"


def apply_fixes(report: Report, progress: Callable[[str], None]) -> list[tuple[str, int]]:
    """Run each fix command of ``report`` in order, announcing it first; keep going after a
    failure (the re-check says what is still missing). Returns (command, exit status) pairs."""
    results = []
    for command in report.fixes():
        progress(f"$ {command}")
        results.append((command, _run_fix(command, progress)))
    return results


def _run_fix(command: str, progress: Callable[[str], None]) -> int:
    """The fix's exit status; a fix past its time limit is stopped and counts as failed (124)."""
    # The children's output is talk, not data: it goes to ``progress`` (stderr), never stdout.
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        ran = proc.run(["bash", "-c", command], timeout=FIX_TIMEOUT_SECONDS, env=env,
                       on_stderr=lambda line: progress(line.rstrip()), stream_stdout=True,
                       own_session=False)  # our terminal: sudo may ask for the password on it
    except proc.ProcessTimeout as stopped:
        progress(stopped.message)
        return TIMED_OUT
    return ran.exit_code


def _version_tuple(text: str) -> tuple[int, ...]:
    numbers = re.findall(r"\d+", text.split("+", maxsplit=1)[0])[:3]
    return tuple(int(n) for n in numbers) if numbers else (0,)
