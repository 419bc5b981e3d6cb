"""Pack trust at the command line: replay-add offers it, replay-up/-run/-test ask before the first run
of a pack's code, replay-trust shows and records it. Real git packs; the prompt through a real pty."""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import shutil
import struct
import subprocess
import termios
import time
from pathlib import Path
from typing import Any

import pytest
from dockerkit import TESTPACK, exe, leftovers, remove_project
from scenario_kit import DELETE, add_scenario_commit, make_pack_repo, write_scenario
from typer.testing import CliRunner, Result

from libreplay.core import paths
from libreplay.packs import catalog as packs
from libreplay.packs import trust
from replaybook.commands import add, remove, test, up
from replaybook.commands import main as dispatcher
from replaybook.commands import trust as trust_command

ESCAPES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def run(app: Any, *args: str) -> Result:
    result = CliRunner().invoke(app, list(args))  # CliRunner's stdin is no terminal
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


@pytest.fixture
def drills(tmp_path: Path) -> Any:
    """A pack source: a git repository of two scenarios, not added yet."""
    return make_pack_repo(tmp_path / "drills", ["900-dns", "901-disk-full"])


def add_drills(tmp_path: Path, *extra: str) -> Result:
    result = run(add.app, str(tmp_path / "drills"), *extra)
    assert result.exit_code == 0, result.output
    return result


def head(repo: Any) -> str:
    return str(repo.head.commit.hexsha)


def nothing_started() -> None:
    assert not paths.sessions_dir().exists() or list(paths.sessions_dir().iterdir()) == []


# -- replay-add --------------------------------------------------------------------------------


def test_add_without_a_terminal_shows_what_runs_and_leaves_the_pack_untrusted(
    tmp_path: Path, drills: Any
) -> None:
    result = add_drills(tmp_path)
    assert f"Pack drills at commit {head(drills)[:12]}" in result.stderr
    assert "drills/900-dns" in result.stderr and "script   solve.sh" in result.stderr
    assert "service  web       image debian:bookworm-slim" in result.stderr
    assert "Pack drills is not trusted at" in result.stderr
    assert "replay-trust drills --yes" in result.stderr
    assert not trust.is_trusted(packs.get_pack("drills"))
    assert result.stdout.splitlines()[0].split() == ["ID", "DIFF", "TITLE"]  # stdout stays the table


def test_add_yes_trusts_the_commit_just_fetched(tmp_path: Path, drills: Any) -> None:
    result = add_drills(tmp_path, "--yes")
    assert f"Trusted pack drills at {head(drills)[:12]}." in result.stderr
    [record] = trust.trusted_records()
    assert (record.source, record.commit) == (str((tmp_path / "drills").resolve()), head(drills))
    again = add_drills(tmp_path)  # nothing new fetched: still trusted, nothing asked
    assert f"Pack drills is trusted at {head(drills)[:12]}." in again.stderr


def test_an_update_that_moves_the_commit_asks_again(tmp_path: Path, drills: Any) -> None:
    add_drills(tmp_path, "--yes")
    old = head(drills)
    add_scenario_commit(drills, "902-cert-expired")
    updated = add_drills(tmp_path)
    assert f"Pack drills at commit {head(drills)[:12]}" in updated.stderr
    assert "drills/902-cert-expired" in updated.stderr
    assert f"Pack drills is not trusted at {head(drills)[:12]}" in updated.stderr
    refused = run(up.app, "drills/900-dns")
    assert refused.exit_code == 7
    assert f"not trusted at commit {head(drills)[:12]}" in refused.stderr
    assert old[:12] not in refused.stderr
    nothing_started()


def test_remove_forgets_the_answer(tmp_path: Path, drills: Any) -> None:
    add_drills(tmp_path, "--yes")
    assert run(remove.app, "drills").exit_code == 0
    assert trust.trusted_records() == []
    add_drills(tmp_path)
    assert not trust.is_trusted(packs.get_pack("drills"))


