"""Blind play against the real engine, with official scenarios: each leak the trainee could
read is tested absent.

- replay-up and replay-break say nothing of the scenario id or the fault drawn (without
  --reveal), and nothing inside the containers (environment, hostname, hosts) names them;
- a file a break copies in carries the time of the break, as a real edit would;
- while a check script runs, the trainee's `ps` shows none of its text or thresholds.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import docker
import pytest
from dockerkit import leftovers, run, start

from libreplay.core import paths
from libreplay.session.containers import find_container
from libreplay.session.state import load_session

pytestmark = pytest.mark.docker


def up(scenario: str, projects: list[str]) -> tuple[str, str]:
    """The session id and replay-up's talk."""
    result = run("replay-up", scenario, timeout=1200)  # a cold build included
    assert result.returncode == 0, result.stderr
    session = result.stdout.strip()
    projects.append(f"replaybook-{session}")
    return session, result.stderr


def container_of(session: str, service: str) -> Any:
    return docker.from_env().containers.get(find_container(load_session(session), service).id)


def inside(container: Any, script: str) -> str:
    return run_in(container, ["sh", "-c", script])


def run_in(container: Any, argv: list[str]) -> str:
    code, out = container.exec_run(argv)
    assert code == 0, out
    return str(out.decode(errors="replace"))


PS = ["ps", "-eo", "args"]  # as argv, not through sh -c: the sampler must not show an `sh -c` itself


def down(session: str) -> None:
    result = run("replay-down", session)
    assert result.returncode == 0, result.stderr
    assert leftovers(f"replaybook-{session}") == {}
    assert not paths.session_dir(session).exists()


def test_a_break_is_blind_and_its_files_carry_the_time_of_the_break(projects: list[str]) -> None:
    session, up_talk = up("001-nginx-502", projects)
    before = time.time()
    broke = run("replay-break", session, timeout=300)
    after = time.time()
    assert broke.returncode == 0, broke.stderr
    fault = load_session(session).fault
    assert fault is not None

    talk = up_talk + broke.stderr
    assert "as session" in talk and "injecting the fault" in talk  # it did talk …
    for secret in ("001-nginx-502", "nginx-502", f"fault {fault}", f"'{fault}'"):
        assert secret not in talk, talk  # … but named neither the scenario nor the fault

    for service in ("web", "app"):
        seen = inside(container_of(session, service), "env; hostname; cat /etc/hostname /etc/hosts")
        assert "nginx-502" not in seen and "001-" not in seen, seen

    # 001's break copies faults/checkout.conf in: `ls -l` shows the time of the break.
    web = container_of(session, "web")
    mtime = int(inside(web, "stat -c %Y /etc/nginx/conf.d/checkout.conf").strip())
    assert before - 2 <= mtime <= after + 2, (before, mtime, after)
    down(session)


def test_an_author_sees_the_scenario_and_the_fault_with_reveal(projects: list[str]) -> None:
    result = run("replay-up", "--reveal", "011-too-many-open-files", timeout=1200)
    assert result.returncode == 0, result.stderr
    session = result.stdout.strip()
    projects.append(f"replaybook-{session}")
    assert "starting official/011-too-many-open-files as session" in result.stderr
    broke = run("replay-break", session, "--fault", "low-ulimit", "--reveal", timeout=300)
    assert broke.returncode == 0, broke.stderr
    assert "injecting fault 'low-ulimit'" in broke.stderr and "(fault low-ulimit)" in broke.stderr
    down(session)


# What 011's check.sh runs in the uploads container; none of it may show in the trainee's ps.
CHECK_TEXT = ("1024", "before + 100", "uploads restarted", "Idle it holds", "/proc/$pid", "sh -c")


def test_a_running_check_shows_no_text_in_the_trainees_ps(projects: list[str]) -> None:
    session, _ = up("011-too-many-open-files", projects)
    shell = container_of(session, load_session(session).shell_service)
    baseline = run_in(shell, PS)
    samples: list[str] = []
    check = start("replay-check", session)  # runs check.sh once, on the host
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.is_set():
            samples.append(run_in(shell, PS))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = check.communicate(timeout=120)
    sampling.set()
    sampler.join(timeout=30)
    assert check.returncode == 0, (out, err)  # healthy: the check ran to its end

    seen = "\n".join(samples)
    # The check was caught running in this container (it sleeps 3 s there) …
    assert "sleep 3" in seen and "sleep 3" not in baseline, seen
    # … and it showed no script, comment or threshold: only a bare `sh -s`.
    for text in CHECK_TEXT:
        assert text not in seen, (text, [s for s in samples if text in s][:1])
    assert "sh -s" in seen
    down(session)
