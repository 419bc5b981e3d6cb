"""Heavy libraries are imported only by the commands that need them (issue 13).

Each command line runs its installed entry point in a fresh interpreter of this venv, which
prints, when it exits, every module it has loaded; none of docker, git (gitpython),
sh, watchfiles or matplotlib may be among them for help and for listing. An import check, not a timing:
the timings are benchmarks/cli_startup.py's."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from replaybook.commands.main import COMMANDS

HEAVY = frozenset({"docker", "git", "sh", "watchfiles", "matplotlib", "numpy"})
MARKER = "LOADED-MODULES:"

# Runs an entry point as its console script would, then reports sys.modules at exit (atexit
# runs after typer's SystemExit too, whatever the exit status).
RUNNER = f"""
import atexit, importlib, sys
def report():
    print({MARKER!r} + ",".join(sorted(sys.modules)), file=sys.stderr)
atexit.register(report)
script, target = sys.argv[1], sys.argv[2]
sys.argv = [script, *sys.argv[3:]]
module, _, function = target.partition(":")
getattr(importlib.import_module(module), function)()
"""

SCRIPTS = {point.name: point.value for point in entry_points(group="console_scripts")
           if point.value.startswith("replaybook.commands.")}


def loaded_modules(script: str, *args: str, home: Path) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """The modules loaded by ``script args…`` (with their top-level packages), and how it ended."""
    env = {**os.environ, "REPLAYBOOK_HOME": str(home), "COLUMNS": "100"}
    result = subprocess.run([sys.executable, "-c", RUNNER, script, SCRIPTS[script], *args],
                            capture_output=True, text=True, env=env, timeout=120, check=False)
    reports = [line for line in result.stderr.splitlines() if line.startswith(MARKER)]
    assert reports, f"{script} {' '.join(args)} reported nothing:\n{result.stderr}"
    names = set(reports[-1].removeprefix(MARKER).split(","))
    return names | {name.split(".")[0] for name in names}, result


def test_the_runner_sees_a_heavy_import(tmp_path: Path) -> None:
    """The check can fail: a command that commits with gitpython does load git."""
    modules, result = loaded_modules("replay-new-pack", str(tmp_path / "drills"), home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert {"git"} <= modules


@pytest.mark.parametrize("argv", [
    ("replaybook", "--help"),
    ("replay", "--help"),
    ("replaybook", "list", "--help"),
    ("replaybook", "up", "--help"),
    ("replay-list", "--help"),
    ("replay-list",),
    ("replaybook", "list"),
    ("replay-list", "--json"),
], ids=" ".join)
def test_help_and_list_import_no_heavy_library(argv: tuple[str, ...], tmp_path: Path) -> None:
    modules, result = loaded_modules(argv[0], *argv[1:], home=tmp_path)
    assert result.returncode == 0, result.stderr
    if argv[-1] != "--help":  # the official pack only, listed
        assert "001-nginx-502" in result.stdout
    assert modules & HEAVY == set()


@pytest.mark.parametrize("name", [entry.name for entry in COMMANDS])
def test_every_command_help_imports_no_heavy_library(name: str, tmp_path: Path) -> None:
    modules, result = loaded_modules(f"replay-{name}", "--help", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Usage: replay-{name}")
    assert modules & HEAVY == set()


@pytest.mark.parametrize(("name", "library"), [
    ("new", "libreplay.authoring.scaffold"),  # its options list the templates: authoring/choices.py
    ("base-image", "libreplay.host.baseimage"),  # its --suite default: host/debian.py
])
def test_option_help_takes_its_choices_from_constants_not_the_library(
    name: str, library: str, tmp_path: Path
) -> None:
    modules, result = loaded_modules(f"replay-{name}", "--help", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert library not in modules


def test_the_dispatchers_help_imports_no_command_module(tmp_path: Path) -> None:
    """`replaybook --help` prints the static table; `replaybook up --help` imports up alone."""
    modules, _ = loaded_modules("replaybook", "--help", home=tmp_path)
    commands = {name for name in modules if name.startswith("replaybook.commands.")}
    assert commands == {"replaybook.commands.main", "replaybook.commands.common"}
    modules, _ = loaded_modules("replaybook", "up", "--help", home=tmp_path)
    commands = {name for name in modules if name.startswith("replaybook.commands.")}
    assert commands == {"replaybook.commands.main", "replaybook.commands.common", "replaybook.commands.up",
                        "replaybook.commands.trust"}  # up asks trust's admit, and uses its --yes option


# What a list answered from its cache (libreplay/packs/listing.py) has no use for: the validator's
# (jsonschema, PyYAML), typer's coercion of text options (pydantic), rich's console, the session
# library when there is no session.
NOT_FOR_A_WARM_LIST = frozenset({"jsonschema", "yaml", "pydantic", "rich", "libreplay.session.owners",
                                 "libreplay.scenario.load"})


@pytest.mark.parametrize("argv", [
    ("replay-list",),
    ("replaybook", "list"),
    ("replay-list", "--json", "--tag", "http"),
    ("replaybook", "list", "--pack", "official"),
], ids=" ".join)
def test_a_warm_list_loads_no_validator(argv: tuple[str, ...], tmp_path: Path) -> None:
    modules, first = loaded_modules(argv[0], *argv[1:], home=tmp_path)  # validates, fills the cache
    assert first.returncode == 0, first.stderr
    assert {"jsonschema", "yaml"} <= modules  # the check can fail: a cold list validates
    modules, result = loaded_modules(argv[0], *argv[1:], home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == first.stdout
    assert "001-nginx-502" in result.stdout
    assert modules & NOT_FOR_A_WARM_LIST == set()
