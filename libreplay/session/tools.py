"""The trainee's docker tools: ``docker ps``, ``logs [-f]``, ``start|stop|restart``, ``inspect``,
``top`` and ``stats --no-stream`` in the shell, on the session's own services only, carried out
by replaybook on the host. No container ever gets the Docker socket.

The way there and back is the hint channel's (libreplay/session/hints.py, which owns the
lines' grammar and the replies' transport):
  request    the ``docker`` shim (libreplay/assets/docker, beside get-hint) writes one line to
             PID 1's stdout, ``replaybook-tool-request <id>`` and each argument hex-encoded;
             the watcher's follower matches it exactly and a gate of its own limits the rate
  plan       :func:`plan` checks the arguments against an allow-list of verbs and flags: anything
             else (exec, run, cp, -H, --context, a format template …) is refused in one line
  carry out  :class:`ServiceView` sees only the containers carrying both the session's Compose
             project and its session label and belonging to one of the scenario's services: the
             probe and every other container are invisible, by name and by id. Everything goes
             through the Docker SDK, nothing through a shell. The trainee never sees the
             scenario id or the fault: no image names, labels or project names are shown.
  reply      ``replies/<id>`` in the shell container: a first line ``<status> <chunks>``, a second
             line for stderr, then the output, inert and bounded; ``logs -f`` first sends
             ``replies/<id>.<n>`` chunks, until Ctrl-C (a cancel line), the container's log
             ending, or the stream's limits (STREAM_MAX_SECONDS, STREAM_MAX_BYTES)
Requests are carried out off the watcher's loop (:class:`ToolDesk`, a thread each, a few at
once), so a slow ``docker stop`` never delays the check or the deadline.
"""

from __future__ import annotations

import codecs
import json
import queue
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, replace
from typing import Any

from libreplay.core.errors import ReplayError, ToolRefused
from libreplay.core.table import table_lines
from libreplay.core.text import inert
from libreplay.engine import docker_api
from libreplay.session.checks import engine_now
from libreplay.session.hints import (
    SEEN_IDS_KEPT,
    HintChannel,
    RequestGate,
    ToolCancel,
    ToolEvent,
    ToolRequest,
)

TOOL_BURST = 10  # tool requests answered at once ...
TOOL_REFILL_SECONDS = 0.5  # ... then one every this many seconds
TOOL_SLOW_DOWN = f"docker: slow down: one command every {TOOL_REFILL_SECONDS:g} s here. Try again shortly."
MAX_AT_ONCE = 4  # requests being carried out at one time; past it the trainee is told to wait
BUSY = "docker: replaybook is still busy with earlier commands; try again in a moment."
FAILED = "docker: replaybook could not carry this out (its watcher's log says why)"
MAX_OUTPUT_BYTES = 60_000  # one reply or chunk: an exec's environment variable must hold it
MAX_NOTE_CHARS = 400
DEFAULT_LOG_TAIL = 5000  # lines asked of the engine when no --tail is given
MAX_LOG_TAIL = 100_000
DEFAULT_STOP_SECONDS = 10
MAX_STOP_SECONDS = 30
MAX_TARGETS = 16
STREAM_FLUSH_SECONDS = 0.3  # a stream's output is sent at most this often
STREAM_MAX_SECONDS = 600
STREAM_MAX_BYTES = 4 * 1024 * 1024
MAX_STREAMS = 2  # a third `docker logs -f` ends the oldest (its shim may have been killed)
RUNNING_STATES = ("running", "restarting", "paused")  # what `docker ps` without -a shows

ALLOWED = "ps, logs, start, stop, restart, inspect, top, stats --no-stream"
USAGE = f"""Usage: docker COMMAND

This docker reaches only this incident's services, through replaybook.

  ps [-a] [-q]                                  the services' containers
  logs [-f] [-t] [-n N] [--since 10m] SERVICE   a service's log (-f: follows it until Ctrl-C,
                                                {STREAM_MAX_SECONDS // 60} minutes at most)
  start SERVICE...                              start a stopped service
  stop [-t SECONDS] SERVICE...                  stop a service (not this shell's own)
  restart [-t SECONDS] SERVICE...               restart a service
  inspect SERVICE...                            its state, command, mounts and addresses (JSON)
  top SERVICE                                   its processes
  stats --no-stream [SERVICE...]                CPU, memory, network and disk use, once

SERVICE is a service's name as `docker ps` shows it, or its container id.
A shell in another service: its window in the replaybook terminal (C-b 1, C-b 2, ...).
"""
_SHELL_ELSEWHERE = {"exec", "attach", "cp", "debug"}  # told where a shell is instead


