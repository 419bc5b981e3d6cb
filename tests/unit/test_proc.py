"""libreplay.core.proc's long-running and interactive children (spawn, interactive), with real
child processes: time limits, whole process groups stopped, output kept or sent to a file,
exit statuses, the signal dispositions a child starts with, and who dies with us."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from libreplay.core import proc
from libreplay.core.errors import EnvironmentProblem
from libreplay.core.signals import handling

SLEEPER = "sleep 30 & echo $! > {pids}; wait"  # a child with a grandchild in its process group


def eventually(condition: Callable[[], bool], seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def gone(pid: int) -> bool:
    """No such process, or only a zombie (nothing may reap orphans in a container)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def pid_in(path: Path) -> int:
    assert eventually(lambda: path.exists() and path.read_text().strip() != ""), f"{path} was never written"
    return int(path.read_text().split()[0])


def ignored_signals(status: str) -> set[int]:
    """The signals a /proc/PID/status text says are ignored (its SigIgn mask)."""
    mask = int(next(line for line in status.splitlines() if line.startswith("SigIgn:")).split()[1], 16)
    return {sig for sig in range(1, 65) if mask & (1 << (sig - 1))}


@pytest.fixture
def stragglers() -> Iterator[list[int]]:
    """Pids a test expects to outlive something: killed at the end whatever happened."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# -- spawn ----------------------------------------------------------------------------------


def test_spawn_keeps_stdout_and_gives_the_exit_status() -> None:
    child = proc.spawn(["sh", "-c", "echo kept; echo elsewhere >&2; exit 3"],
                       stdout=proc.CAPTURE, stderr=proc.DISCARD)
    assert child.wait() == 3
    assert child.poll() == 3
    assert child.output() == b"kept\n"


def test_a_kept_stdout_is_read_as_it_comes_so_a_large_one_never_blocks_the_child() -> None:
    child = proc.spawn(["head", "-c", "1000000", "/dev/zero"], stdout=proc.CAPTURE)
    assert child.wait(10) == 0  # a pipe holds 64 KiB: unread, the child would still be writing
    assert len(child.output()) == 1_000_000


def test_output_is_only_for_a_kept_stdout() -> None:
    child = proc.spawn(["true"], stdout=proc.DISCARD)
    assert child.wait() == 0
    with pytest.raises(ValueError, match="not kept"):
        child.output()


def test_stderr_is_appended_to_a_file_and_stdin_can_be_empty(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    log.write_text("before\n")
    child = proc.spawn(["sh", "-c", "cat; echo after >&2"], stdin=proc.DISCARD, stdout=proc.CAPTURE,
                       stderr=log)
    assert child.wait(10) == 0  # cat met the end of its input at once
    assert child.output() == b""
    assert log.read_text() == "before\nafter\n"


def test_a_wait_with_a_time_limit_leaves_the_child_running_and_stop_ends_it() -> None:
    child = proc.spawn(["sleep", "30"])
    started = time.monotonic()
    assert child.wait(0.3) is None
    assert child.wait(0) is None
    assert child.poll() is None
    assert time.monotonic() - started >= 0.3
    child.stop(grace=5)
    assert child.poll() == -signal.SIGTERM
    assert time.monotonic() - started < 5


def test_stop_takes_the_whole_group_of_a_child_in_its_own_session(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    child = proc.spawn(["sh", "-c", SLEEPER.format(pids=pids)])
    grandchild = pid_in(pids)
    assert os.getpgid(child.pid) == child.pid != os.getpgrp()
    child.stop(grace=5)
    assert child.poll() == -signal.SIGTERM
    assert eventually(lambda: gone(grandchild))


def test_stop_kills_a_group_that_ignores_sigterm_once_the_grace_is_over(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    child = proc.spawn(["sh", "-c", "trap '' TERM; " + SLEEPER.format(pids=pids)])
    grandchild = pid_in(pids)
    started = time.monotonic()
    child.stop(grace=1)
    assert 1 <= time.monotonic() - started < 5
    assert child.poll() == -signal.SIGKILL
    assert eventually(lambda: gone(grandchild))


def test_a_child_in_our_process_group_is_signalled_alone(tmp_path: Path, stragglers: list[int]) -> None:
    pids = tmp_path / "pids"
    child = proc.spawn(["sh", "-c", SLEEPER.format(pids=pids)], own_session=False, dies_with_us=False)
    grandchild = pid_in(pids)
    stragglers.append(grandchild)
    assert os.getpgid(child.pid) == os.getpgrp()  # so it has our terminal
    child.signal(signal.SIGTERM)
    assert child.wait(5) == -signal.SIGTERM
    assert not gone(grandchild)  # the group is ours: nothing but the child itself was signalled
    child.signal(signal.SIGKILL)  # once it has ended, a signal reaches nothing
    child.stop(grace=1)


def test_a_missing_program_is_an_environment_problem() -> None:
    with pytest.raises(EnvironmentProblem, match="replaybook-no-such-program is not installed"):
        proc.spawn(["replaybook-no-such-program"])


def test_a_missing_log_directory_is_not_a_missing_program(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        proc.spawn(["true"], stderr=tmp_path / "nowhere" / "child.log")


# -- the signal dispositions a child starts with ----------------------------------------------


def test_a_child_starts_with_what_we_ignore_ignored_and_sigpipe_and_sighup_at_their_default() -> None:
    """What run's clean-up relies on: replay-down, started while run ignores the stop signals,
    ignores them too. SIGPIPE (which Python ignores for itself) is back to its default, and
    SIGHUP reaches a child on the terminal as it reaches us."""
    status = ["cat", "/proc/self/status"]
    plain = proc.spawn(status, stdout=proc.CAPTURE, own_session=False, dies_with_us=False)
    assert plain.wait(10) == 0
    assert not ignored_signals(plain.output().decode()) & {signal.SIGPIPE, signal.SIGHUP, signal.SIGTERM}
    with handling({signal.SIGTERM: signal.SIG_IGN, signal.SIGHUP: signal.SIG_IGN}):
        shielded = proc.spawn(status, stdout=proc.CAPTURE, own_session=False, dies_with_us=False)
        assert shielded.wait(10) == 0
    assert {signal.SIGTERM, signal.SIGHUP} <= ignored_signals(shielded.output().decode())


def test_an_interactive_child_inherits_what_we_ignore(capfd: pytest.CaptureFixture[str]) -> None:
    with handling({signal.SIGTERM: signal.SIG_IGN}):
        assert proc.interactive(["cat", "/proc/self/status"]) == 0
    ignored = ignored_signals(capfd.readouterr().out)
    assert signal.SIGTERM in ignored and signal.SIGPIPE not in ignored


# -- interactive ------------------------------------------------------------------------------


def test_interactive_gives_the_exit_status_and_uses_the_environment_given() -> None:
    assert proc.interactive(["sh", "-c", "exit 7"]) == 7
    assert proc.interactive(["sh", "-c", "kill -TERM $$"]) == -signal.SIGTERM
    assert proc.interactive(["sh", "-c", 'test "$PROC_TEST" = given'],
                            env={**os.environ, "PROC_TEST": "given"}) == 0
    assert proc.interactive(["sh", "-c", 'test -z "$PROC_TEST"']) == 0


def test_interactive_shares_our_process_group(capfd: pytest.CaptureFixture[str]) -> None:
    assert proc.interactive(["sh", "-c", "ps -o pgid= -p $$"]) == 0
    assert int(capfd.readouterr().out) == os.getpgrp()


class Interrupt(Exception):
    pass


def _interrupt(_signum: int) -> None:
    raise Interrupt


def test_an_interrupted_interactive_child_is_killed_and_the_interrupt_goes_on(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    started = time.monotonic()
    with handling({signal.SIGALRM: _interrupt}), pytest.raises(Interrupt):
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        try:
            proc.interactive(["sh", "-c", f"echo $$ > {pids}; exec sleep 30"])
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    assert time.monotonic() - started < 5
    assert gone(pid_in(pids))


# -- when we are killed -------------------------------------------------------------------------


def test_a_tied_child_dies_with_us_and_an_untied_one_outlives_us(tmp_path: Path,
                                                                 stragglers: list[int]) -> None:
    """SIGKILL to the parent: the tied child's whole group goes (parent-death signal, reaper);
    the untied one (a run step, a tmux client) is still there."""
    tied, untied = tmp_path / "tied", tmp_path / "untied"
    program = textwrap.dedent(f"""
        import time
        from libreplay.core import proc
        proc.spawn(["sh", "-c", {SLEEPER.format(pids=tied)!r}])
        proc.spawn(["sh", "-c", {SLEEPER.format(pids=untied)!r}], dies_with_us=False)
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", program])
    try:
        tied_grandchild, untied_grandchild = pid_in(tied), pid_in(untied)
        stragglers.extend([tied_grandchild, untied_grandchild])
        untied_child = int(subprocess.run(["ps", "-o", "ppid=", "-p", str(untied_grandchild)],
                                          capture_output=True, text=True, check=True).stdout)
        stragglers.append(untied_child)
    finally:
        parent.kill()
        parent.wait(timeout=30)
    assert eventually(lambda: gone(tied_grandchild))  # the reaper gives a second's grace first
    time.sleep(1.5)  # past the reaper's grace: what it spared stays spared
    assert not gone(untied_grandchild) and not gone(untied_child)


