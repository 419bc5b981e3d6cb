"""The success check: is the incident fixed?

``http_200``: the probe container (see stack.py) requests the URL from inside the scenario
network every 0.2 s and prints a line when the answer changes; :class:`ProbeFollower`
follows its log stream, so detection costs the host no polling. A one-off check runs
curl in the probe with ``docker exec``.
``exit_zero``: ``check.sh`` on the host, with a timeout; exit status 0 means fixed.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from libreplay import docker_api, paths
from libreplay.compose_model import PROBE_SERVICE
from libreplay.docker_api import PROJECT_LABEL, SERVICE_LABEL, engine_errors
from libreplay.errors import ScenarioFailure
from libreplay.proc import ProcessTimeout
from libreplay.stack import PROBE_IMAGE_REPO, Stack

CHECK_TIMEOUT_SECONDS = 20
HTTP_TIMEOUT_SECONDS = 2
STREAM_RETRY_SECONDS = 1.0


def ensure_probe_image(on_progress: Callable[[str], None] | None = None) -> str:
    """Build the probe image once per content version; return its tag."""
    import docker.errors

    context = paths.asset_path("probe")
    digest = hashlib.sha256()
    for name in sorted(p.name for p in context.iterdir()):
        digest.update(name.encode() + (context / name).read_bytes())
    tag = f"{PROBE_IMAGE_REPO}:{digest.hexdigest()[:12]}"
    api = docker_api.client()
    with engine_errors():
        try:
            api.images.get(tag)
            return tag
        except docker.errors.ImageNotFound:
            pass
        if on_progress:
            on_progress(f"building the check probe image {tag}")
        try:
            api.images.build(
                path=str(context), tag=tag, rm=True, labels={"org.replaybook.probe": "1"}
            )
        except docker.errors.BuildError as exc:
            log = "".join(str(chunk.get("stream", "")) for chunk in exc.build_log)[-2000:]
            raise ScenarioFailure(f"could not build the probe image: {exc}\n{log}") from exc
    return tag


@dataclass(frozen=True)
class ProbeEvent:
    """The probe's answer changed at ``at`` (unix time)."""

    at: float
    ok: bool
    status: str


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
        return result.ok

    def _http_once(self) -> bool:
        container = self.probe_container()
        command = [
            "curl", "-ks", "-o", "/dev/null", "-m", str(HTTP_TIMEOUT_SECONDS),
            "-w", "%{http_code}", self.stack.probe_url(),
        ]  # fmt: skip
        with engine_errors():
            result = container.exec_run(command)
        status = result.output.decode(errors="replace").strip()
        return status.startswith("2") and len(status) == 3

    def probe_container(self) -> Any:
        filters = {
            "label": [f"{PROJECT_LABEL}={self.stack.project}", f"{SERVICE_LABEL}={PROBE_SERVICE}"]
        }
        with engine_errors():
            found = docker_api.client().containers.list(filters=filters)
        if not found:
            raise ScenarioFailure(f"session {self.stack.session_id}: the check probe is not running")
        return found[0]


class ProbeFollower(threading.Thread):
    """Follows the probe's log stream and puts each :class:`ProbeEvent` on a queue.

    The stream starts at the container's first line, so the newest state is always known.
    When the stream ends (the stack went down) it puts ``None``.
    """

    def __init__(self, check: Check, events: queue.Queue[Any]) -> None:
        super().__init__(name="probe-follower", daemon=True)
        self.check = check
        self.events = events

    def run(self) -> None:
        try:
            container = self.check.probe_container()
            buffer = b""
            for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=False):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    event = parse_probe_line(line.decode(errors="replace"))
                    if event is not None:
                        self.events.put(event)
        except Exception:  # noqa: BLE001 - any failure ends the stream; the watcher re-checks the probe
            # The watcher follows again at once: pause so an engine that keeps failing the
            # stream costs one attempt a second, not a busy loop.
            time.sleep(STREAM_RETRY_SECONDS)
        self.events.put(None)


def parse_probe_line(line: str) -> ProbeEvent | None:
    parts = line.split()
    if len(parts) < 2 or parts[1] not in ("ok", "fail"):
        return None
    try:
        at = float(parts[0])
    except ValueError:
        return None
    return ProbeEvent(at=at, ok=parts[1] == "ok", status=parts[2] if len(parts) > 2 else "")
