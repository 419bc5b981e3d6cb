"""What the benchmark scripts share: running replaybook's executables of this interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def replay(*argv: str) -> str:
    """Run ``replay-X …`` from this virtual environment; its stdout, or RuntimeError with its stderr."""
    result = subprocess.run(
        [str(BIN / argv[0]), *argv[1:]], capture_output=True, text=True, check=False, env=os.environ
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{result.stderr}")
    return result.stdout.strip()
