"""The hint channel between the trainee's shell and the watcher: no host path anywhere in it.

Everything travels through the Docker API, so it works the same against a remote engine:
  set-up      right after the stack is up, ``bin/get-hint`` (POSIX sh) and ``replies/`` are
              copied into the shell container at CHANNEL_MOUNT (a tar through put_archive)
  request     get-hint writes one line, ``replaybook-hint-request <id>``, to /proc/1/fd/1:
              PID 1's stdout is the container's log stream, which the watcher follows
  reply       the watcher runs a ``docker exec`` in the shell container that writes the answer
              to ``replies/<id>``; the text travels in the exec's environment
Whatever the trainee does to CHANNEL_MOUNT (symlinks, directories, deleting it), only the
container's own filesystem is touched: no host process opens, writes or deletes a path a
container named. Only strict, short lines count as requests; each id is answered once, and a
token bucket limits how many hints can be asked for in a row.

The same channel carries the trainee's docker tools (libreplay/session/tools.py): the ``docker``
shim installed beside get-hint writes ``replaybook-tool-request <id>`` followed by each argument
as `` x<hex of its bytes>`` (so nothing typed can end the line or forge another), and
``replaybook-tool-cancel <id>`` when a ``docker logs -f`` is stopped. This module owns the
lines' grammar and the replies' transport; what a tool request does is tools.py's.

The trainee's shell (libreplay/play/shell.py) also says, on the same stream, when a command
starts (``replaybook-busy``, bash's PS0, and once as the shell opens) and when one has finished
and the prompt is back (``replaybook-prompt``, bash's PROMPT_COMMAND): the watcher runs its
checks at once and slows its rounds down only while the shell sits at its prompt. Those lines
carry nothing else; a forged or repeated one can only make a check run sooner (never pass), or
move the pace between the quick and the quiet one (never slower than a check every 3 s and a
guard round every 30 s while the check fails, and the quick paces through the hold).
:class:`ShellLineGate` caps how many reach the watcher's queue and :class:`ShellPacer` how
often they are acted on.
"""

from __future__ import annotations

import io
import re
import tarfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from libreplay.core import paths
from libreplay.core.errors import EnvironmentProblem, NotFound
from libreplay.core.text import inert
from libreplay.engine import docker_api
from libreplay.session.checks import EventSink, LogFollower
from libreplay.session.containers import find_container
from libreplay.session.state import CHANNEL_MOUNT, SessionState

NO_MORE_HINTS = "No more hints for this incident: you have seen them all."
BURST = 3  # requests answered at once ...
REFILL_SECONDS = 2.0  # ... then one every this many seconds
SLOW_DOWN = f"Slow down: one hint request every {REFILL_SECONDS:g} s. Ask again in a moment."
REQUEST_PREFIX = "replaybook-hint-request "
_ID = r"([A-Za-z0-9_-]{1,64})"
REQUEST = re.compile(re.escape(REQUEST_PREFIX) + _ID)
TOOL_PREFIX = "replaybook-tool-request"
CANCEL_PREFIX = "replaybook-tool-cancel "
MAX_TOOL_ARGS = 24
# The id, then each argument as " x" and its bytes in lower-case hex ("x" alone: an empty one).
TOOL_REQUEST = re.compile(re.escape(TOOL_PREFIX) + " " + _ID + r"((?: x(?:[0-9a-f]{2})*){0,"
                          + str(MAX_TOOL_ARGS) + "})")