def test_add_shows_hostile_text_inert(tmp_path: Path) -> None:
    name = "dr\x1b]0;owned\x07ills\u202e"
    script = "br\x1b[2J\x1b]52;c;ZXZpbA==\x07eak.sh"
    repo = make_pack_repo(tmp_path / name, [])
    write_scenario(Path(repo.working_tree_dir) / "900-x",
                   meta={"id": "900-x", "break": DELETE, "faults": [{"name": "f", "script": script}]},
                   files={script: "echo\n"})
    repo.git.add("--all")
    repo.index.commit("hostile")
    result = run(add.app, str(tmp_path / name))
    assert result.exit_code == 0, result.output
    assert "script   break.sh" in result.stderr
    assert not ESCAPES.search(result.stderr.replace("\n", "")), repr(result.stderr)
    refused = run(up.app, "900-x")
    assert refused.exit_code == 7
    assert not ESCAPES.search(refused.stderr.replace("\n", "")), repr(refused.stderr)


# -- the commands that start a session -------------------------------------------------------------


@pytest.mark.parametrize(
    "invocation",
    [(up.app, "drills/900-dns"), (test.app, "drills/900-dns"), (test.app, "--all", "drills")],
    ids=["up", "test", "test-all"],
)
def test_without_a_terminal_nor_yes_nothing_runs_and_the_message_says_what_to(
    tmp_path: Path, drills: Any, invocation: tuple[Any, ...]
) -> None:
    add_drills(tmp_path)
    app, *args = invocation
    result = run(app, *args)
    assert result.exit_code == 7, result.output
    short = head(drills)[:12]
    assert f"Error: pack drills is not trusted at commit {short}" in result.stderr
    assert "nothing was run; to trust it: replay-trust drills --yes (or give this command --yes)" in (
        result.stderr
    )
    assert "Hint: replay-trust drills lists every script and service it runs, then asks" in result.stderr
    assert result.stdout == ""
    nothing_started()
    assert not trust.is_trusted(packs.get_pack("drills"))


def test_official_and_local_scenarios_are_not_asked_about(tmp_path: Path) -> None:
    mine = write_scenario(tmp_path / "work" / "mine", meta={"id": "mine"}, files={"solve.sh": None})
    # The gate passes, and the command goes on to fail for its own reason (no solve.sh): no exit 7.
    result = run(test.app, str(mine))
    assert result.exit_code == 1, result.output
    assert "solve.sh is missing" in result.stdout
    assert not paths.trust_path().exists()


# -- replay-trust ------------------------------------------------------------------------------------


def test_replay_trust_without_a_terminal_shows_and_refuses_then_yes_records(
    tmp_path: Path, drills: Any
) -> None:
    add_drills(tmp_path)
    shown = run(trust_command.app, "drills")
    assert shown.exit_code == 7
    assert f"Pack drills at commit {head(drills)[:12]}" in shown.stderr
    assert "replay-trust drills --yes" in shown.stderr
    yes = run(trust_command.app, "drills", "--yes")
    assert yes.exit_code == 0, yes.output
    assert f"Trusted pack drills at {head(drills)[:12]}." in yes.stderr
    again = run(trust_command.app, "drills")
    assert again.exit_code == 0
    assert f"Pack drills is trusted at {head(drills)[:12]}." in again.stderr


def test_replay_trust_json_and_the_official_pack(tmp_path: Path, drills: Any) -> None:
    add_drills(tmp_path, "--yes")
    record = json.loads(run(trust_command.app, "drills", "--json").stdout)
    assert (record["pack"], record["commit"], record["trusted"]) == ("drills", head(drills), True)
    assert [s["ref"] for s in record["scenarios"]] == ["drills/900-dns", "drills/901-disk-full"]
    assert record["scenarios"][0]["scripts"][0]["path"] == "solve.sh"
    official = run(trust_command.app, "official")
    assert official.exit_code == 0 and "always trusted" in official.stderr
    assert run(trust_command.app, "ghost").exit_code == 4


def test_the_dispatcher_knows_trust(tmp_path: Path, drills: Any) -> None:
    add_drills(tmp_path)
    result = run(dispatcher.build(), "trust", "drills", "--yes")
    assert result.exit_code == 0, result.output
    assert trust.is_trusted(packs.get_pack("drills"))


# -- the question, asked in a real terminal ------------------------------------------------------------


