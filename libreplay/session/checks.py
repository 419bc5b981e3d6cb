"""The success check: is the incident fixed?

``http_200``: the probe container (see stack.py) requests the URL from inside the scenario
network every 0.2 s and prints a line when the answer changes; :class:`ProbeFollower`
follows its log stream (a :class:`LogFollower`, which the hint channel uses too), so detection
costs the host no polling. A one-off check runs curl in the probe with ``docker exec``.
``exit_zero``: ``check.sh`` on the host, with a timeout; exit status 0 means fixed.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from libreplay.core import paths
from libreplay.core.errors import ScenarioFailure
from libreplay.core.proc import ProcessTimeout
from libreplay.engine import docker_api, images
from libreplay.engine.docker_api import PROBE_LABEL, engine_errors
from libreplay.session.model import PROBE_SERVICE
from libreplay.session.stack import PROBE_IMAGE_REPO, Stack

CHECK_TIMEOUT_SECONDS = 20
HTTP_TIMEOUT_SECONDS = 2
STREAM_RETRY_SECONDS = 1.0
MAX_LOG_LINE_BYTES = 4096


def ensure_probe_image(on_progress: Callable[[str], None] | None = None) -> str:
    """Build the probe image once per content version; return its tag."""
    context = paths.asset_path("probe")
    digest = hashlib.sha256()
    for name in sorted(p.name for p in context.iterdir()):
        digest.update(name.encode() + (context / name).read_bytes())
    tag = f"{PROBE_IMAGE_REPO}:{digest.hexdigest()[:12]}"
    if images.image_id(tag) is not None:
        return tag
    if on_progress:
        on_progress(f"building the check probe image {tag}")
    try:
        images.build(context, tag, labels={PROBE_LABEL: "1"})
    except images.BuildFailed as exc:
        raise ScenarioFailure(f"could not build the probe image: {exc}\n{exc.log}") from exc
    return tag


@dataclass(frozen=True)
class ProbeEvent:
    """The probe's answer changed at ``at`` (unix time)."""

    at: float
    ok: bool
    status: str


@dataclass(frozen=True)
class ProbeStreamEnded:
    """The probe's log stream ended (the stack went down, the engine failed): whoever reads the
    queue asks whether the probe is still there, and follows it again if it is."""


EventT = TypeVar("EventT")
EventT_contra = TypeVar("EventT_contra", contravariant=True)


class EventSink(Protocol[EventT_contra]):
    """Where a follower thread puts its events: a queue whose reader may take more kinds of
    event than this follower makes (one queue serves every follower of the watcher)."""

    def put(self, item: EventT_contra, /) -> None: ...