TOOL_CANCEL = re.compile(re.escape(CANCEL_PREFIX) + _ID)
COMMAND_STARTED = "replaybook-busy"  # the shell runs a command (or opened: it may not announce)
COMMAND_FINISHED = "replaybook-prompt"  # a command finished: the shell is back at its prompt
CHANNEL_MARKER = b"replaybook-"  # in every line of the channel, of every kind
# The longest line read at all, the engine's timestamp in front included: a hint request needs
# about 120 bytes, the docker shim keeps its requests under 900. Longer lines are dropped whole.
MAX_REQUEST_LINE_BYTES = 1024
SEEN_IDS_KEPT = 1024  # enough to recognise the lines a re-follow reads twice
MAX_REPLY_CHARS = 8000  # the exec's environment has a size limit; no hint comes near it
REPLY_ENV = "REPLAYBOOK_REPLY"
REPLIES = f"{CHANNEL_MOUNT}/replies"
GET_HINT = f"{CHANNEL_MOUNT}/bin/get-hint"
# Run in the container by the watcher; "$1" is a reply's name (a request id already matched by a
# request's grammar, and for a stream's chunks ".<n>" after it). Written aside and renamed, so
# get-hint and the docker shim never read half an answer.
_REPLY_SCRIPT = (
    f"cd {REPLIES} 2>/dev/null || exit 0; umask 022; "
    f'printf "%s" "${REPLY_ENV}" > ".$1" && mv -f ".$1" "$1"'
)
_REPLY_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}(?:\.[0-9]{1,6})?")


def format_hint(revealed: tuple[int, int, str] | None) -> str:
    if revealed is None:
        return NO_MORE_HINTS
    number, total, text = revealed
    return f"Hint {number}/{total}: {text}"


def reply_body(text: str) -> str:
    """What get-hint prints: inert (it reaches the trainee's terminal) and bounded."""
    return inert(text)[:MAX_REPLY_CHARS]


def parse_request(line: str) -> str | None:
    """The request id in a line that is exactly a request; None for any other line."""
    match = REQUEST.fullmatch(line)
    return match.group(1) if match else None


def parse_tool_request(line: str) -> tuple[str, tuple[str, ...]] | None:
    """(request id, arguments) of a line that is exactly a tool request; None for any other.

    Arguments are decoded as UTF-8 (a byte that is not becomes U+FFFD: it names nothing)."""
    match = TOOL_REQUEST.fullmatch(line)
    if match is None:
        return None
    encoded = match.group(2).split(" ")[1:]
    return match.group(1), tuple(bytes.fromhex(arg[1:]).decode(errors="replace") for arg in encoded)


def parse_tool_cancel(line: str) -> str | None:
    """The request id of a line that is exactly a cancel (Ctrl-C on ``docker logs -f``)."""
    match = TOOL_CANCEL.fullmatch(line)
    return match.group(1) if match else None


@dataclass(frozen=True)
class HintRequest:
    """One admitted request: answer it in ``container_id`` (``slow_down``: over the limit)."""

    container_id: str
    request_id: str
    slow_down: bool = False


@dataclass(frozen=True)
class HintStreamEnded:
    """The shell's log stream ended (a restart, the engine): follow it again."""


@dataclass(frozen=True)
class ToolRequest:
    """One admitted docker tool request from ``container_id`` (``slow_down``: over the limit)."""

    container_id: str
    request_id: str
    argv: tuple[str, ...]
    slow_down: bool = False


@dataclass(frozen=True)
class ToolCancel:
    """The trainee stopped the stream of ``request_id`` (Ctrl-C on ``docker logs -f``)."""

    request_id: str


ToolEvent = ToolRequest | ToolCancel
@dataclass(frozen=True)
class CommandStarted:
    """A trainee's shell in ``service``'s container started a command, or opened: until it is
    back at its prompt, anything may change at any moment."""

    service: str = ""


@dataclass(frozen=True)
class CommandFinished:
    """A command typed in a trainee's shell in ``service``'s container finished: what it changed
    is there to be seen."""

    service: str = ""


@dataclass(frozen=True)
class CommandStreamEnded:
    """The log stream of ``service``'s container ended (a restart, the engine): follow it again."""

    service: str


ShellEvent = CommandStarted | CommandFinished
HintFollowerEvent = HintRequest | HintStreamEnded | ToolEvent | ShellEvent
CommandFollowerEvent = ShellEvent | CommandStreamEnded


