"""A session's own compose model: the checked, resolved model rewritten for one session and written
to its state directory, which every later Compose call of the session uses.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from libreplay.scenario.model import Scenario
from libreplay.scenario.sandbox import (
    DEFAULT_LOG_OPTIONS,
    ResolvedModel,
    as_dict,
    as_list,
    check,
    hidden_paths,
    labels_dict,
    service_ports,
    without_nulls,
)
from libreplay.session import bindcopies
from libreplay.session.bindcopies import BindCopy
from libreplay.session.limits import PROBE_LIMITS, Limits, limit_service
from libreplay.session.snapshot import files_dir

MODEL_FILE = "compose.json"


class BindHolder(Protocol):
    def __call__(self, copies: Sequence[BindCopy], *, project: str, labels: dict[str, str],
                 hidden: set[Path]) -> dict[int, str]: ...


@dataclass(frozen=True)
class SessionParts:
    """What a session adds to the pack's model."""

    project: str
    session_dir: Path
    labels: dict[str, str]
    image_name: Callable[[str], str]
    probe: dict[str, Any] | None = None  # the probe service, when the check is http_200
    limits: Limits | None = None  # each service container's ceiling (session/limits.py); None: none
    # Puts the bind copies on the engine (the engine's path of each, by index); None: the engine's.
    hold_binds: BindHolder | None = None


def session_model(
    scenario: Scenario, parts: SessionParts, resolved: ResolvedModel | None = None
) -> ResolvedModel:
    """Rewrite the model for one session (resolved and checked here unless ``resolved``, from
    :func:`libreplay.scenario.sandbox.check` for this project, is given); copy what it binds;
    write it.

    Returns the model as written to ``<session dir>/compose.json``, which every later
    Compose call of the session uses.
    """
    resolved = resolved or check(scenario, parts.project)
    model = resolved.model
    for key in [k for k in model if k.startswith("x-")]:
        del model[key]
    _hold_bind_copies(scenario, parts, resolved)
    for name, spec in resolved.services.items():
        _rewrite_service(name, spec, parts, resolved)
    for section in ("networks", "volumes"):
        # Labelled like the containers, so `replay-down --all` finds a network whose containers
        # never came up (Compose labels it with the project alone).
        for key, spec in as_dict(model.get(section)).items():
            model[section][key] = {
                **as_dict(spec),
                "labels": {**labels_dict(as_dict(spec).get("labels")), **parts.labels},
            }
    for section in ("secrets", "configs"):
        for spec in as_dict(model.get(section)).values():
            if "file" in spec:
                spec["file"] = resolved.mounts[Path(spec["file"]).resolve()].copy
    if parts.probe is not None:
        probe = {**parts.probe, "logging": _bounded_logging(None)}
        networks = _networks_in_use(resolved.services)
        if networks:
            probe["networks"] = dict.fromkeys(sorted(networks))
        resolved.services[PROBE_SERVICE] = probe
    _apply_limits(resolved.services, parts.limits)
    text = json.dumps(model, indent=1)
    (parts.session_dir / MODEL_FILE).write_text(text, encoding="utf-8")
    _replace_scripts_compose_file(scenario, parts.session_dir, text)
    return resolved


def restore_scripts_compose_file(scenario: Scenario, session_dir: Path) -> None:
    """Make the scripts' copy of the compose file the session's model again, after the copy of
    the scenario was taken afresh (``replaybook dev`` before it breaks or solves again)."""
    model = session_dir / MODEL_FILE
    if model.is_file():
        _replace_scripts_compose_file(scenario, session_dir, model.read_text(encoding="utf-8"))


