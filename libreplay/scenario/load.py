"""Loading a scenario directory: every problem of it reported at once, or a :class:`Scenario`.

A scenario is a directory with ``meta.json``, a compose file and the scripts it names.
:func:`load_scenario` reads it, reports *every* problem at once (each naming the file and
field) by raising :class:`ScenarioInvalid`, and returns a normalised :class:`Scenario`.
meta.json's shape is its JSON Schema (:mod:`.schema`); what the schema cannot see is checked
here against the other files: the services named are the compose file's, the scripts and
``cp`` sources exist inside the directory, fault names are unique, a URL's host is a service.
Unknown keys are ignored (other implementations may add their own) and reported as warnings.
The format is documented in docs/scenario-format.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from libreplay.core.errors import ScenarioInvalid
from libreplay.scenario import schema
from libreplay.scenario.compose_file import ComposeFile, published_ports, read_compose_text
from libreplay.scenario.model import (
    DEFAULT_FAULT_NAME,
    DEFAULT_HOLD_SECONDS,
    DEFAULT_SLA_MINUTES,
    DEFAULT_SOLVE_SCRIPT,
    BreakStep,
    Debrief,
    Fault,
    Guard,
    Resources,
    Scenario,
    Track,
    is_inside,
    show_value,
    size_bytes,
)
from libreplay.scenario.schema import Place
from libreplay.scenario.track import TRACK_FILE, TrackInvalid, load_track, track_dir_for

COMPOSE_NAMES = ("docker-compose.yml", "docker-compose.yaml", "compose.yaml", "compose.yml")
# What the loader reads of meta.json; meta.schema.json declares the same keys
# (tests/unit/test_meta_schema.py). Any other key is a warning.
META_KEYS = frozenset(
    {
        "id", "title", "page", "difficulty", "hints", "tags", "learning_objectives", "source",
        "success_condition", "success_target", "sla_minutes", "shell", "break", "faults",
        "hold_seconds", "survive_restart", "guards", "debrief", "resources",
    }
)
FAULT_KEYS = frozenset({"name", "break", "script", "hints", "solve", "debrief"})
GUARD_KEYS = frozenset({"name", "condition", "script", "target", "message"})
DEBRIEF_KEYS = frozenset({"fix", "why", "follow_ups"})
SOURCE_KEYS = frozenset({"incident_date", "reference", "sanitized"})
RESOURCE_KEYS = ("cpus", "memory", "pids")
# Bounds on what a pack's files may cost to read: a document past these is refused, not parsed.
MAX_FILE_BYTES = 1 << 20
UNREADABLE = object()  # a file that did not parse (None is a valid document: `null`, an empty file)


def given(value: Any) -> bool:
    """Whether an optional list is given: ``null`` and ``[]`` are the same as leaving it out
    (other tools write ``"break": null, "faults": []`` for a scenario broken by break.sh).
    Any other value is given, and checked: a wrong one is still reported."""
    return value is not None and value != []


def find_compose_file(directory: Path) -> Path | None:
    for name in COMPOSE_NAMES:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def is_scenario_dir(directory: Path) -> bool:
    return (directory / "meta.json").is_file()


def load_scenario(directory: Path, *, pack: str = "local") -> Scenario:
    """Read and validate the scenario in ``directory``; raise ScenarioInvalid listing all problems."""
    return _Loader(directory.resolve(), pack).load()


@dataclass(frozen=True)
class Checked:
    """A scenario directory validated: the scenario or why it is invalid, and every path the
    validation looked at (read, tested for existence or resolved), so that a cache of the answer
    (libreplay.packs.listing) can tell when it no longer holds."""

    scenario: Scenario | None
    invalid: ScenarioInvalid | None
    consulted: frozenset[Path]
    read: frozenset[Path]  # those of them whose contents were read (the rest: existence, kind, links)


def check_scenario(directory: Path, *, pack: str = "local") -> Checked:
    """:func:`load_scenario`, with the paths it consulted; never raises ScenarioInvalid."""
    loader = _Loader(directory.resolve(), pack)
    try:
        scenario, invalid = loader.load(), None
    except ScenarioInvalid as exc:
        scenario, invalid = None, exc
    return Checked(scenario, invalid, frozenset(loader.consulted), frozenset(loader.read))


class _Loader:
    """Collects problems while reading, so that every one is reported in a single pass.

    meta.json is walked field by field in the order problems have always been reported; at each
    place the schema's message, if any, comes first, and the checks that need the other files
    run only where the schema found nothing. Where a place is wrong, what lies inside it is not
    looked at (a fault with a bad name is not checked further).

    Every path looked at goes through :meth:`consult` first: the list cache trusts an answer
    only while none of these paths has changed, so a check that reads a file without
    consulting it would let a stale answer stand."""

    def __init__(self, directory: Path, pack: str) -> None:
        self.dir = directory
        self.pack = pack
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.meta: dict[str, Any] = {}
        self.issues = schema.Issues(())
        self.compose = ComposeFile("docker-compose.yml")
        self.consulted: set[Path] = {directory}
        self.read: set[Path] = set()

    def consult(self, path: Path) -> Path:
        """Note that validation looks at ``path`` (see the class's note); returns it."""
        self.consulted.add(path)
        return path

    @property
    def services(self) -> tuple[str, ...]:
        return self.compose.services

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def load(self) -> Scenario:
        if not self.dir.is_dir():
            raise ScenarioInvalid(str(self.dir), [f"{self.dir}: not a directory"])
        meta = self._read_meta()
        self._read_compose()
        if meta is None:
            # Without a readable meta.json every field would be "missing": say the one real problem.
            raise ScenarioInvalid(str(self.dir), self.problems)
        self.meta = meta
        scenario = self._build()
        if self.problems or scenario is None:
            raise ScenarioInvalid(str(self.dir), self.problems)
        return scenario

    # -- files -----------------------------------------------------------------------------

    def _read_meta(self) -> dict[str, Any] | None:
        path = self.consult(self.dir / "meta.json")
        if not path.is_file():
            self.problem("meta.json", "missing")
            return None
        data = self._parse_json(path)
        if data is UNREADABLE:
            return None
        self.issues = schema.check(data)
        if self._reported((), "type"):
            return None
        for key in sorted(set(data) - META_KEYS):
            self.warnings.append(f"meta.json: {key}: unknown key, ignored")
        return dict(data)

    def _parse_json(self, path: Path) -> Any:
        """The JSON document, or UNREADABLE after reporting why it cannot be read."""
        try:
            text = self._read_bounded(path)
            return json.loads(text) if text is not None else UNREADABLE
        except UnicodeDecodeError:
            self.problem(path.name, "not UTF-8 text")
        except json.JSONDecodeError as exc:
            self.problem(path.name, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")
        except ValueError as exc:  # an integer of thousands of digits: Python refuses to convert it
            self.problem(path.name, f"invalid JSON: {exc}")
        except RecursionError:
            self.problem(path.name, "invalid JSON: nested too deeply")
        return UNREADABLE

    def _read_compose(self) -> None:
        for name in COMPOSE_NAMES:
            self.consult(self.dir / name)
        path = find_compose_file(self.dir)
        if path is None:
            self.problem("docker-compose.yml", "missing (also looked for compose.yaml, compose.yml)")
            return
        self.compose = ComposeFile(path.name)
        try:
            text = self._read_bounded(path)
        except UnicodeDecodeError:
            self.problem(path.name, "not UTF-8 text")
            return
        if text is None:
            return
        self.compose = read_compose_text(text, path.name, self.dir)
        self.consulted.update(self.compose.consulted)
        self.problems += self.compose.problems
        self.warnings += self.compose.warnings

    def _read_bounded(self, path: Path) -> str | None:
        """The file's text, or None after reporting that it is too large or unreadable."""
        self.read.add(self.consult(path))
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            self.problem(path.name, f"cannot be read: {exc.strerror}")
            return None
        if len(data) > MAX_FILE_BYTES:
            self.problem(path.name, f"larger than {MAX_FILE_BYTES // 1024} KiB")
            return None
        return data.decode("utf-8")

    # -- meta.json fields ----------------------------------------------------------------

    def _reported(self, place: Place, rule: str | None = None) -> bool:
        """Report the schema's message for ``place``, if it has one."""
        message = self.issues.at(place, rule)
        if message is None:
            return False
        where = schema.place_name(place)
        self.problem(f"meta.json: {where}" if where else "meta.json", message)
        return True

    def _build(self) -> Scenario | None:
        meta = self.meta
        scenario_id, title, page, difficulty = (self._field(key)
                                                for key in ("id", "title", "page", "difficulty"))
        hints = self._strings(("hints",))
        tags = self._strings(("tags",))
        objectives = self._strings(("learning_objectives",))
        source = self._source()
        sla = meta.get("sla_minutes", DEFAULT_SLA_MINUTES)
        self._reported(("sla_minutes",))
        hold = meta.get("hold_seconds", DEFAULT_HOLD_SECONDS)
        self._reported(("hold_seconds",))
        shell = self._shell()
        condition, target = self._success()
        restarts = self._restarts()
        guards = self._guards()
        debrief = self._debrief(("debrief",))
        faults = self._faults()
        resources = self._resources()
        track = self._track()
        if self.problems or not self.services:
            return None
        return Scenario(
            id=scenario_id,
            title=title,
            page=page,
            difficulty=difficulty,
            directory=self.dir,
            compose_file=self.dir / self.compose.name,
            services=self.services,
            shell=shell,
            success_condition=condition,
            success_target=target,
            faults=faults,
            hints=hints,
            tags=tags,
            learning_objectives=objectives,
            source=source,
            sla_minutes=sla,
            hold_seconds=hold,
            survive_restart=restarts,
            guards=guards,
            debrief=debrief,
            published_ports=published_ports(self.compose.document or {}),
            resources=resources,
            warnings=tuple(self.warnings),
            pack=self.pack,
            track=track,
        )

    def _track(self) -> Track | None:
        """The track of the directory the scenario sits in, when that holds a track file. A track
        file that is wrong, or does not give this scenario its place, makes the scenario invalid:
        its build may rely on the track (docs/scenario-format.md, "Tracks")."""
        self.consult(self.dir / ".git")
        parent = track_dir_for(self.dir)
        if parent is None:
            return None
        path = self.consult(parent / TRACK_FILE)
        if not (path.exists() or path.is_symlink()):  # a link is looked at, and refused
            return None
        self.read.add(path)
        try:
            track = load_track(parent)
        except TrackInvalid as exc:
            self.problems += [f"../{TRACK_FILE}: {problem}" for problem in exc.problems]
            return None
        if not track.place_of(self.dir):
            self.problem(
                f"../{TRACK_FILE}: scenarios",
                f"does not list {self.dir.name!r}: every scenario in a track directory has its place "
                "in the track's order",
            )
            return None
        return track

    def _field(self, key: str) -> Any:
        """A top-level value the schema found nothing wrong with, else None."""
        return None if self._reported((key,)) else self.meta.get(key)

    def _strings(self, place: Place) -> tuple[str, ...]:
        """A list of strings (absent or null: none)."""
        value = schema.value_at(self.meta, place)
        if self._reported(place) or value is None:
            return ()
        return tuple(item for index, item in enumerate(value) if not self._reported((*place, index)))

    def _source(self) -> dict[str, Any]:
        source = self.meta.get("source")
        if source is None or self._reported(("source",)):
            return {}
        for key in sorted(set(source) - SOURCE_KEYS):
            self.warnings.append(f"meta.json: source.{key}: unknown key, ignored")
        for key in ("incident_date", "reference", "sanitized"):
            self._reported(("source", key))
        return dict(source)

    def _resources(self) -> Resources:
        needs = self.meta.get("resources")
        if needs is None or self._reported(("resources",)):
            return Resources()
        for key in sorted(set(needs) - set(RESOURCE_KEYS)):
            self.warnings.append(f"meta.json: resources.{key}: unknown key, ignored")
        fine = {key: needs.get(key) for key in RESOURCE_KEYS if not self._reported(("resources", key))}
        memory = fine.get("memory")
        match = re.fullmatch(r"(\d+)([kmgKMG]?)", memory) if isinstance(memory, str) else None
        return Resources(
            cpus=float(fine["cpus"]) if fine.get("cpus") is not None else None,
            memory=size_bytes(*match.groups()) if match else None,
            pids=fine.get("pids"),
        )

    def _shell(self) -> str:
        shell = self.meta.get("shell")
        if shell is None:
            return self.services[0] if self.services else ""
        if self._reported(("shell",)):
            return ""
        self._is_service("meta.json: shell", shell)
        return str(shell)

    def _is_service(self, where: str, service: str) -> bool:
        """Whether ``service`` is one of the compose file's (unknown while it is unreadable)."""
        if self.services and service not in self.services:
            self.problem(
                where,
                f'"{service}" is not a service of {self.compose.name} '
                f"(services: {', '.join(self.services)})",
            )
            return False
        return True

    def _success(self) -> tuple[str, str | None]:
        if self._reported(("success_condition",)):
            return "", None
        condition = str(self.meta["success_condition"])
        if condition == "exit_zero":
            self._script_exists("meta.json: success_condition", "check.sh")
            return condition, None
        if self._reported(("success_target",)):
            return condition, None
        target = str(self.meta["success_target"])
        self._url("meta.json: success_target", target)
        return condition, target

    def _url(self, where: str, target: str) -> bool:
        """An http(s) URL whose host is a service, localhost or 127.0.0.1."""
        parts = urlsplit(target)
        try:
            port_ok = parts.port is None or parts.port > 0
        except ValueError:
            port_ok = False
        if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
            self.problem(where, f"must be an http(s) URL, got {target!r}")
            return False
        if parts.hostname not in ("localhost", "127.0.0.1"):
            return self._is_service(f"{where} (host)", parts.hostname)
        return True

    # -- fair wins: the hold, guards, the debrief ------------------------------------------

    def _restarts(self) -> tuple[str, ...]:
        place: Place = ("survive_restart",)
        services = schema.value_at(self.meta, place)
        if self._reported(place) or services is None:
            return ()
        named = []
        for index, service in enumerate(services):
            where = f"meta.json: {schema.place_name((*place, index))}"
            if not self._reported((*place, index)) and self._is_service(where, service):
                named.append(service)
        return tuple(named)

    def _guards(self) -> tuple[Guard, ...]:
        entries = self.meta.get("guards")
        if entries is None or self._reported(("guards",)):
            return ()
        guards: list[Guard] = []
        seen: set[Any] = set()
        for index, entry in enumerate(entries):
            guard = self._guard(("guards", index), entry)
            name = entry.get("name") if isinstance(entry, dict) else None
            if self.issues.at(("guards", index, "name")) is None and name in seen:
                self.problem(f"meta.json: guards[{index}].name", f"duplicate guard name {name!r}")
            elif guard is not None:
                guards.append(guard)
            seen.add(name)
        return tuple(guards)

    def _guard(self, place: Place, entry: Any) -> Guard | None:
        if self._reported(place, "type"):
            return None
        where = f"meta.json: {schema.place_name(place)}"
        for key in sorted(set(entry) - GUARD_KEYS):
            self.warnings.append(f"{where}.{key}: unknown key, ignored")
        reported = [self._reported((*place, key)) for key in ("name", "condition", "message")]
        if any(reported):
            return None
        condition = entry["condition"]
        key = "target" if condition == "http_200" else "script"
        if self._reported((*place, key)):
            return None
        value = str(entry[key])
        if key == "script":
            found = self._script_exists(f"{where}.script", value)
        else:
            found = self._url(f"{where}.target", value)
        if not found:
            return None
        return Guard(entry["name"], condition, entry["message"], **{key: value})

    def _debrief(self, place: Place) -> Debrief | None:
        body = schema.value_at(self.meta, place)
        if body is None or self._reported(place):
            return None
        for key in sorted(set(body) - DEBRIEF_KEYS):
            self.warnings.append(f"meta.json: {schema.place_name(place)}.{key}: unknown key, ignored")
        fix, why = ("" if self._reported((*place, key)) else body.get(key, "") for key in ("fix", "why"))
        return Debrief(fix=fix, why=why, follow_ups=self._strings((*place, "follow_ups")))

    def _script_exists(self, where: str, name: str) -> bool:
        path = self.consult(self.dir / name)
        if not is_inside(self.dir, path):
            self.problem(where, f"{name} is outside the scenario directory")
            return False
        if not path.is_file():
            self.problem(where, f"needs {name}, which does not exist")
            return False
        return True

    # -- fault injection -----------------------------------------------------------------

    def _faults(self) -> tuple[Fault, ...]:
        meta = self.meta
        has_script = self.consult(self.dir / "break.sh").is_file()
        has_steps = given(meta.get("break"))
        has_faults = given(meta.get("faults"))
        if not (has_script or has_steps or has_faults):
            self.problem("meta.json: break", "no fault injection: add break.sh, 'break' steps or 'faults'")
            return ()
        if has_faults:
            if has_steps:
                self._reported(("break",), "dependentSchemas")
            elif has_script:
                self.warnings.append("break.sh: ignored because meta.json has 'faults'")
            return self._fault_list()
        if has_steps:
            if has_script:
                self.warnings.append("break.sh: ignored because meta.json has 'break' steps")
            return (Fault(DEFAULT_FAULT_NAME, steps=self._steps(("break",))),)
        return (Fault(DEFAULT_FAULT_NAME, script="break.sh"),)

    def _fault_list(self) -> tuple[Fault, ...]:
        if self._reported(("faults",)):
            return ()
        faults: list[Fault] = []
        seen: set[str] = set()
        for index, entry in enumerate(self.meta["faults"]):
            place: Place = ("faults", index)
            if self._reported(place, "type"):
                continue
            for key in sorted(set(entry) - FAULT_KEYS):
                self.warnings.append(f"meta.json: {schema.place_name(place)}.{key}: unknown key, ignored")
            if self._reported((*place, "name")):
                continue
            name = entry["name"]
            if name in seen:
                self.problem(f"meta.json: {schema.place_name(place)}.name", f"duplicate fault name {name!r}")
            seen.add(name)
            faults.append(self._fault(place, entry))
        return tuple(faults)

    def _fault(self, place: Place, entry: dict[str, Any]) -> Fault:
        where = f"meta.json: {schema.place_name(place)}"
        self._reported(place, "oneOf")
        steps = self._steps((*place, "break")) if given(entry.get("break")) else ()
        script = entry.get("script")
        if script is not None and not self._reported((*place, "script")):
            self._script_exists(f"{where}.script", script)
        hints = self._strings((*place, "hints")) if "hints" in entry else None
        named_solve = entry.get("solve")
        solve = DEFAULT_SOLVE_SCRIPT if named_solve is None else named_solve
        if not self._reported((*place, "solve")):
            if not is_inside(self.dir, self.consult(self.dir / solve)):
                self.problem(f"{where}.solve",
                             f"must name a script inside the scenario, got {show_value(solve)}")
                solve = DEFAULT_SOLVE_SCRIPT
            elif named_solve is not None:
                self._script_exists(f"{where}.solve", solve)
        debrief = self._debrief((*place, "debrief"))
        return Fault(entry["name"], steps=steps, script=script, hints=hints, solve=solve, debrief=debrief)

    def _steps(self, place: Place) -> tuple[BreakStep, ...]:
        if self._reported(place):
            return ()
        entries = enumerate(schema.value_at(self.meta, place))
        steps = (self._step((*place, index), entry) for index, entry in entries)
        return tuple(step for step in steps if step is not None)

    def _step(self, place: Place, entry: dict[str, Any]) -> BreakStep | None:
        if self._reported(place):
            return None
        ((action, body),) = entry.items()
        place = (*place, action)
        if self._reported(place):
            return None
        where = f"meta.json: {schema.place_name(place)}"
        service = body.get("service")
        ok = not self._reported((*place, "service")) and self._is_service(f"{where}.service", service)
        if action == "cp":
            ok = self._cp_fields(place, body) and ok
            return BreakStep("cp", service, src=body["src"], dest=body["dest"]) if ok else None
        if action == "exec":
            if self._reported((*place, "cmd")):
                return None
            return BreakStep("exec", service, cmd=tuple(body["cmd"])) if ok else None
        return BreakStep("restart", service) if ok else None

    def _cp_fields(self, place: Place, body: dict[str, Any]) -> bool:
        src_ok = not self._reported((*place, "src")) and self._cp_source(place, body["src"])
        dest_ok = not self._reported((*place, "dest")) and self._cp_dest(place, body["dest"])
        return src_ok and dest_ok

    def _cp_dest(self, place: Place, dest: str) -> bool:
        """``dest`` names a file: `docker compose cp` would copy into a directory named there,
        where the break writes the file at that very path (docs/scenario-format.md)."""
        if dest.rsplit("/", 1)[-1] in ("", ".", ".."):  # "/", "/etc/", "/etc/.", "/etc/.."
            where = f"meta.json: {schema.place_name(place)}.dest"
            self.problem(where, f"{dest} names a directory; name the file to write in it")
            return False
        return True

    def _cp_source(self, place: Place, src: str) -> bool:
        where = f"meta.json: {schema.place_name(place)}.src"
        if not is_inside(self.dir, self.consult(self.dir / src)):
            self.problem(where, f"{src} is outside the scenario directory")
            return False
        if not (self.dir / src).is_file():
            what = "is a directory (cp copies one file)" if (self.dir / src).is_dir() else "does not exist"
            self.problem(where, f"{src} {what}")
            return False
        return True
