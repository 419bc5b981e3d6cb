"""The library's layering (pyproject.toml, [tool.importlinter]) holds, and the check bites.

``scenario`` and ``packs`` never import ``session``; ``session`` never imports ``play``; nothing
in ``libreplay`` imports the command layer (``replaybook``) or typer. import-linter reads every
import statement, the lazy ones inside functions too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """import-linter over the ``libreplay`` found in ``root`` (its own copy comes first on the path)."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def test_the_library_keeps_its_layers() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def copy_of_library(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "libreplay", tmp_path / "libreplay", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


@pytest.mark.parametrize(
    ("module", "forbidden", "contract"),
    [
        # a lazy import inside a function counts as much as one at the top
        ("scenario/model.py", "    from libreplay.session import state", "layered by stage"),
        ("packs/catalog.py", "from libreplay.session import lifecycle", "layered by stage"),
        ("session/state.py", "from libreplay.play import debrief", "layered by stage"),
        ("core/paths.py", "from libreplay.engine import docker_api", "layered by stage"),
        ("session/ledger.py", "import typer", "no command-line layer"),
        ("play/debrief.py", "from replaybook.commands import common", "no command-line layer"),
    ],
)
def test_a_forbidden_import_breaks_the_check(
    tmp_path: Path, module: str, forbidden: str, contract: str
) -> None:
    root = copy_of_library(tmp_path)
    target = root / "libreplay" / module
    text = target.read_text()
    if forbidden.startswith("    "):
        text += f"\n\ndef _sneaky() -> None:\n{forbidden}\n"
    else:
        text += f"\n{forbidden}  # noqa\n"
    target.write_text(text)
    result = lint_imports(root)
    assert result.returncode != 0
    assert f"{contract}" in result.stdout and "BROKEN" in result.stdout