def _replace_scripts_compose_file(scenario: Scenario, session_dir: Path, text: str) -> None:
    """The compose file in the scripts' copy of the scenario becomes the session's model too.

    Scripts written for other tools name the file themselves (``docker compose -f
    "$SCENARIO_DIR/docker-compose.yml" exec …``), overriding COMPOSE_FILE: with the pack's own
    text, a verb that creates containers (``up``) would recreate a service unchecked, with the
    pack's ports on every address. With the model, ``-f`` and COMPOSE_FILE are the same session."""
    copies = files_dir(session_dir)
    if not copies.is_dir():  # no snapshot (a model prepared alone, by a test)
        return
    copy = copies / scenario.compose_file.name
    copy.unlink(missing_ok=True)  # the copy may be a link: never write through it
    copy.write_text(text, encoding="utf-8")


PROBE_SERVICE = "replaybook-probe"


def _rewrite_service(name: str, spec: dict[str, Any], parts: SessionParts, resolved: ResolvedModel) -> None:
    spec["labels"] = {**labels_dict(spec.get("labels")), **parts.labels}
    if "build" in spec:
        # Never the pack's own name: `image:` beside `build:` would re-tag any image on the engine.
        spec["image"] = parts.image_name(name)
        spec["build"]["args"] = without_nulls(spec["build"].get("args"))
    # Published ports are bound on the host's loopback only, whatever the file said (the sandbox
    # checked each; two sessions holding one port are refused before up: session/ports.py). A
    # fixed container name would collide when two sessions run.
    ports = [port.entry() for port in service_ports(name, spec)]
    if ports:
        spec["ports"] = ports
    else:
        spec.pop("ports", None)
    spec.pop("container_name", None)
    # A variable without a value would be taken from the environment `docker compose up` runs in.
    spec["environment"] = without_nulls(spec.get("environment"))
    spec["logging"] = _bounded_logging(spec.get("logging"))
    for volume in as_list(spec.get("volumes")):
        if volume.get("type") == "bind":
            volume["source"] = resolved.mounts[Path(volume["source"]).resolve()].copy
            volume["bind"] = {"create_host_path": False}


def _apply_limits(services: dict[str, Any], ceiling: Limits | None) -> None:
    """The host's ceiling on every service container; the probe, replaybook's own, its small
    fixed limits (docs/architecture.md, Resource limits)."""
    if ceiling is None:
        return
    probe = Limits(cpus=min(PROBE_LIMITS.cpus, ceiling.cpus), memory=min(PROBE_LIMITS.memory, ceiling.memory),
                   pids=min(PROBE_LIMITS.pids, ceiling.pids))  # never above a lower ceiling
    for name, spec in services.items():
        limit_service(spec, probe if name == PROBE_SERVICE else ceiling)


def _bounded_logging(logging: Any) -> dict[str, Any]:
    """A log stream replaybook can follow (the probe, the hint channel) on whatever the engine's
    default driver is, and one a container cannot grow without bound on the host's disk."""
    chosen = as_dict(logging)
    driver = chosen.get("driver", "json-file")
    options = as_dict(chosen.get("options"))
    if driver == "json-file":  # the pack's other options stay; the size bound is replaybook's
        options = {**options, **DEFAULT_LOG_OPTIONS}
    return {"driver": driver, "options": options}


def _hold_bind_copies(scenario: Scenario, parts: SessionParts, resolved: ResolvedModel) -> None:
    """Each bind source's session copy, put on the engine (session/bindcopies.py): the trainee's
    edits die with the session, and no host path of this machine is given to the engine."""
    copies = [BindCopy(index, mount.source) for index, mount in enumerate(resolved.mounts.values())]
    hold = parts.hold_binds or bindcopies.hold_on_engine
    held = hold(copies, project=parts.project, labels=parts.labels, hidden=hidden_paths(scenario))
    for copy, mount in zip(copies, resolved.mounts.values(), strict=True):
        mount.copy = held[copy.index]


def _networks_in_use(services: dict[str, Any]) -> set[str]:
    """Every network some service joins, so the probe can reach every service."""
    found: set[str] = set()
    for spec in services.values():
        if "network_mode" not in spec:
            found.update(as_dict(spec.get("networks")) or {"default"})
    return found