# -- the plan: what the arguments ask for, checked against the allow-list ----------------------


@dataclass(frozen=True)
class ToolCommand:
    """One allowed command, its flags checked and parsed."""

    verb: str
    targets: tuple[str, ...] = ()
    all: bool = False
    quiet: bool = False
    follow: bool = False
    timestamps: bool = False
    tail: int | None = None
    since_seconds: int | None = None
    stop_seconds: int = DEFAULT_STOP_SECONDS
    no_stream: bool = False


@dataclass(frozen=True)
class _Flag:
    field: str
    value: Callable[[str, str], object] | None = None  # None: a switch


def _tail(flag: str, text: str) -> object:
    if text == "all":
        return MAX_LOG_TAIL
    return _bounded_int(flag, text, 0, MAX_LOG_TAIL)


def _stop_seconds(flag: str, text: str) -> object:
    return _bounded_int(flag, text, 0, MAX_STOP_SECONDS)


def _bounded_int(flag: str, text: str, low: int, high: int) -> int:
    if not re.fullmatch(r"[0-9]{1,7}", text) or not low <= int(text) <= high:
        raise ToolRefused(f"{flag}: give a whole number from {low} to {high}, not {text!r}")
    return int(text)


_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}


def _since(flag: str, text: str) -> object:
    match = re.fullmatch(r"([0-9]{1,6})([smh])", text)
    if match is None:
        raise ToolRefused(f"{flag}: give a duration such as 30s, 10m or 2h, not {text!r}")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


_SWITCH_ALL, _SWITCH_QUIET = _Flag("all"), _Flag("quiet")
_STOP_TIME = _Flag("stop_seconds", _stop_seconds)
_FLAGS: dict[str, dict[str, _Flag]] = {
    "ps": {"-a": _SWITCH_ALL, "--all": _SWITCH_ALL, "-q": _SWITCH_QUIET, "--quiet": _SWITCH_QUIET},
    "logs": {
        "-f": _Flag("follow"), "--follow": _Flag("follow"),
        "-t": _Flag("timestamps"), "--timestamps": _Flag("timestamps"),
        "-n": _Flag("tail", _tail), "--tail": _Flag("tail", _tail), "--since": _Flag("since_seconds", _since),
    },
    "start": {},
    "stop": {"-t": _STOP_TIME, "--time": _STOP_TIME, "--timeout": _STOP_TIME},
    "restart": {"-t": _STOP_TIME, "--time": _STOP_TIME, "--timeout": _STOP_TIME},
    "inspect": {},
    "top": {},
    "stats": {"--no-stream": _Flag("no_stream")},
}  # fmt: skip
# How many services each verb takes: (at least, at most).
_TARGETS = {"ps": (0, 0), "logs": (1, 1), "start": (1, MAX_TARGETS), "stop": (1, MAX_TARGETS),
            "restart": (1, MAX_TARGETS), "inspect": (1, MAX_TARGETS), "top": (1, 1),
            "stats": (0, MAX_TARGETS)}
_FLAG_HELP = {
    "ps": "-a, -q", "logs": "-f, -t, -n N, --tail N, --since DURATION", "start": "none",
    "stop": "-t SECONDS", "restart": "-t SECONDS", "inspect": "none", "top": "none", "stats": "--no-stream",
}


