"""Fair wins on the engine's side: the guards, and the restart a fix must survive.

A guard (docs/scenario-format.md, "Fair wins") is a named check that passes while the scenario
is broken and fails when a shortcut destroys what the real fix keeps. :func:`failing_guards`
runs every guard once; :class:`GuardRunner` does so for the watcher, whose one queue takes its
:class:`GuardsChecked`: every :data:`GUARD_INTERVAL_SECONDS` while a round can start, suspend or
end a hold or while the trainee's shell runs a command, every :data:`GUARD_IDLE_INTERVAL_SECONDS`
otherwise (a guard script costs the Compose CLI), and at once when the watcher nudges it (a
command typed in the shell finished, a ``docker exec`` ended, a container stopped or came back,
the check passed).
:class:`Restarter` restarts the ``survive_restart`` services off the watcher's thread and says
when it is done.

:func:`prove_holds` is the same rules for ``replaybook test``, polled: after the reference fix,
the services restart, the check passes again and keeps passing for the hold, and every guard
passes at its end.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from libreplay.core.errors import ReplayError
from libreplay.core.proc import ProcessTimeout
from libreplay.engine import docker_api
from libreplay.scenario.model import Guard
from libreplay.session.checks import CHECK_TIMEOUT_SECONDS, Check, EventSink
from libreplay.session.stack import probe_url

GUARD_INTERVAL_SECONDS = 2.0
# Only while the check fails and the trainee's shell sits at its prompt: then nothing waits on a
# round but a guard's message and charge, and whatever could change what a guard sees nudges a
# round at once (a command typed in the shell finished, an exec ended, a container changed).
GUARD_IDLE_INTERVAL_SECONDS = 30.0
# While the check fails and no guard fails: news-driven rounds (a command finished, an exec
# ended) at most this often; the first of a series at once (the watcher's _guard_news_spacing).
GUARD_NEWS_QUIET_SPACING_SECONDS = 5.0
OWN_ROUNDS_KEPT = 4  # rounds whose windows are remembered, to know the guards' own execs
RESTART_GRACE_SECONDS = 10  # what a service gets to stop before it is killed, as `docker restart`
RETURN_TIMEOUT_SECONDS = 60  # for the check to pass again once the services are back
# The longest a script waits for a place: past it, it runs all the same. Two sessions whose
# guards hang for their timeout (a psql holding locks) must not hold every other session's
# rounds, a hold's last round or a break's proof, for as long as they like.
GUARD_PLACE_WAIT_SECONDS = 5.0
# How long past the deadline a session may go on verifying a fix that landed in time: the
# restart, the return, a guard round that starts after the hold, waits for a place and runs its
# slowest script.
VERIFY_SLACK_SECONDS = (
    RESTART_GRACE_SECONDS + RETURN_TIMEOUT_SECONDS + 2 * GUARD_INTERVAL_SECONDS + GUARD_PLACE_WAIT_SECONDS
    + CHECK_TIMEOUT_SECONDS
)
HOLD_POLL_SECONDS = 0.5


# Guard scripts running at once in this process, whatever their session: each is a bash and a
# Compose CLI (tens of MB resident, ~80 ms of CPU), and replaybook serve watches a dozen sessions
# whose trainees may type in step; past this many, a round waits for a place (its session's
# rounds are one at a time already).
GUARD_SCRIPTS_AT_ONCE = 2
_guard_script_places = threading.BoundedSemaphore(GUARD_SCRIPTS_AT_ONCE)


def guard_passes(check: Check, guard: Guard) -> bool:
    """One run of ``guard``: its page fetched by the probe, or its script on the host."""
    if guard.http:
        return check.fetch_ok(probe_url(check.stack.scenario, guard.target))
    placed = _guard_script_places.acquire(timeout=GUARD_PLACE_WAIT_SECONDS)
    try:
        return check.stack.run_script(guard.script or "", timeout=CHECK_TIMEOUT_SECONDS).ok
    except ProcessTimeout:
        return False  # a guard that hangs does not pass
    finally:
        if placed:
            _guard_script_places.release()


def failing_guards(check: Check, stop: threading.Event | None = None) -> list[Guard]:
    """The scenario's guards that fail right now, in their order (those after ``stop`` was set
    are not run: the watch that asked has ended, its stack may be gone)."""
    failing = []
    for guard in check.stack.scenario.guards:
        if stop is not None and stop.is_set():
            break
        if not guard_passes(check, guard):
            failing.append(guard)
    return failing


def guard_failure(guards: Sequence[Guard]) -> str:
    """How failing guards are reported to an author (``replaybook test``, a refused break)."""
    return "; ".join(f"guard {guard.name!r} fails ({guard.message})" for guard in guards)


@dataclass(frozen=True)
class GuardsChecked:
    """Every guard ran once, from ``at`` (monotonic): these failed. A round in which a guard
    failed while a service was not running is not ``conclusive``: a guard that execs into a
    stopped or restarting container fails without anything being lost (a trainee's `docker
    restart`, the hold's own restart), so such a round neither charges nor clears anything."""

    at: float
    failing: tuple[Guard, ...]
    conclusive: bool = True


class GuardRunner(threading.Thread):
    """Runs the guards a round every ``pace()`` seconds (GUARD_INTERVAL_SECONDS unless told), or
    at once after :meth:`nudge`, until ``stop`` is set (and nudged). A round that fails on the
    engine is skipped: the watcher's own followers report an engine that went away."""

    def __init__(
        self, check: Check, events: EventSink[GuardsChecked], stop: threading.Event,
        pace: Callable[[], float] = lambda: GUARD_INTERVAL_SECONDS,
    ) -> None:
        super().__init__(name="guards", daemon=True)
        self.check = check
        self.events = events
        self.stop = stop
        self.pace = pace
        self.woken = threading.Event()
        self._windows: deque[tuple[float, float]] = deque(maxlen=OWN_ROUNDS_KEPT)  # unix time
        self._running_since: float | None = None

    def ran_during(self, moment: float) -> bool:
        """Whether ``moment`` (unix time) fell inside one of the last rounds, or the one running:
        an exec that ended then may be one of the guards' own."""
        running = self._running_since
        if running is not None and moment >= running:
            return True
        return any(start <= moment <= end for start, end in list(self._windows))

    def nudge(self) -> None:
        """Start the next round now (or right after the one running)."""
        self.woken.set()

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            self.woken.clear()  # a nudge from now on asks for a round after this one
            since = self._running_since = time.time()
            try:
                failing = tuple(failing_guards(self.check, self.stop))
                conclusive = not failing or every_service_running(self.check)
            except ReplayError:
                failing = None
            finally:
                self._windows.append((since, time.time()))
                self._running_since = None
            if failing is not None and not self.stop.is_set():
                self.events.put(GuardsChecked(started, failing if conclusive else (), conclusive))
            self._pause(started)

    def _pause(self, started: float) -> None:
        """Until the pace says the next round is due (asked again each second: it may quicken)."""
        while not self.stop.is_set():
            left = self.pace() - (time.monotonic() - started)
            if left <= 0 or self.woken.wait(min(left, 1.0)):
                return


def every_service_running(check: Check) -> bool:
    """Whether each of the scenario's services has a running container."""
    stack = check.stack
    with docker_api.engine_errors():
        found = docker_api.labelled("containers", running_only=True, project=stack.project)
    running = {container.labels.get(docker_api.SERVICE_LABEL) for container in found}
    return set(stack.scenario.services) <= running


def restart_services(check: Check, services: Sequence[str]) -> str | None:
    """Restart each service's container (a stopped one starts); None, or what went wrong."""
    stack = check.stack
    for service in services:
        try:
            with docker_api.engine_errors():
                found = docker_api.labelled("containers", project=stack.project, service=service)
                if not found:
                    return f"service {service} has no container"
                for container in found:
                    container.restart(timeout=RESTART_GRACE_SECONDS)
        except ReplayError as failure:
            return f"service {service} could not be restarted: {failure.message}"
        except Exception as failure:  # noqa: BLE001 - the SDK's own errors (a container removed meanwhile)
            return f"service {service} could not be restarted: {failure}"
    return None


@dataclass(frozen=True)
class RestartDone:
    """The ``survive_restart`` services were restarted (``problem``: they could not be)."""

    problem: str | None


class Restarter(threading.Thread):
    """Restarts the services off the watcher's thread, which goes on answering hints meanwhile."""

    def __init__(self, check: Check, services: Sequence[str], events: EventSink[RestartDone]) -> None:
        super().__init__(name="survive-restart", daemon=True)
        self.check = check
        self.services = tuple(services)
        self.events = events

    def run(self) -> None:
        self.events.put(RestartDone(restart_services(self.check, self.services)))


def prove_holds(
    check: Check, *, hold_seconds: float, restart: Sequence[str],
    clock: Callable[[], float] = time.monotonic,
) -> str | None:
    """After a fix: the services restart, the check passes again within RETURN_TIMEOUT_SECONDS,
    keeps passing for ``hold_seconds``, and every guard then passes. None, or why not."""
    if restart:
        problem = restart_services(check, restart)
        if problem is not None:
            return problem
        if not _passes_within(check, RETURN_TIMEOUT_SECONDS, clock):
            return (f"the check did not pass again within {RETURN_TIMEOUT_SECONDS} s of restarting "
                    f"{', '.join(restart)}: the fix did not survive a restart")
    held_from = clock()
    while True:
        if not check.once():
            return f"the check failed again {clock() - held_from:.0f} s into the {hold_seconds:g} s hold"
        if clock() - held_from >= hold_seconds:
            break
        time.sleep(HOLD_POLL_SECONDS)
    failing = failing_guards(check)
    return guard_failure(failing) if failing else None


def _passes_within(check: Check, timeout: float, clock: Callable[[], float]) -> bool:
    deadline = clock() + timeout
    while clock() < deadline:
        if check.once():
            return True
        time.sleep(HOLD_POLL_SECONDS)
    return False