class Check:
    """One scenario's success check against one session's stack."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.http = stack.scenario.success_condition == "http_200"

    def once(self) -> bool:
        return self._http_once() if self.http else self._script_once()

    def _script_once(self) -> bool:
        try:
            result = self.stack.run_script("check.sh", timeout=CHECK_TIMEOUT_SECONDS)
        except ProcessTimeout:
            return False  # a check that hangs is a check that does not pass
        if not result.ok:
            # A check that failed because the engine is gone is no answer: EnvironmentProblem.
            docker_api.ensure_engine()
        return result.ok

    def _http_once(self) -> bool:
        return self.fetch_ok(self.stack.probe_url())

    def fetch_ok(self, url: str) -> bool:
        """Whether ``url`` (as seen inside the network) answers 2xx within the time, from the probe."""
        container = self.probe_container()
        command = [
            "curl", "-ks", "-o", "/dev/null", "-m", str(HTTP_TIMEOUT_SECONDS),
            "-w", "%{http_code}", url,
        ]  # fmt: skip
        with engine_errors():
            result = container.exec_run(command)
        status = result.output.decode(errors="replace").strip()
        return status.startswith("2") and len(status) == 3

    def probe_container(self) -> Any:
        found = docker_api.labelled("containers", running_only=True, project=self.stack.project,
                                    service=PROBE_SERVICE)
        if not found:
            raise ScenarioFailure(f"session {self.stack.session_id}: the check probe is not running")
        return found[0]


class LogFollower(threading.Thread, Generic[EventT]):
    """Follows one container's stdout log stream and puts what :meth:`parse` makes of each line
    on a queue; when the stream ends (the container stopped, the engine failed) it puts
    :attr:`end`, and whoever reads the queue decides whether to follow again.

    Subclasses say which container (:meth:`container_id`, raising when none is running) and
    what a line means (:meth:`parse`, None for "nothing"); lines without :attr:`marker` are
    skipped unread, so a container that floods its log costs little. A line longer than
    :attr:`max_line` bytes is dropped whole, so a flood costs bounded memory. ``since`` (engine
    time, unix seconds) skips older lines; :meth:`resume_point` tells a follower started after
    this one ended where to carry on. Its owner ends it by closing ``streams`` (then it puts
    nothing more on the queue: nobody reads it any more).
    """

    end: EventT
    max_line = MAX_LOG_LINE_BYTES
    marker = b""

    def __init__(self, name: str, events: EventSink[EventT], *, since: float | None = None,
                 streams: docker_api.Streams | None = None) -> None:
        super().__init__(name=name, daemon=True)
        self.events = events
        self.since = since
        self.streams = streams if streams is not None else docker_api.Streams()
        self.last_stamp = b""  # the engine's timestamp of the newest line, read only when needed

    def container_id(self) -> str:
        raise NotImplementedError

    def parse(self, line: str) -> EventT | None:
        raise NotImplementedError

    def resume_point(self) -> float | None:
        """Where the next follower starts: just before the newest line seen (read again, and told
        apart by what it says, rather than lost to a rounding of the time)."""
        seen = engine_time(self.last_stamp.decode("ascii", errors="replace"))
        return self.since if seen is None else max(seen - 1e-3, 1e-3)

    def run(self) -> None:
        started = time.monotonic()
        try:
            for stamp, payload in self._lines(self.container_id()):
                self.last_stamp = stamp
                if self.marker not in payload:
                    continue
                event = self.parse(payload.decode(errors="replace").rstrip("\r"))
                if event is not None:
                    self.events.put(event)
        except Exception:  # noqa: BLE001 - any failure ends the stream; the reader decides what next
            pass
        # Whoever reads the queue follows again at once: an attempt lasts at least this long,
        # so an engine or a container that keeps ending the stream costs one attempt a second.
        self.streams.pause(STREAM_RETRY_SECONDS - (time.monotonic() - started))
        if not self.streams.closed:
            self.events.put(self.end)

    def _lines(self, container_id: str) -> Iterator[tuple[bytes, bytes]]:
        """(timestamp, text) of each line; the engine puts the timestamp and a space in front."""
        if self.streams.closed:
            return
        stream = docker_api.client().api.logs(
            container_id, stream=True, follow=True, stdout=True, stderr=False, timestamps=True,
            since=self.since,
        )  # fmt: skip
        with self.streams.opened(stream):
            for raw in split_lines(stream, self.max_line):
                stamp, _, payload = raw.partition(b" ")
                yield stamp, payload


def split_lines(chunks: Iterable[bytes], max_line: int) -> Iterator[bytes]:
    """The complete lines of a byte stream; a line longer than ``max_line`` is dropped whole
    (the part already buffered and the rest up to its newline), so memory stays bounded."""
    pending = b""
    oversized = False  # inside a line already dropped: skip to its end
    for chunk in chunks:
        parts = (pending + chunk).split(b"\n")
        pending = parts.pop()
        for part in parts:
            if oversized:
                oversized = False
            elif len(part) <= max_line:
                yield part
        if len(pending) > max_line:
            pending, oversized = b"", True


_ENGINE_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)")


def engine_time(text: str) -> float | None:
    """An RFC 3339 time as the engine writes it (nanoseconds, ``Z`` or an offset), in unix seconds."""
    match = _ENGINE_TIME.fullmatch(text.strip())
    if match is None:
        return None
    whole, fraction, zone = match.groups()
    moment = datetime.fromisoformat(whole + ("+00:00" if zone == "Z" else zone))
    return moment.timestamp() + float(f"0.{fraction or 0}")


def engine_now() -> float:
    """The engine's clock (a remote engine's may differ from ours); ours if it does not say."""
    with suppress(Exception):
        with engine_errors():
            found = engine_time(str(docker_api.client().info().get("SystemTime", "")))
        if found is not None:
            return found
    return time.time()


def engine_skew() -> float:
    """The engine's clock minus ours, taken at the middle of the call that reads it. Zero when
    the engine's time falls within the call, as for an engine on this machine: a loaded engine
    takes a while to answer, and its clock read against ours after the answer seemed behind by
    that while (an event of a check's own exec then seemed to come after the check's end)."""
    before = time.time()
    engine = engine_now()
    after = time.time()
    # Compared as read (a millisecond's slack for the engine's rounding): a midpoint's sum rounds.
    if before - 0.001 <= engine <= after + 0.001:
        return 0.0
    return engine - (before + after) / 2


ProbeFollowerEvent = ProbeEvent | ProbeStreamEnded


class ProbeFollower(LogFollower[ProbeFollowerEvent]):
    """Follows the probe's log stream and puts each :class:`ProbeEvent` on a queue.

    The stream starts at the container's first line (or ``since``, where an earlier follower
    stopped), so the newest state is always known: the probe says only what changed. When the
    stream ends (the stack went down) it puts :class:`ProbeStreamEnded`.
    """

    end = ProbeStreamEnded()

    def __init__(self, check: Check, events: EventSink[ProbeFollowerEvent], *,
                 streams: docker_api.Streams | None = None, since: float | None = None) -> None:
        super().__init__("probe-follower", events, since=since, streams=streams)
        self.check = check

    def container_id(self) -> str:
        return str(self.check.probe_container().id)

    def parse(self, line: str) -> ProbeEvent | None:
        return parse_probe_line(line)


def parse_probe_line(line: str) -> ProbeEvent | None:
    parts = line.split()
    if len(parts) < 2 or parts[1] not in ("ok", "fail"):
        return None
    try:
        at = float(parts[0])
    except ValueError:
        return None
    return ProbeEvent(at=at, ok=parts[1] == "ok", status=parts[2] if len(parts) > 2 else "")
