"""Can the session still be played? Its engine answering and its shell container still there.

:class:`StackFollower` follows the engine's event stream for the session's Compose project
(the engine pushes, nobody polls) and tells the watcher when one of its containers was
removed or stopped, and when the stream itself ended (the engine went away or restarted);
when asked it also tells of a container that started or restarted and of a ``docker exec``
that ended, after which the watcher runs an ``exit_zero`` check or a guard round at once.
:func:`shell_problem` then says whether the trainee's shell is gone for good: a container
removed (``docker rm -f``), or stopped and not started again within a grace period (a
restart policy, or a restart of the service, brings it back well within it).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from libreplay.core.errors import NotFound
from libreplay.engine import docker_api
from libreplay.engine.docker_api import SERVICE_LABEL
from libreplay.session.checks import EventSink
from libreplay.session.hints import COMMAND_STARTED
from libreplay.session.state import SessionState

STREAM_RETRY_SECONDS = 1.0
STOPPED_GRACE_SECONDS = 3.0
LIVE_STATUSES = ("running", "restarting")
GONE_ACTIONS = ("die", "destroy")
BACK_ACTIONS = ("start", "restart")
EXEC_ENDED = "exec_die"
# Each exec is announced when created (``exec_create: <command>``); a health check's, whose
# command is the container's own health test, is no news: a service checked every 2 s would
# otherwise set off a check and a guard round every 2 s.
EXEC_CREATED = "exec_create"
EXECS_KEPT = 1024  # execs created and not yet ended that are remembered
# A trainee's shell opening (replay-shell's exec, whose command starts with the shell's "busy"
# line): busy until that shell says it sits at its prompt, even if it cannot say so at all.
SHELL_OPENED = "shell_opened"
# What may have changed what a check sees: the watcher runs an exit_zero check right after it.
CHANGE_ACTIONS = ("die", *BACK_ACTIONS, EXEC_ENDED)


@dataclass(frozen=True)
class StackEvent:
    """A container of the stack was removed (``destroy``) or stopped (``die``), or a stopped one
    is due to be looked at again (``recheck``), or (when changes are followed) started,
    restarted or ended an exec, or a trainee's shell opened (``shell_opened``); ``ended``: the
    event stream ended. ``at``: the engine's time of
    the event (unix seconds), 0 for the watcher's own; ``exec_id``: the exec that ended."""

    service: str = ""
    action: str = ""
    ended: bool = False
    at: float = 0.0
    exec_id: str = ""

    @property
    def settles(self) -> bool:
        """Whether the stack can be judged now (a stop is judged after its grace period)."""
        return self.action in ("destroy", "recheck")

    @property
    def changes_containers(self) -> bool:
        """A container stopped, went or (re)started (an exec does not count)."""
        return self.action in (*GONE_ACTIONS, *BACK_ACTIONS)

    @property
    def may_change(self) -> bool:
        """Whether what a check sees may have changed (a new answer is worth asking for)."""
        return self.action in CHANGE_ACTIONS


