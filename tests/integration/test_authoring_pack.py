"""From nothing to a proven pack against the real engine, as an author would do it: `new-pack`,
`new` once per stack template with flags only and once from the sample post-mortem, then the
pack's own `make validate test` (replaybook test --all: every scenario, every fault)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import docker
import git
import pytest
from dockerkit import ROOT, exe, run

from libreplay.authoring import scaffold
from libreplay.scenario.load import load_scenario
from libreplay.session.stack import home_id

pytestmark = pytest.mark.docker

SAMPLE = ROOT / "docs" / "examples" / "postmortem-checkout-502.md"


def _containers_of(home: Path) -> list[str]:
    label = f"org.replaybook.home={home_id(home / 'state')}"
    return [c.name for c in docker.from_env().containers.list(all=True, filters={"label": label})]


def test_a_new_pack_of_every_template_passes_its_own_make_validate_test(
    tmp_path: Path, replaybook_home: Path
) -> None:
    pack = tmp_path / "incidents"
    made = run("replaybook", "new-pack", str(pack))
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == str(pack)
    assert len(list(git.Repo(pack).iter_commits())) == 1

    for template in scaffold.TEMPLATES:
        # stdin is a pipe, not a terminal: flags only, nothing is asked
        result = run("replaybook", "new", f"t-{template}", "--pack", str(pack), "--template", template,
                     "--title", f"{template} incident", "--page", "the shop is down, please look", stdin="")
        assert result.returncode == 0, result.stderr
    drafted = run("replaybook", "new", "pm-checkout", "--pack", str(pack), "--from-postmortem", str(SAMPLE),
                  "--template", "nginx-app", stdin="")
    assert drafted.returncode == 0, drafted.stderr
    assert load_scenario(pack / "pm-checkout").page  # the page came from the post-mortem

    # The suite's REPLAYBOOK_HOLD_SECONDS=1 reaches replaybook through make's environment.
    assert os.environ["REPLAYBOOK_HOLD_SECONDS"] == "1"
    make = ["make", "-C", str(pack), "--no-print-directory", "validate", "test",
            f"REPLAYBOOK={exe('replaybook')}"]
    result = subprocess.run(make, capture_output=True, text=True, check=False, timeout=1800,
                            env=os.environ.copy())
    assert result.returncode == 0, result.stdout + result.stderr[-5000:]
    validated = [line for line in result.stdout.splitlines() if line.startswith("ok  ")]
    passed = [line for line in result.stdout.splitlines() if line.startswith("PASS ")]
    assert len(validated) == len(scaffold.TEMPLATES) + 1
    assert sorted(line.split()[1] for line in passed) == sorted(
        [f"local/t-{template}" for template in scaffold.TEMPLATES] + ["local/pm-checkout"]
    )
    assert f"{len(passed)} passed, 0 failed" in result.stderr
    holds = [float(match) for match in re.findall(r"holds=([0-9.]+)s", result.stdout)]
    assert len(holds) == len(passed) and max(holds) < 10  # the templates hold 10 s; the suite's 1 s ran
    assert _containers_of(replaybook_home) == []