def plan(argv: Sequence[str]) -> ToolCommand | None:
    """The command ``argv`` asks for; None for a request for help (``docker``, ``--help``).

    Raises ToolRefused, naming what is not allowed, for anything outside the allow-list."""
    if not argv or argv[0] in ("help", "--help", "-h"):
        return None
    verb = argv[0]
    if verb.startswith("-"):
        raise ToolRefused(
            f"docker: {verb}: global options (-H, --host, --context, --config …) are not available "
            "here: this docker reaches only this incident's services"
        )
    if verb not in _FLAGS:
        elsewhere = " (a shell in another service: its window, C-b 1 …)" if verb in _SHELL_ELSEWHERE else ""
        raise ToolRefused(f"docker {verb}: not available here{elsewhere}; this docker can: {ALLOWED}")
    if any(arg in ("--help", "-h") for arg in argv[1:]):
        return None
    fields, targets = _parse_arguments(verb, argv[1:])
    command = ToolCommand(verb, tuple(targets), **fields)
    _check_targets(command)
    if verb == "stats" and not command.no_stream:
        raise ToolRefused("docker stats: only `docker stats --no-stream` is available here (one measurement)")
    return command


def _parse_arguments(verb: str, args: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    flags = _FLAGS[verb]
    fields: dict[str, Any] = {}
    targets: list[str] = []
    pending = list(args)
    while pending:
        arg = pending.pop(0)
        if arg == "--":
            targets += pending
            break
        if not arg.startswith("-") or arg == "-":
            targets.append(arg)
            continue
        name, given, value = arg.partition("=")
        flag = flags.get(name)
        if flag is None and not given and not arg.startswith("--"):
            fields.update(_short_switches(verb, arg))  # -ft: several switches at once
            continue
        if flag is None:
            raise _unknown_flag(verb, name)
        if flag.value is None:
            if given:
                raise ToolRefused(f"docker {verb}: {name} takes no value")
            fields[flag.field] = True
            continue
        if not given:
            if not pending:
                raise ToolRefused(f"docker {verb}: {name} needs a value")
            value = pending.pop(0)
        fields[flag.field] = flag.value(f"docker {verb} {name}", value)
    return fields, targets


def _short_switches(verb: str, arg: str) -> dict[str, bool]:
    switches: dict[str, bool] = {}
    for letter in arg[1:]:
        flag = _FLAGS[verb].get(f"-{letter}")
        if flag is None or flag.value is not None:
            raise _unknown_flag(verb, arg)
        switches[flag.field] = True
    return switches


def _unknown_flag(verb: str, name: str) -> ToolRefused:
    return ToolRefused(f"docker {verb}: {name} is not available here (flags here: {_FLAG_HELP[verb]})")


def _check_targets(command: ToolCommand) -> None:
    low, high = _TARGETS[command.verb]
    count = len(command.targets)
    if low <= count <= high:
        return
    if high == 0:
        raise ToolRefused(f"docker {command.verb}: takes no service ({command.targets[0]!r} given)")
    wanted = "one service" if high == 1 else f"1 to {high} services"
    extra = " (ps options are not available here)" if command.verb == "top" and count > 1 else ""
    raise ToolRefused(f"docker {command.verb}: takes {wanted}{extra}; `docker ps -a` lists them")


# -- the session's services, and nothing else --------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """A container of one of the session's services, as the trainee may know it."""

    id: str
    service: str
    state: str  # the engine's: running, exited, restarting, paused, created, dead
    status: str  # the engine's words: "Up 3 minutes (healthy)", "Exited (1) 2 minutes ago"

    @property
    def short_id(self) -> str:
        return self.id[:12]


class ServiceView:
    """The containers of the session's own services: both the session's Compose project and its
    session label, and a service of the scenario (the probe is replaybook's, not the
    scenario's). Anything else does not exist here, whether named by service, name or id."""

    def __init__(self, project: str, session: str, services: Iterable[str]) -> None:
        self.project = project
        self.session = session
        self.services = tuple(services)

    def containers(self) -> list[Seen]:
        api = docker_api.client().api
        with docker_api.engine_errors():
            listed = api.containers(
                all=True, filters=docker_api.label_filter(project=self.project, session=self.session)
            )
        found = []
        for entry in listed:
            service = (entry.get("Labels") or {}).get(docker_api.SERVICE_LABEL, "")
            if service in self.services:
                found.append(Seen(str(entry["Id"]), service, str(entry.get("State", "")),
                                  str(entry.get("Status", ""))))
        # One line per service, running ones first (a recreated service can leave an old one).
        found.sort(key=lambda seen: (seen.service, seen.state != "running"))
        return found

    def resolve(self, name: str) -> Seen:
        """The container ``name`` means: a service's name, or a unique prefix (4 hex digits at
        least) of one of the session's containers' ids. Anything else: ToolRefused."""
        return self.resolve_all([name])[0]

    def resolve_all(self, names: Sequence[str]) -> list[Seen]:
        """:meth:`resolve` for each of ``names``, from one listing of the containers: a typo in
        any of them refuses the whole command before anything is done."""
        found = self.containers()
        return [self._one_of(found, name) for name in names]

    def _one_of(self, found: Sequence[Seen], name: str) -> Seen:
        for seen in found:
            if seen.service == name:
                return seen
        if re.fullmatch(r"[0-9a-f]{4,64}", name):
            matches = [seen for seen in found if seen.id.startswith(name)]
            if len(matches) == 1:
                return matches[0]
        raise ToolRefused(f"docker: no such service: {name!r} (services: {', '.join(self.services)})")


# -- carrying a command out ----------------------------------------------------------------------


@dataclass(frozen=True)
class ToolResult:
    """What the shim prints: ``out`` on stdout, ``note`` (one line) on stderr, and its exit status."""

    status: int
    out: str = ""
    note: str = ""


Runner = Callable[[ToolCommand, ServiceView, str], ToolResult]


def carry_out(command: ToolCommand, view: ServiceView, shell_service: str) -> ToolResult:
    """Run one planned command (not ``logs -f``, which :class:`ToolDesk` streams)."""
    return _RUNNERS[command.verb](command, view, shell_service)


def _ps(command: ToolCommand, view: ServiceView, _shell: str) -> ToolResult:
    shown = [seen for seen in view.containers() if command.all or seen.state in RUNNING_STATES]
    if command.quiet:
        return ToolResult(0, "".join(f"{seen.short_id}\n" for seen in shown))
    rows = [(seen.short_id, seen.service, seen.state, seen.status) for seen in shown]
    return ToolResult(0, _lines(table_lines(rows, header=("CONTAINER ID", "SERVICE", "STATE", "STATUS"))))


def _logs(command: ToolCommand, view: ServiceView, _shell: str) -> ToolResult:
    seen = view.resolve(command.targets[0])
    with docker_api.engine_errors():
        chunks = docker_api.client().api.logs(seen.id, stream=True, follow=False, **_log_options(command))
        kept, cut = _last_bytes(chunks, MAX_OUTPUT_BYTES)
    text, trimmed = _bounded(inert(kept.decode(errors="replace")), keep="tail")
    if not (cut or trimmed):
        return ToolResult(0, text)
    shown = f"only its last {MAX_OUTPUT_BYTES // 1000} kB are shown"
    return ToolResult(0, text, f"docker logs: {shown}; -n N or --since narrow it")


def _log_options(command: ToolCommand) -> dict[str, Any]:
    """The engine's log options; both of the service's streams, as `docker logs` shows them."""
    options: dict[str, Any] = {"stdout": True, "stderr": True, "timestamps": command.timestamps,
                               "tail": DEFAULT_LOG_TAIL if command.tail is None else command.tail}
    if command.since_seconds is not None:
        options["since"] = max(1, int(engine_now()) - command.since_seconds)
    return options


def _last_bytes(chunks: Iterable[bytes], limit: int) -> tuple[bytes, bool]:
    """The end of a byte stream, at most ``limit`` bytes from a line's start; True when cut."""
    kept = bytearray()
    cut = False
    for chunk in chunks:
        kept += chunk
        if len(kept) > 2 * limit:
            del kept[:-limit]
            cut = True
    if len(kept) > limit:
        del kept[:-limit]
        cut = True
    if cut and b"\n" in kept:
        del kept[: kept.index(b"\n") + 1]
    return bytes(kept), cut


def _lifecycle(command: ToolCommand, view: ServiceView, shell_service: str) -> ToolResult:
    """start, stop, restart: every service named is resolved first, so a typo stops nothing."""
    import docker.errors

    chosen = view.resolve_all(command.targets)
    if command.verb == "stop" and any(seen.service == shell_service for seen in chosen):
        raise ToolRefused(
            f"docker stop: {shell_service} is this shell's own service: stopping it would end the "
            f"incident; `docker restart {shell_service}` restarts it (your shell reconnects)"
        )
    done: list[str] = []
    for name, seen in zip(command.targets, chosen, strict=True):
        api = docker_api.client().api
        try:
            with docker_api.engine_errors():
                if command.verb == "start":
                    api.start(seen.id)
                elif command.verb == "stop":
                    api.stop(seen.id, timeout=command.stop_seconds)
                else:
                    api.restart(seen.id, timeout=command.stop_seconds)
        except docker.errors.APIError as failed:
            said = str(failed.explanation or failed).strip().splitlines()
            reason = said[0] if said else "failed"
            return ToolResult(1, _lines(done), f"docker {command.verb} {name}: {reason}")
        done.append(name)
    return ToolResult(0, _lines(done))


_STATE_FIELDS = ("Status", "Running", "Paused", "Restarting", "OOMKilled", "Dead", "Pid", "ExitCode",
                 "Error", "StartedAt", "FinishedAt", "Health")
_CONFIG_FIELDS = ("Hostname", "User", "Env", "Cmd", "Entrypoint", "WorkingDir", "ExposedPorts",
                  "Healthcheck", "StopSignal", "Tty", "OpenStdin")
_HOST_CONFIG_FIELDS = ("RestartPolicy", "ReadonlyRootfs", "Memory", "NanoCpus", "PidsLimit", "Init")
_MOUNT_FIELDS = ("Type", "Destination", "Mode", "RW")
_NETWORK_FIELDS = ("IPAddress", "IPPrefixLen", "Gateway", "MacAddress", "GlobalIPv6Address")


def _inspect(command: ToolCommand, view: ServiceView, _shell: str) -> ToolResult:
    chosen = view.resolve_all(command.targets)
    api = docker_api.client().api
    with docker_api.engine_errors():
        described = [_shown_attrs(api.inspect_container(seen.id), seen, view.project) for seen in chosen]
    text = json.dumps(described, indent=4, ensure_ascii=False)
    out, cut = _bounded(inert(text) + "\n", keep="head")
    return ToolResult(0, out, "docker inspect: cut to its first 60 kB; name fewer services" if cut else "")


def _shown_attrs(attrs: dict[str, Any], seen: Seen, project: str) -> dict[str, Any]:
    """An allow-list of inspect's fields. Left out: labels, the image (its name carries the
    scenario id), names and host paths (the project, the state directory)."""
    config = attrs.get("Config") or {}
    networks = (attrs.get("NetworkSettings") or {}).get("Networks") or {}
    return {
        "Id": attrs.get("Id"),
        "Service": seen.service,
        "Created": attrs.get("Created"),
        "State": _pick(attrs.get("State") or {}, _STATE_FIELDS),
        "RestartCount": attrs.get("RestartCount"),
        "Config": _pick(config, _CONFIG_FIELDS),
        "HostConfig": _pick(attrs.get("HostConfig") or {}, _HOST_CONFIG_FIELDS),
        "Mounts": [_pick(mount, _MOUNT_FIELDS) for mount in attrs.get("Mounts") or []],
        "Networks": {
            name.removeprefix(f"{project}_"): _pick(settings or {}, _NETWORK_FIELDS)
            for name, settings in networks.items()
        },
    }


def _pick(source: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    return {name: source[name] for name in names if name in source}


def _top(command: ToolCommand, view: ServiceView, _shell: str) -> ToolResult:
    seen = _running(view.resolve(command.targets[0]), "top")
    with docker_api.engine_errors():
        listing = docker_api.client().api.top(seen.id)
    rows = [[str(cell) for cell in process] for process in listing.get("Processes") or []]
    titles = [str(title) for title in listing.get("Titles") or []]
    out, cut = _bounded(_lines(table_lines(rows, header=titles)), keep="head")
    return ToolResult(0, out, "docker top: cut to its first 60 kB" if cut else "")


def _running(seen: Seen, verb: str) -> Seen:
    if seen.state != "running":
        raise ToolRefused(
            f"docker {verb}: {seen.service} is not running ({seen.state}); `docker start {seen.service}`"
        )
    return seen


_STATS_HEADER = ("SERVICE", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS")


def _stats(command: ToolCommand, view: ServiceView, _shell: str) -> ToolResult:
    if command.targets:
        chosen = [_running(seen, "stats") for seen in view.resolve_all(command.targets)]
    else:
        chosen = [seen for seen in view.containers() if seen.state == "running"]
    api = docker_api.client().api

    def measure(seen: Seen) -> tuple[str, ...]:
        with docker_api.engine_errors():
            return _stats_row(seen.service, api.stats(seen.id, stream=False))

    # The engine takes a second per container to measure CPU: all of them at once.
    with ThreadPoolExecutor(max_workers=4) as pool:
        rows = list(pool.map(measure, chosen))
    return ToolResult(0, _lines(table_lines(rows, header=_STATS_HEADER)))


def _stats_row(service: str, stats: dict[str, Any]) -> tuple[str, ...]:
    cpu, before = stats.get("cpu_stats") or {}, stats.get("precpu_stats") or {}
    used = _cpu_total(cpu) - _cpu_total(before)
    system = cpu.get("system_cpu_usage", 0) - before.get("system_cpu_usage", 0)
    cpus = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or [1])
    cpu_percent = used / system * cpus * 100 if system > 0 and used > 0 else 0.0
    memory = stats.get("memory_stats") or {}
    details = memory.get("stats") or {}
    # As `docker stats` counts it: the page cache that can be dropped is not the service's.
    in_use = memory.get("usage", 0) - details.get("inactive_file", details.get("total_inactive_file", 0))
    limit = memory.get("limit", 0)
    networks = (stats.get("networks") or {}).values()
    received, sent = sum(n.get("rx_bytes", 0) for n in networks), sum(n.get("tx_bytes", 0) for n in networks)
    io = (stats.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []
    read = sum(e.get("value", 0) for e in io if str(e.get("op", "")).lower() == "read")
    written = sum(e.get("value", 0) for e in io if str(e.get("op", "")).lower() == "write")
    return (
        service, f"{cpu_percent:.2f}%", f"{_size(in_use)} / {_size(limit)}",
        f"{in_use / limit * 100 if limit else 0.0:.2f}%", f"{_size(received)} / {_size(sent)}",
        f"{_size(read)} / {_size(written)}", str((stats.get("pids_stats") or {}).get("current", "--")),
    )  # fmt: skip


def _cpu_total(cpu: dict[str, Any]) -> int:
    return int((cpu.get("cpu_usage") or {}).get("total_usage", 0))


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(count) < 1024 or unit == "GiB":
            return f"{count:.0f}{unit}" if unit == "B" else f"{count:.2f}{unit}"
        count /= 1024
    raise AssertionError("unreachable")


_RUNNERS: dict[str, Runner] = {
    "ps": _ps, "logs": _logs, "start": _lifecycle, "stop": _lifecycle, "restart": _lifecycle,
    "inspect": _inspect, "top": _top, "stats": _stats,
}  # fmt: skip


def _lines(lines: Sequence[str]) -> str:
    return "".join(f"{line}\n" for line in lines)


def _bounded(text: str, *, keep: str, limit: int = MAX_OUTPUT_BYTES) -> tuple[str, bool]:
    """``text`` cut to ``limit`` bytes of UTF-8 (its head or its tail); True when cut."""
    encoded = text.encode()
    if len(encoded) <= limit:
        return text, False
    part = encoded[:limit] if keep == "head" else encoded[-limit:]
    return part.decode(errors="ignore"), True


def reply_text(result: ToolResult, chunks: int = 0) -> str:
    """The reply file the shim reads: ``<status> <chunks>``, the note, then the output."""
    note = inert(result.note, keep_newlines=False)[:MAX_NOTE_CHARS]
    return f"{result.status} {chunks}\n{note}\n{result.out}"


# -- the desk: requests carried out off the watcher's loop, replies written -------------------


class ToolDesk:
    """Takes the watcher's tool events: each admitted request is carried out in a thread of its
    own (MAX_AT_ONCE at a time) and answered through the channel; ``logs -f`` becomes a
    :class:`LogStream` until the trainee stops it."""

    def __init__(self, channel: HintChannel, clock: Callable[[], float] = time.monotonic) -> None:
        state = channel.state
        self.channel = channel
        self.shell_service = state.shell_service
        self.view = ServiceView(state.project, state.id, state.services)
        self.gate = RequestGate(clock, burst=TOOL_BURST, refill_seconds=TOOL_REFILL_SECONDS)
        self.slots = threading.BoundedSemaphore(MAX_AT_ONCE)
        self.streams: OrderedDict[str, LogStream] = OrderedDict()
        # Ctrl-C can come before the stream it stops has started: remembered, a few at a time.
        self.cancelled: OrderedDict[str, None] = OrderedDict()
        self.lock = threading.Lock()

    def take(self, event: ToolEvent) -> None:
        """Called on the watcher's loop: the work goes to a thread; only a refusal (slow down,
        busy) is answered here, with one exec that is started and not waited for."""
        if isinstance(event, ToolCancel):
            self._end_stream(event.request_id, "")
        elif event.slow_down:
            self.answer(event, ToolResult(1, note=TOOL_SLOW_DOWN))
        elif not self.slots.acquire(blocking=False):
            self.answer(event, ToolResult(1, note=BUSY))
        else:
            threading.Thread(target=self._serve, args=(event,), name="docker-tool", daemon=True).start()

    def close(self) -> None:
        """The watcher is ending: every stream ends too."""
        with self.lock:
            ids = list(self.streams)
        for request_id in ids:
            self._end_stream(request_id, "docker logs: replaybook stopped watching this session")

    def answer(self, request: ToolRequest, result: ToolResult, chunks: int = 0) -> None:
        self.channel.write(request.container_id, request.request_id, reply_text(result, chunks))

    def _serve(self, request: ToolRequest) -> None:
        try:
            result = self._result(request)
        except Exception:
            # A fault of ours: the trainee hears of it at once, the watcher's log gets the trace.
            self.answer(request, ToolResult(1, note=FAILED))
            raise
        finally:
            self.slots.release()
        if result is not None:
            self.answer(request, result)

    def _result(self, request: ToolRequest) -> ToolResult | None:
        import docker.errors

        try:
            command = plan(request.argv)
            if command is None:
                return ToolResult(0, USAGE)
            if command.follow:
                self._open_stream(request, command)
                return None
            return carry_out(command, self.view, self.shell_service)
        except ToolRefused as refused:
            return ToolResult(1, note=refused.message)
        except docker.errors.NotFound:
            return ToolResult(1, note="docker: that service's container went away meanwhile; `docker ps -a`")
        except ReplayError as failed:  # the engine did not answer
            return ToolResult(1, note=f"docker: {failed.message}")

    def _open_stream(self, request: ToolRequest, command: ToolCommand) -> None:
        seen = self.view.resolve(command.targets[0])
        stream = LogStream(self, request, seen, command)
        with self.lock:
            if request.request_id in self.cancelled:
                return
            self.streams[request.request_id] = stream
            oldest = list(self.streams)[:-MAX_STREAMS]
        for request_id in oldest:
            self._end_stream(request_id, f"docker logs: ended: at most {MAX_STREAMS} streams at a time")
        stream.start()

    def _end_stream(self, request_id: str, note: str) -> None:
        with self.lock:
            stream = self.streams.pop(request_id, None)
            if not note:  # the trainee's Ctrl-C
                self.cancelled[request_id] = None
                while len(self.cancelled) > SEEN_IDS_KEPT:
                    self.cancelled.popitem(last=False)
        if stream is not None:
            stream.stop(note)

    def forget(self, request_id: str) -> None:
        with self.lock:
            self.streams.pop(request_id, None)


@dataclass(frozen=True)
class _StreamEnd:
    """How a stream ended: the end reply's status and note; no reply when the trainee stopped it
    (the shim is gone)."""

    note: str = ""
    status: int = 0
    answered: bool = True


class LogStream:
    """``docker logs -f``: one thread reads the engine's log stream, another sends what came in
    as numbered chunks every STREAM_FLUSH_SECONDS (the first one empty or not: the shim knows
    it was heard). It ends on a cancel, when the service's log ends (it stopped), or at
    STREAM_MAX_SECONDS or STREAM_MAX_BYTES, whichever comes first; the end reply says how many
    chunks there were."""

    def __init__(self, desk: ToolDesk, request: ToolRequest, seen: Seen, command: ToolCommand) -> None:
        self.desk = desk
        self.request = request
        self.seen = seen
        self.command = command
        self.pending: queue.Queue[bytes | None] = queue.Queue(maxsize=256)
        self.stopped = threading.Event()
        self.end = _StreamEnd()
        self.source: Any = None

    def start(self) -> None:
        threading.Thread(target=self._read, name="docker-logs-read", daemon=True).start()
        threading.Thread(target=self._send, name="docker-logs-send", daemon=True).start()

    def stop(self, note: str) -> None:
        """End the stream; ``note`` says why to a shim still waiting ("": the trainee stopped it)."""
        self.end = replace(self.end, note=note, answered=bool(note))
        self.stopped.set()
        self._close_source()

    def _read(self) -> None:
        try:
            with docker_api.engine_errors():
                self.source = docker_api.client().api.logs(
                    self.seen.id, stream=True, follow=True, **_log_options(self.command)
                )
                if self.stopped.is_set():
                    self._close_source()
                for chunk in self.source:
                    if not self._offer(chunk):
                        break
        except ReplayError as failed:
            self.end = replace(self.end, status=1, note=f"docker logs: {failed.message}")
        except Exception:  # noqa: BLE001 - a closed socket and a vanished container alike end the stream
            pass
        self._offer(None)

    def _offer(self, chunk: bytes | None) -> bool:
        """Hand a chunk to the sender, waiting while it is behind (so a flood of log lines costs
        bounded memory); False once the stream was stopped."""
        while not self.stopped.is_set():
            try:
                self.pending.put(chunk, timeout=0.5)
            except queue.Full:
                continue
            return True
        return False

    def _send(self) -> None:
        deadline = time.monotonic() + STREAM_MAX_SECONDS
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        sent, number, ended = 0, 0, False
        while not ended:
            batch, ended = self._collect()
            if self.stopped.is_set() and not self.end.answered:
                break  # the trainee stopped it: nobody reads what is left
            text, _ = _bounded(inert(decoder.decode(batch, final=ended)), keep="head")
            if text or number == 0:
                number += 1
                self.desk.channel.write(self.request.container_id, f"{self.request.request_id}.{number}",
                                        text)
                sent += len(text.encode())
            if self.stopped.is_set():
                break
            if time.monotonic() >= deadline or sent >= STREAM_MAX_BYTES:
                limit = f"{STREAM_MAX_SECONDS // 60} minutes" if sent < STREAM_MAX_BYTES else "4 MiB"
                said = f"docker logs -f: stopped after {limit} (replaybook's limit); run it again to go on"
                self.end = replace(self.end, note=said)
                break
        self._close_source()
        self.desk.forget(self.request.request_id)
        if self.end.answered:
            self.desk.answer(self.request, ToolResult(self.end.status, note=self.end.note), chunks=number)

    def _collect(self) -> tuple[bytes, bool]:
        """What arrived within one flush interval (less when it reaches a chunk's size); True
        once the log ended or the stream was stopped."""
        batch = bytearray()
        until = time.monotonic() + STREAM_FLUSH_SECONDS
        while len(batch) < MAX_OUTPUT_BYTES // 2:
            left = until - time.monotonic()
            if left <= 0 or self.stopped.is_set():
                break
            try:
                chunk = self.pending.get(timeout=left)
            except queue.Empty:
                break
            if chunk is None:
                return bytes(batch), True
            batch += chunk
        return bytes(batch), self.stopped.is_set()

    def _close_source(self) -> None:
        source = self.source
        if source is not None:
            # Already closed, or the engine is gone: either way, closed.
            with suppress(Exception):
                source.close()