def parse_shell_line(line: str, service: str = "") -> ShellEvent | None:
    """What a line that is exactly one of the shell's markers says; None for any other."""
    if line == COMMAND_FINISHED:
        return CommandFinished(service)
    if line == COMMAND_STARTED:
        return CommandStarted(service)
    return None


SHELL_LINES_PER_SECOND = 10


class ShellLineGate:
    """How many of a follower's shell lines reach the watcher's queue: at most ``rate`` a second.

    A line is written by whoever can write PID 1's stdout, the trainee (``yes replaybook-prompt``)
    or a pack's service included: unbounded, a flood would fill the queue, and the probe's and
    the guards' answers behind it would be read late (a relapse after the hold's end). Beyond
    the rate the lines are dropped; the first dropped in each second is passed on as "busy", so
    the watcher keeps its quick paces until a later line says the shell is back at its prompt.
    """

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, *, rate: int = SHELL_LINES_PER_SECOND
    ) -> None:
        self.clock = clock
        self.rate = rate
        self.second_began = float("-inf")
        self.admitted = 0
        self.flooded = False

    def admit(self, event: ShellEvent) -> ShellEvent | None:
        now = self.clock()
        if now - self.second_began >= 1.0:
            self.second_began, self.admitted, self.flooded = now, 0, False
        if self.admitted < self.rate:
            self.admitted += 1
            return event
        if self.flooded:
            return None
        self.flooded = True
        return CommandStarted(event.service)


SHELL_NEWS_SPACING_SECONDS = 0.5


