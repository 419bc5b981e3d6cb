"""The command surface as a whole: every command has help, every module imports on its own,
and an install puts no generic top-level package (commands, hud) into site-packages."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from replaybook.commands.main import COMMANDS, build, load_command

PROJECT = Path(__file__).resolve().parents[2]
MINE = ("list", "add", "remove", "packs", "validate", "doctor", "base-image")


def built_commands() -> list[tuple[str, str]]:
    """The commands whose module exists (the dispatcher skips one not written yet)."""
    return [(entry.name, entry.module) for entry in COMMANDS
            if importlib.util.find_spec(f"replaybook.commands.{entry.module}") is not None]


def test_the_foundation_commands_are_registered() -> None:
    names = {name for name, _ in built_commands()}
    assert set(MINE) <= names


@pytest.mark.parametrize(("name", "module_name"), built_commands(), ids=[n for n, _ in built_commands()])
def test_every_command_has_help(name: str, module_name: str) -> None:
    module = importlib.import_module(f"replaybook.commands.{module_name}")
    assert len(module.app.registered_commands) == 1, "one command per executable"
    info = module.app.registered_commands[0]
    help_text = info.help or (info.callback.__doc__ or "")
    assert help_text.strip(), f"{name} has no help text"
    assert module.main is module.app

    result = CliRunner().invoke(build(), [name, "--help"])
    assert result.exit_code == 0, result.output
    assert f"Usage: replaybook {name}" in result.stdout or "Usage: " in result.stdout
    assert help_text.strip().splitlines()[0][:30] in " ".join(result.stdout.split())


def test_the_static_table_is_true_to_the_modules_and_the_scripts() -> None:
    """`replaybook --help` prints the table without importing the modules: each entry's help
    must be what the module's command says of itself, and the table must hold exactly the
    replay-* executables pyproject installs, each pointing at its entry's module."""
    scripts = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]["scripts"]
    installed = {name.removeprefix("replay-"): target for name, target in scripts.items()
                 if name.startswith("replay-")}
    assert {entry.name for entry in COMMANDS} == set(installed)
    for entry in COMMANDS:
        assert installed[entry.name] == f"replaybook.commands.{entry.module}:main"
        module = importlib.import_module(f"replaybook.commands.{entry.module}")
        own_help = typer.main.get_command(module.app).get_short_help_str(limit=10_000)
        assert entry.short_help == own_help, f"the table's help of {entry.name!r} differs from its module's"
        assert load_command(entry).get_short_help_str(limit=10_000) == own_help


def test_dispatcher_lists_every_built_command() -> None:
    result = CliRunner().invoke(build(), ["--help"])
    assert result.exit_code == 0
    for name, _ in built_commands():
        assert name in result.stdout


def _modules() -> list[str]:
    import libreplay
    import replaybook.commands

    names = []
    for package in (libreplay, replaybook.commands):
        names += [info.name for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")]
    return sorted(names)


def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    """Each module first, in its own interpreter: an import cycle fails whichever module starts it."""
    modules = _modules()
    assert "libreplay.scenario.model" in modules and "replaybook.commands.add" in modules
    running = {
        name: subprocess.Popen([sys.executable, "-c", f"import {name}"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name in modules
    }
    failures = {}
    for name, process in running.items():
        _, stderr = process.communicate(timeout=120)
        if process.returncode != 0:
            failures[name] = stderr.strip().splitlines()[-1:]
    assert failures == {}


def test_help_does_not_import_heavy_libraries() -> None:
    """--help stays instant: docker, git, libtmux and rich are imported lazily."""
    code = (
        "import sys\n"
        "from replaybook.commands.main import build\n"
        "from typer.testing import CliRunner\n"
        "CliRunner().invoke(build(), ['--help'])\n"
        "heavy = {'docker', 'git', 'libtmux'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True).stdout
    assert output.strip() == "[]"


def _copy_project(target: Path) -> None:
    ignore = shutil.ignore_patterns(".venv", ".git", "*.egg-info", "__pycache__", ".mypy_cache",
                                    ".ruff_cache", ".pytest_cache", "build", "dist", "tests")
    shutil.copytree(PROJECT, target, ignore=ignore)


@pytest.mark.timeout(300)
def test_wheel_installs_no_generic_top_level_package(tmp_path: Path) -> None:
    """What `pip install .` would put into site-packages: only libreplay and replaybook."""
    source = tmp_path / "src"
    _copy_project(source)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path / "out"),
         str(source)],
        capture_output=True, text=True, timeout=280, check=False,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = (tmp_path / "out").glob("replaybook-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"libreplay", "replaybook"}
    assert "replaybook/commands/main.py" in names
    assert "replaybook/commands/add.py" in names
    assert "libreplay/py.typed" in names
    assert any(name.startswith("replaybook/packs/official/") for name in names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "replay-validate = replaybook.commands.validate:main" in text


def test_the_readmes_table_of_single_commands_names_every_executable() -> None:
    """README's table of single commands (its rows start with a replay-* executable) lists every
    replay-* script pyproject installs."""
    scripts = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]["scripts"]
    installed = {name for name in scripts if name.startswith("replay-")}
    readme = (PROJECT / "README.md").read_text().splitlines()
    rows = [line for line in readme if line.startswith("| `replay-")]
    named = {name for row in rows for name in re.findall(r"replay-[a-z][a-z-]*", row.split(" | ")[0])}
    assert installed - named == set()
