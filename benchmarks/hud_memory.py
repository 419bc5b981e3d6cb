"""Peak resident memory of a real replay-hud process.

Creates a session.toml of its own (in a temporary REPLAYBOOK_HOME), starts `replay-hud` on a
pseudo-terminal, lets it tick for a while and redraw on several state changes (hints revealed,
a resize, resolution), samples its RSS every 50 ms with psutil, and prints the peak (VmHWM from
/proc when available, which also catches peaks between samples). The budget is 60 MB.

    .venv/bin/python benchmarks/hud_memory.py [--seconds 12]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from datetime import timedelta
from pathlib import Path

import psutil

BUDGET_MB = 60.0


def make_session(session_id: str) -> None:
    from libreplay.session import state as st

    st.save_new_session(st.SessionState(
        id=session_id, scenario="bench", pack="official", scenario_dir="/nowhere",
        project=st.project_name(session_id), status=st.ACTIVE, title="Benchmark outage",
        page="URGENT: users getting 502s on checkout. " * 8, services=["web", "db", "app"],
        shell_service="web", hints_total=3, sla_seconds=900, started_at=st.now(),
        deadline=st.now() + timedelta(seconds=900),
    ))


def peak_from_proc(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def drain(fd: int) -> None:
    while select.select([fd], [], [], 0)[0]:
        try:
            if not os.read(fd, 65536):
                return
        except OSError:
            return


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="how long the HUD runs")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="hud-bench-"))
    os.environ["REPLAYBOOK_HOME"] = str(home)
    from libreplay.session import state as st

    session_id = "hudbench"
    make_session(session_id)
    master, slave = pty.openpty()
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 40, 0, 0))
    hud = subprocess.Popen([str(Path(sys.executable).with_name("replay-hud")), session_id, "--tmux"],
                           stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    process = psutil.Process(hud.pid)
    peak_sampled = 0.0
    changes = [
        lambda s: (s.hints_revealed.append("Look at the nginx error log " * 3), setattr(s, "hints_used", 1)),
        lambda s: (s.hints_revealed.append("Compare the upstream port"), setattr(s, "hints_used", 2)),
        lambda s: setattr(s, "page", s.page + "\nupdate: still down"),
        lambda s: (setattr(s, "status", st.RESOLVED), setattr(s, "resolved_at", st.now())),
    ]
    start = time.monotonic()
    next_change = start + 2
    try:
        while time.monotonic() - start < args.seconds:
            drain(master)
            peak_sampled = max(peak_sampled, process.memory_info().rss / 2**20)
            if changes and time.monotonic() >= next_change:
                st.update_session(session_id, changes.pop(0))
                fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 30 + len(changes) * 5, 0, 0))
                hud.send_signal(signal.SIGWINCH)
                next_change += 2
            time.sleep(0.05)
        peak = max(peak_sampled, peak_from_proc(hud.pid) or 0.0)
        shutil.rmtree(st.session_file(session_id).parent)  # the HUD must leave on its own
        hud.wait(timeout=10)
    finally:
        if hud.poll() is None:
            hud.kill()
            hud.wait()
        os.close(master)
        shutil.rmtree(home, ignore_errors=True)
    verdict = "within" if peak < BUDGET_MB else "OVER"
    print(f"replay-hud peak RSS: {peak:.1f} MB ({verdict} the {BUDGET_MB:.0f} MB budget); "
          f"exit status {hud.returncode} after the session directory was removed")
    return 0 if peak < BUDGET_MB and hud.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