class ShellPacer:
    """When a finished command is acted on: at once, but at most once per ``spacing`` seconds.

    A command that finishes within the spacing is not dropped: it is coalesced into one action
    at the end of the spacing, so the last of a quick series (a fix typed right after another
    command) is always looked at, and a flood of forged lines costs two actions a second.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, *,
                 spacing: float = SHELL_NEWS_SPACING_SECONDS) -> None:
        self.clock = clock
        self.spacing = spacing
        self.acted_at: float | None = None
        self.due: float | None = None  # (clock) when the pending action is due

    def finished(self) -> None:
        """A command finished: an action is due now, or once the spacing has passed."""
        if self.due is None:
            earliest = self.clock() if self.acted_at is None else self.acted_at + self.spacing
            self.due = max(self.clock(), earliest)

    def take(self) -> bool:
        """Whether an action is due now (then it is counted as done)."""
        if self.due is None or self.clock() < self.due:
            return False
        self.acted_at, self.due = self.clock(), None
        return True

    def seconds_left(self) -> float | None:
        """How long until the pending action is due; None when none is pending."""
        return None if self.due is None else max(0.0, self.due - self.clock())


class RequestGate:
    """Decides, before anything is revealed, which requests are answered at all.

    An id already answered is dropped (a re-follow reads some lines twice; get-hint repeats a
    request it got no answer to). Past the token bucket one request per refill window is told
    to slow down and the rest are dropped unanswered, so a flood costs a few replies.
    """

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, *, burst: int = BURST,
        refill_seconds: float = REFILL_SECONDS,
    ) -> None:
        self.clock = clock
        self.burst = burst
        self.refill_seconds = refill_seconds
        self.tokens = float(burst)
        self.refilled_at = clock()
        self.slowed_down_at: float | None = None
        self.answered: OrderedDict[str, None] = OrderedDict()

    def admit(self, request_id: str) -> bool | None:
        """True: reveal and answer; False: answer "slow down"; None: drop."""
        if request_id in self.answered:
            return None
        moment = self.clock()
        self.tokens = min(self.burst, self.tokens + (moment - self.refilled_at) / self.refill_seconds)
        self.refilled_at = moment
        if self.tokens >= 1:
            self.tokens -= 1
            verdict = True
        elif self.slowed_down_at is None or moment - self.slowed_down_at >= self.refill_seconds:
            self.slowed_down_at = moment
            verdict = False
        else:
            return None  # not remembered: if get-hint asks again later, it may be answered then
        self.answered[request_id] = None
        while len(self.answered) > SEEN_IDS_KEPT:
            self.answered.popitem(last=False)
        return verdict


class HintChannel:
    """The session's shell container, reached only through the Docker API."""

    def __init__(self, state: SessionState) -> None:
        self.state = state
        self._own_execs: OrderedDict[str, None] = OrderedDict()  # the replies' execs, newest last
        self._own_lock = threading.Lock()  # written from the watcher's thread and the tools' threads

    def is_own_exec(self, exec_id: str) -> bool:
        """Whether ``exec_id`` is one of the replies' execs (its end changes nothing a guard sees)."""
        with self._own_lock:
            return exec_id in self._own_execs

    def _remember_exec(self, exec_id: str) -> None:
        with self._own_lock:
            self._own_execs[exec_id] = None
            while len(self._own_execs) > SEEN_IDS_KEPT:
                self._own_execs.popitem(last=False)

    def shell_container_id(self) -> str:
        container = find_container(self.state, self.state.shell_service)
        if not container.running:
            raise NotFound(f"session {self.state.id}: the shell container is {container.status}")
        return container.id

    def install(self, container_id: str | None = None, *, verify: bool = False) -> str | None:
        """Copy get-hint and the replies directory into the shell container.

        Returns why they are not there (the shell container is gone, its filesystem is
        read-only; with ``verify``, checked by looking: the engine copies "successfully" under
        a tmpfs it cannot see), or None. Idempotent: it repairs what a trainee removed, in the
        container. Files in the writable layer survive a restart; a container that a break
        step recreates gets them again when the watcher follows its log.
        """
        import docker.errors

        try:
            target = container_id or self.shell_container_id()
        except NotFound as exc:
            return exc.message
        api = docker_api.client().api
        with docker_api.engine_errors():
            try:
                api.put_archive(target, "/", _channel_archive())
                if verify and not self._present(target):
                    return f"{GET_HINT} is not visible in the container (is {CHANNEL_MOUNT} under a tmpfs?)"
            except docker.errors.APIError as exc:
                return str(exc.explanation or exc)
        return None

    @staticmethod
    def _present(container_id: str) -> bool:
        container = docker_api.client().containers.get(container_id)
        return bool(container.exec_run(["sh", "-c", f"test -x {GET_HINT}"]).exit_code == 0)

    def reply(self, request: HintRequest, text: str) -> bool:
        """Write the answer into the container (see :meth:`write`)."""
        return self.write(request.container_id, request.request_id, reply_body(text) + "\n")

    def write(self, container_id: str, name: str, text: str) -> bool:
        """Write ``text`` (already inert and bounded) as ``replies/<name>`` in the container without
        waiting for it: a trainee may make their own exec hang, the watcher must not hang with
        it. False when it could not be started (the container stopped or went away meanwhile:
        get-hint and the docker shim give up by themselves)."""
        import docker.errors

        if not _REPLY_NAME.fullmatch(name):
            raise ValueError(f"not a reply name: {name!r}")  # a bug of ours, never the trainee's input
        api = docker_api.client().api
        try:
            with docker_api.engine_errors():
                created = api.exec_create(
                    container_id, ["sh", "-c", _REPLY_SCRIPT, "replaybook-reply", name],
                    environment={REPLY_ENV: text}, stdout=False, stderr=False,
                )  # fmt: skip
                self._remember_exec(str(created["Id"]))
                api.exec_start(created["Id"], detach=True)
        except (EnvironmentProblem, docker.errors.APIError):
            return False
        return True