def in_terminal(*argv: str, answer: str, timeout: float = 60) -> tuple[int, str]:
    """Run an executable with a pty as stdin, stdout and stderr; type ``answer`` at the y/N prompt."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 250, 0, 0))  # nothing wraps
    process = subprocess.Popen([exe(argv[0]), *argv[1:]], stdin=slave, stdout=slave, stderr=slave,
                               env=os.environ.copy(), start_new_session=True)
    os.close(slave)
    seen, answered = b"", False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every end of the terminal is closed, the process is done
                    break
                if not chunk:
                    break
                seen += chunk
            # The whole prompt, its last space included (click writes it last): typed earlier, the
            # terminal's echo of the answer would land before that space.
            if not answered and b"[y/N]: " in seen:
                os.write(master, answer.encode() + b"\r")  # Enter, as a person types it
                answered = True
        else:
            raise AssertionError(f"{argv[0]} still running after {timeout} s; saw:\n{seen.decode()}")
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    assert answered, seen.decode(errors="replace")
    return code, seen.decode(errors="replace").replace("\r\n", "\n")


def test_replay_trust_asks_in_a_terminal_and_records_yes(tmp_path: Path, drills: Any) -> None:
    add_drills(tmp_path)
    code, screen = in_terminal("replay-trust", "drills", answer="y")
    assert code == 0, screen
    short = head(drills)[:12]
    assert f"Pack drills at commit {short}" in screen
    assert f"Trust drills at {short} and run its scripts on this machine? [y/N]: y" in screen
    assert trust.is_trusted(packs.get_pack("drills"))


def test_replay_add_asks_in_a_terminal(tmp_path: Path, drills: Any) -> None:
    code, screen = in_terminal("replay-add", str(tmp_path / "drills"), answer="y")
    assert code == 0, screen
    assert f"Trusted pack drills at {head(drills)[:12]}." in screen
    assert trust.is_trusted(packs.get_pack("drills"))


@pytest.mark.parametrize("command", ["replay-up", "replay-run"])
@pytest.mark.parametrize("answer", ["n", ""], ids=["no", "enter"])
def test_no_or_enter_at_the_question_runs_nothing(
    tmp_path: Path, drills: Any, command: str, answer: str
) -> None:
    if command == "replay-run" and shutil.which("tmux") is None:
        pytest.skip("replay-run asks about tmux first where it is missing")
    add_drills(tmp_path)
    code, screen = in_terminal(command, "drills/900-dns", answer=answer)
    assert code == 7, screen
    assert "drills/900-dns" in screen and "script   solve.sh" in screen  # the summary came first
    assert f"pack drills is not trusted at commit {head(drills)[:12]} (the answer was no)" in screen
    assert "Traceback" not in screen
    nothing_started()
    assert not trust.is_trusted(packs.get_pack("drills"))


# -- with --yes the run goes on: real containers -------------------------------------------------------


@pytest.mark.docker
def test_up_yes_records_the_commit_and_runs(tmp_path: Path) -> None:
    repo = make_pack_repo(tmp_path / "drills", [])
    shutil.copytree(TESTPACK / "t-exit", Path(repo.working_tree_dir) / "t-exit")
    repo.git.add("--all")
    repo.index.commit("t-exit")
    add_drills(tmp_path)
    project = None
    try:
        result = subprocess.run([exe("replay-up"), "drills/t-exit", "--yes"], capture_output=True,
                                text=True, timeout=600, env=os.environ.copy(), stdin=subprocess.DEVNULL,
                                check=False)
        assert result.returncode == 0, result.stderr
        session_id = result.stdout.strip()
        project = f"replaybook-{session_id}"
        assert f"Trusted pack drills at {head(repo)[:12]} (--yes)" in result.stderr
        [record] = trust.trusted_records()
        assert record.commit == head(repo)
        # replay-down (like -break, -check, -hint) acts on an admitted session: it never asks.
        down = subprocess.run([exe("replay-down"), session_id], capture_output=True, text=True,
                              timeout=300, env=os.environ.copy(), stdin=subprocess.DEVNULL, check=False)
        assert down.returncode == 0, down.stderr
        assert leftovers(project) == {}
    finally:
        if project is not None:
            remove_project(project)