# -- run in our own session (a doctor's fix: sudo may ask on our terminal) ----------------------


def test_run_outside_a_session_of_its_own_keeps_our_group_and_a_timeout_stops_it_alone(
    tmp_path: Path, stragglers: list[int]
) -> None:
    pids = tmp_path / "pids"
    ids = "echo $(ps -o pgid= -p $$) $(ps -o sid= -p $$)"
    script = f"{ids} > {tmp_path / 'ids'}; {SLEEPER.format(pids=pids)}"
    with pytest.raises(proc.ProcessTimeout):
        proc.run(["sh", "-c", script], timeout=1, own_session=False)
    group, session = (int(word) for word in (tmp_path / "ids").read_text().split())
    assert (group, session) == (os.getpgrp(), os.getsid(0))  # so it has our terminal, sudo's prompt
    grandchild = pid_in(pids)
    stragglers.append(grandchild)
    assert not gone(grandchild)  # our group: the child alone was stopped, and we are still here


def test_run_in_a_session_of_its_own_by_default() -> None:
    ran = proc.run(["sh", "-c", "ps -o sid= -p $$"], timeout=10)
    assert int(ran.stdout) != os.getsid(0)


def test_a_run_past_its_time_limit_stops_the_whole_tree_and_says_so(tmp_path: Path) -> None:
    # The grandchild holds the output open: the tree goes at the limit, not the child alone.
    pids = tmp_path / "pids"
    started = time.monotonic()
    with pytest.raises(proc.ProcessTimeout, match="did not finish within 1 s"):
        proc.run(["sh", "-c", SLEEPER.format(pids=pids)], timeout=1)
    assert time.monotonic() - started < 20  # far below the sleeper's 30 s
    assert eventually(lambda: gone(pid_in(pids)))


def test_a_run_past_its_time_limit_kills_a_child_that_ignores_sigterm() -> None:
    # A check.sh trapping TERM would otherwise hold run(), and the fix watcher, forever.
    trapper = "trap '' TERM; while :; do sleep 0.2; done"
    started = time.monotonic()
    with pytest.raises(proc.ProcessTimeout, match="did not finish within 1 s"):
        proc.run(["bash", "-c", trapper], timeout=1)
    assert time.monotonic() - started < 1 + 2 * proc.TREE_GRACE_SECONDS + 3  # SIGKILL after the grace


def test_a_reaped_child_is_never_signalled_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # Its pid may belong to another process by then.
    sent: list[int] = []
    monkeypatch.setattr(proc, "_signal_group", lambda group, sig: sent.append(sig) or True)
    child = proc._Child.start(["true"], timeout=10, cwd=None, env=None, stdout=None, stderr=None)
    assert child.wait() == 0
    child._expire()  # a timer firing just as the child was reaped
    child.stop()
    assert sent == []


def test_a_run_within_its_time_limit_gives_the_exit_status_and_output() -> None:
    ran = proc.run(["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=10)
    assert (ran.exit_code, ran.stdout, ran.stderr) == (3, "out\n", "err\n")