class HintFollower(LogFollower[HintFollowerEvent]):
    """Follows the shell container's log stream for requests, admitted by a :class:`RequestGate`
    (hint requests) and ``tool_gate`` (docker tool requests; without one, they are not read).

    Each time it starts following (the watcher starting, the shell restarted or recreated) it
    installs get-hint again first, so what a trainee deleted comes back after a restart.
    """

    end = HintStreamEnded()
    max_line = MAX_REQUEST_LINE_BYTES
    marker = CHANNEL_MARKER

    def __init__(
        self, channel: HintChannel, gate: RequestGate, events: EventSink[HintFollowerEvent], *,
        since: float | None, tool_gate: RequestGate | None = None, streams: docker_api.Streams | None = None,
    ) -> None:
        super().__init__("hint-follower", events, since=since, streams=streams)
        self.channel = channel
        self.gate = gate
        self.tool_gate = tool_gate
        self.shell_gate = ShellLineGate()
        self.following = ""

    def container_id(self) -> str:
        self.following = self.channel.shell_container_id()
        self.channel.install(self.following)  # a read-only shell: get-hint is missing, C-b h is not
        return self.following

    def parse(self, line: str) -> HintFollowerEvent | None:
        shell_news = parse_shell_line(line, self.channel.state.shell_service)
        if shell_news is not None:
            return self.shell_gate.admit(shell_news)  # acted on at the watcher's pace (ShellPacer)
        request_id = parse_request(line)
        if request_id is None:
            return self._parse_tool(line) if self.tool_gate is not None else None
        verdict = self.gate.admit(request_id)
        if verdict is None:
            return None
        return HintRequest(self.following, request_id, slow_down=not verdict)

    def _parse_tool(self, line: str) -> ToolEvent | None:
        assert self.tool_gate is not None
        cancelled = parse_tool_cancel(line)
        if cancelled is not None:
            return ToolCancel(cancelled)  # ends a stream of ours, if there is one: no gate needed
        request = parse_tool_request(line)
        if request is None:
            return None
        verdict = self.tool_gate.admit(request[0])
        if verdict is None:
            return None
        return ToolRequest(self.following, *request, slow_down=not verdict)


class CommandFollower(LogFollower[CommandFollowerEvent]):
    """Follows the log stream of a service other than the shell's, whose tmux window runs a shell
    too, for that shell's markers only (requests are read in the shell's container alone)."""

    max_line = MAX_REQUEST_LINE_BYTES
    marker = CHANNEL_MARKER

    def __init__(self, state: SessionState, service: str, events: EventSink[CommandFollowerEvent], *,
                 since: float | None, streams: docker_api.Streams | None = None) -> None:
        super().__init__(f"command-follower-{service}", events, since=since, streams=streams)
        self.state = state
        self.service = service
        self.end = CommandStreamEnded(service)
        self.shell_gate = ShellLineGate()

    def container_id(self) -> str:
        container = find_container(self.state, self.service)
        if not container.running:
            raise NotFound(f"service {self.service} is {container.status}")
        return container.id

    def parse(self, line: str) -> ShellEvent | None:
        news = parse_shell_line(line, self.service)
        return None if news is None else self.shell_gate.admit(news)


CHANNEL_COMMANDS = ("get-hint", "docker")  # assets installed in bin/


def _channel_archive() -> bytes:
    """CHANNEL_MOUNT with bin/get-hint and bin/docker (0755) and replies/ (1777: a shell may run
    as any user)."""
    root = CHANNEL_MOUNT.strip("/")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, mode in ((root, 0o755), (f"{root}/bin", 0o755), (f"{root}/replies", 0o1777)):
            tar.addfile(_entry(name, tarfile.DIRTYPE, mode))
        for command in CHANNEL_COMMANDS:
            script = paths.asset_path(command).read_bytes()
            entry = _entry(f"{root}/bin/{command}", tarfile.REGTYPE, 0o755)
            entry.size = len(script)
            tar.addfile(entry, io.BytesIO(script))
    return buffer.getvalue()


def _entry(name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
    entry = tarfile.TarInfo(name)
    entry.type, entry.mode, entry.mtime = kind, mode, int(time.time())
    return entry
