"""commands.common's pydantic bypass leans on typer's private API: without it, commands still run."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# In a fresh interpreter: the bypass is applied once per process, and this one may have it already.
WITHOUT_PRIVATE_NAME = textwrap.dedent("""
    import sys
    import typer._coercion
    import typer.core

    parameter_class = typer.core._TyperParameter
    original = parameter_class.get_runtime_param
    del {missing}  # a typer release that renamed or dropped it
    from replaybook.commands import list_

    sys.argv = ["replay-list", "--json"]
    try:
        list_.main()
    finally:
        assert parameter_class.get_runtime_param is original, "patched anyway"
""")


def test_a_command_runs_without_the_bypass_when_typers_private_name_is_gone() -> None:
    script = WITHOUT_PRIVATE_NAME.replace("{missing}", "typer._coercion.PassThroughRuntimeParam")
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                         check=False)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.lstrip().startswith(("[", "{")), ran.stdout  # the list itself, as JSON
