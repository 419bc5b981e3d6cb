"""The scenario format's model: the dataclasses a loaded scenario is made of, and the small
helpers every part of the format's checking shares (:func:`is_inside`, and :func:`show_value`
and :func:`json_type`, how a problem report shows a value).

Loading and validating a scenario directory is :mod:`libreplay.scenario.load`; meta.json's
format is ``meta.schema.json`` (:mod:`libreplay.scenario.schema`); the compose file's static
reading is :mod:`libreplay.scenario.compose_file`; what a scenario may run is
:mod:`libreplay.scenario.sandbox`. The format is documented in docs/scenario-format.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_SLA_MINUTES = 15
MAX_SLA_MINUTES = 24 * 60
DEFAULT_FAULT_NAME = "default"
DEFAULT_SOLVE_SCRIPT = "solve.sh"
DEFAULT_HOLD_SECONDS = 15
MAX_HOLD_SECONDS = 600
SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


@dataclass(frozen=True)
class Resources:
    """What each container of a scenario needs at least (meta.json ``resources``); None: no need
    stated."""

    cpus: float | None = None
    memory: int | None = None  # bytes, swap included
    pids: int | None = None


def size_bytes(number: str, unit: str) -> int:
    """``512`` and ``m`` as bytes (``unit``: "", k, m, g or t, either case)."""
    return int(float(number) * SIZE_UNITS[unit.lower()])


@dataclass(frozen=True)
class BreakStep:
    """One step of a ``break`` list: ``cp``, ``exec`` or ``restart``."""

    action: str
    service: str
    src: str | None = None
    dest: str | None = None
    cmd: tuple[str, ...] = ()


@dataclass(frozen=True)
class Debrief:
    """The after-action review: the real fix, why it works, what keeps it from recurring."""

    fix: str = ""
    why: str = ""
    follow_ups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Guard:
    """A named check that must keep passing the whole time: it passes while the scenario is
    broken and fails when a shortcut destroys what the real fix keeps."""

    name: str
    condition: str  # "exit_zero" (``script``) or "http_200" (``target``)
    message: str
    script: str | None = None
    target: str | None = None

    @property
    def http(self) -> bool:
        return self.condition == "http_200"


@dataclass(frozen=True)
class Fault:
    """One way the scenario breaks. Scenarios without ``faults`` have one, named ``default``."""

    name: str
    steps: tuple[BreakStep, ...] = ()
    script: str | None = None
    hints: tuple[str, ...] | None = None
    solve: str = DEFAULT_SOLVE_SCRIPT
    debrief: Debrief | None = None


@dataclass(frozen=True)
class PublishedPort:
    service: str
    host_port: int
    container_port: int


@dataclass(frozen=True)
class Track:
    """An ordered group of scenarios sharing a directory (read by libreplay.scenario.track)."""

    name: str
    title: str
    description: str
    directory: Path
    scenarios: tuple[str, ...]  # scenario directory names, in the order the track is played

    def place_of(self, scenario_dir: Path) -> int:
        """The scenario's place in the track, from 1; 0 when the track does not list it."""
        name = scenario_dir.name
        return self.scenarios.index(name) + 1 if name in self.scenarios else 0


@dataclass(frozen=True)
class Scenario:
    id: str
    title: str
    page: str
    difficulty: int
    directory: Path
    compose_file: Path
    services: tuple[str, ...]
    shell: str
    success_condition: str
    success_target: str | None
    faults: tuple[Fault, ...]
    hints: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    learning_objectives: tuple[str, ...] = ()
    source: dict[str, Any] = field(default_factory=dict)
    sla_minutes: int = DEFAULT_SLA_MINUTES
    hold_seconds: int = DEFAULT_HOLD_SECONDS
    survive_restart: tuple[str, ...] = ()
    guards: tuple[Guard, ...] = ()
    debrief: Debrief | None = None
    published_ports: tuple[PublishedPort, ...] = ()
    resources: Resources = field(default_factory=Resources)
    warnings: tuple[str, ...] = ()
    pack: str = "local"
    track: Track | None = None  # the track of the directory it sits in (scenario/track.py)

    @property
    def ref(self) -> str:
        """The unambiguous name ``pack/id``."""
        return f"{self.pack}/{self.id}"

    def fault(self, name: str | None) -> Fault:
        for fault in self.faults:
            if fault.name == name:
                return fault
        raise KeyError(name)

    def hints_for(self, fault: Fault) -> tuple[str, ...]:
        """A fault's own hints replace the scenario's."""
        return fault.hints if fault.hints is not None else self.hints

    def debrief_for(self, fault: Fault | None) -> Debrief | None:
        """A fault's own debrief replaces the scenario's."""
        if fault is not None and fault.debrief is not None:
            return fault.debrief
        return self.debrief

    @property
    def probes_http(self) -> bool:
        """Whether anything is fetched from inside the network: the success check or a guard."""
        return self.success_condition == "http_200" or any(guard.http for guard in self.guards)

    def has_solve(self, fault: Fault) -> bool:
        return (self.directory / fault.solve).is_file()


def is_inside(root: Path, path: Path) -> bool:
    """Whether ``path``, links resolved, lies in ``root``; a loop of links or a NUL byte is not."""
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError, RuntimeError):  # outside; a NUL byte; a symlink loop
        return False
    return True


def show_value(value: Any) -> str:
    """A value quoted for a problem report, cut at 60 characters."""
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def json_type(value: Any) -> str:
    """A JSON value's kind as a problem report names it: "a list", "an object", "null"…"""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    return "a number"