class StackFollower(threading.Thread):
    """Puts a :class:`StackEvent` on ``events`` for each container of ``project`` that goes away,
    with ``returns`` for each that starts or restarts, with ``execs`` for each exec that ends."""

    def __init__(
        self, project: str, events: EventSink[StackEvent], *, returns: bool = False, execs: bool = False,
        streams: docker_api.Streams | None = None,
    ) -> None:
        super().__init__(name="stack-follower", daemon=True)
        self.project = project
        self.events = events
        self.streams = streams if streams is not None else docker_api.Streams()  # closed: it ends
        self.actions = [*GONE_ACTIONS, *(BACK_ACTIONS if returns else ()),
                        *((EXEC_CREATED, EXEC_ENDED) if execs else ())]
        self.created: OrderedDict[str, None] = OrderedDict()  # execs seen created (not health), not ended
        self.health_tests: dict[str, str | None] = {}  # per container: its health test's command line

    def run(self) -> None:
        started = time.monotonic()
        filters = {
            "type": "container", **docker_api.label_filter(project=self.project), "event": self.actions
        }
        try:
            if not self.streams.closed:
                stream = docker_api.client().api.events(decode=True, filters=filters)
                with self.streams.opened(stream):
                    for event in stream:
                        self._put(event)
        except Exception:  # noqa: BLE001 - any failure ends the stream; the watcher asks the engine
            pass
        # The watcher follows again at once when the engine still answers: at most one attempt a second.
        self.streams.pause(STREAM_RETRY_SECONDS - (time.monotonic() - started))
        if not self.streams.closed:  # else its watcher ended: nobody reads the queue
            self.events.put(StackEvent(ended=True))

    def _put(self, event: dict[str, Any]) -> None:
        attributes = (event.get("Actor") or {}).get("Attributes") or {}
        service, action = str(attributes.get(SERVICE_LABEL, "")), str(event.get("Action", ""))
        exec_id = str(attributes.get("execID", ""))
        if action.startswith(EXEC_CREATED) and COMMAND_STARTED in action:
            opened = StackEvent(service=service, action=SHELL_OPENED, at=_event_time(event), exec_id=exec_id)
            self.events.put(opened)
        container_id = str(event.get("id") or (event.get("Actor") or {}).get("ID") or "")
        if not self._news_of_exec(action, exec_id, container_id):
            return
        found = StackEvent(service=service, action=action, at=_event_time(event), exec_id=exec_id)
        self.events.put(found)
        if found.action == "die" and not self.streams.closed:
            recheck = StackEvent(service=found.service, action="recheck")
            timer = threading.Timer(STOPPED_GRACE_SECONDS, self.events.put, args=(recheck,))
            timer.daemon = True
            timer.start()


    def _news_of_exec(self, action: str, exec_id: str, container_id: str) -> bool:
        """Whether an event is worth passing on as far as execs go: the end of one seen created
        is, unless it ran the container's health test; a creation is not."""
        if action.startswith(EXEC_CREATED):
            if action.rstrip() != f"{EXEC_CREATED}: {self._health_test(container_id)}":
                self.created[exec_id] = None
                while len(self.created) > EXECS_KEPT:
                    self.created.popitem(last=False)
            return False
        if action == EXEC_ENDED:
            return self.created.pop(exec_id, "gone") is None
        return True

    def _health_test(self, container_id: str) -> str | None:
        """The command line the engine runs for the container's health check, as its exec events
        show it (asked once per container)."""
        if container_id not in self.health_tests:
            self.health_tests[container_id] = health_command(container_id) if container_id else None
        return self.health_tests[container_id]


def health_command(container_id: str) -> str | None:
    """The command line of the container's health test as the engine runs it (``CMD-SHELL``
    through the container's shell, ``/bin/sh -c`` by default); None without one, or unknown."""
    try:
        with docker_api.engine_errors():
            config = docker_api.client().api.inspect_container(container_id).get("Config") or {}
    except Exception:  # noqa: BLE001 - a container gone meanwhile has no health test to tell apart
        return None
    test = list((config.get("Healthcheck") or {}).get("Test") or [])
    if not test or test[0] == "NONE":
        return None
    kind, argv = test[0], [str(arg) for arg in test[1:]]
    if kind == "CMD-SHELL":
        argv = [*(config.get("Shell") or ["/bin/sh", "-c"]), *argv]
    return " ".join(argv) if argv else None


def _event_time(event: dict[str, Any]) -> float:
    nanoseconds = event.get("timeNano")
    return nanoseconds / 1e9 if isinstance(nanoseconds, int) else float(event.get("time") or 0)


def shell_problem(state: SessionState) -> str | None:
    """Why the session's shell container cannot be played any more, or None while it can."""
    from libreplay.session.containers import find_container

    service = state.shell_service
    try:
        container = find_container(state, service)
    except NotFound:
        return f"its shell container (service {service!r}) was removed"
    if container.status in LIVE_STATUSES:
        return None
    return f"its shell container (service {service!r}) is {container.status}"
