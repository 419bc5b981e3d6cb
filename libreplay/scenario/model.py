"""The scenario format: loading a scenario directory and validating every field of it.

A scenario is a directory with ``meta.json``, a compose file and the scripts it names.
:func:`load_scenario` reads it, reports *every* problem at once (each naming the file and
field) by raising :class:`ScenarioInvalid`, and returns a normalised :class:`Scenario`.
Unknown keys are ignored (other implementations may add their own) and reported as warnings.
The format is documented in docs/scenario-format.md.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import yaml

from libreplay.core.errors import ScenarioInvalid

COMPOSE_NAMES = ("docker-compose.yml", "docker-compose.yaml", "compose.yaml", "compose.yml")
# Used with fullmatch: "$" would accept a trailing newline ("s3\n"), which then names a directory.
ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]*")
SUCCESS_CONDITIONS = ("http_200", "exit_zero")
DEFAULT_SLA_MINUTES = 15
DEFAULT_FAULT_NAME = "default"
UNREADABLE = object()  # a file that did not parse (None is a valid document: `null`, an empty file)
KNOWN_KEYS = frozenset(
    {
        "id", "title", "page", "difficulty", "hints", "tags", "learning_objectives", "source",
        "success_condition", "success_target", "sla_minutes", "shell", "break", "faults",
    }
)
FAULT_KEYS = frozenset({"name", "break", "script", "hints", "solve"})
SOURCE_KEYS = frozenset({"incident_date", "reference", "sanitized"})
MAX_SLA_MINUTES = 24 * 60
# Bounds on what a pack's files may cost to read: a document past these is refused, not parsed.
MAX_FILE_BYTES = 1 << 20
MAX_YAML_NODES = 100_000  # counted with every alias expanded: a "billion laughs" stops here
# Compose reads other files *while resolving* the model (include, extends.file, env_file), before
# the resolved model can be checked (libreplay/compose_model.py): those are checked here, on the
# pack's text, where keys must be plain scalars PyYAML and Compose read alike.
PLAIN_KEY_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "merge")
)
MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class BreakStep:
    """One step of a ``break`` list: ``cp``, ``exec`` or ``restart``."""

    action: str
    service: str
    src: str | None = None
    dest: str | None = None
    cmd: tuple[str, ...] = ()


@dataclass(frozen=True)
class Fault:
    """One way the scenario breaks. Scenarios without ``faults`` have one, named ``default``."""

    name: str
    steps: tuple[BreakStep, ...] = ()
    script: str | None = None
    hints: tuple[str, ...] | None = None
    solve: str = "solve.sh"


@dataclass(frozen=True)
class PublishedPort:
    service: str
    host_port: int
    container_port: int


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
    published_ports: tuple[PublishedPort, ...] = ()
    warnings: tuple[str, ...] = ()
    pack: str = "local"

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

    def has_solve(self, fault: Fault) -> bool:
        return (self.directory / fault.solve).is_file()


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


class _Loader:
    """Collects problems while reading, so that every one is reported in a single pass."""

    def __init__(self, directory: Path, pack: str) -> None:
        self.dir = directory
        self.pack = pack
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.meta: dict[str, Any] = {}
        self.services: tuple[str, ...] = ()
        self.compose_name = "docker-compose.yml"

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def load(self) -> Scenario:
        if not self.dir.is_dir():
            raise ScenarioInvalid(str(self.dir), [f"{self.dir}: not a directory"])
        meta = self._read_meta()
        compose = self._read_compose()
        if meta is None:
            # Without a readable meta.json every field would be "missing": say the one real problem.
            raise ScenarioInvalid(str(self.dir), self.problems)
        self.meta = meta
        scenario = self._build(compose)
        if self.problems or scenario is None:
            raise ScenarioInvalid(str(self.dir), self.problems)
        return scenario

    # -- files -----------------------------------------------------------------------------

    def _read_meta(self) -> dict[str, Any] | None:
        path = self.dir / "meta.json"
        if not path.is_file():
            self.problem("meta.json", "missing")
            return None
        data = self._parse_json(path)
        if data is UNREADABLE:
            return None
        if not isinstance(data, dict):
            self.problem("meta.json", f"must hold a JSON object, got {_json_type(data)}")
            return None
        for key in sorted(set(data) - KNOWN_KEYS):
            self.warnings.append(f"meta.json: {key}: unknown key, ignored")
        return data

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

    def _read_compose(self) -> dict[str, Any] | None:
        path = find_compose_file(self.dir)
        if path is None:
            self.problem("docker-compose.yml", "missing (also looked for compose.yaml, compose.yml)")
            return None
        self.compose_name = path.name
        data = self._parse_yaml(path)
        if data is UNREADABLE:
            return None
        if not isinstance(data, dict):
            self.problem(path.name, "must hold a mapping with a 'services' key")
            return None
        services = data.get("services")
        if not isinstance(services, dict) or not services:
            self.problem(f"{path.name}: services", "must be a non-empty mapping of services")
            return None
        self.services = tuple(str(name) for name in services)
        for name, spec in services.items():
            if not isinstance(spec, dict):
                self.problem(f"{path.name}: services.{name}", f"must be a mapping, got {_yaml_type(spec)}")
            elif "container_name" in spec:
                self.warnings.append(f"{path.name}: services.{name}.container_name: ignored: a fixed name "
                                     "would collide when two sessions run")
        return data

    def _parse_yaml(self, path: Path) -> Any:
        """The YAML document, or UNREADABLE after reporting why it cannot be read."""
        try:
            text = self._read_bounded(path)
            if text is None:
                return UNREADABLE
            return _bounded_yaml(text, inspect=lambda node: self._check_file_reads(path.name, node))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
            reason = getattr(exc, "problem", None) or str(exc)
            self.problem(path.name, f"invalid YAML{where}: {reason}")
        except UnicodeDecodeError:
            self.problem(path.name, "not UTF-8 text")
        except _TooLarge:
            self.problem(path.name, f"expands to more than {MAX_YAML_NODES} values (aliases of aliases?)")
        except ValueError as exc:  # a scalar that looks like a date or is tagged !!int but is none
            self.problem(path.name, f"invalid YAML: {exc}")
        except RecursionError:
            self.problem(path.name, "invalid YAML: nested too deeply")
        return UNREADABLE

    def _read_bounded(self, path: Path) -> str | None:
        """The file's text, or None after reporting that it is too large or unreadable."""
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

    def _check_file_reads(self, file_name: str, root: yaml.Node) -> None:
        """Files Compose itself would read while resolving: only the scenario's own.

        Checked on the YAML node graph, before anything is constructed: every mapping of the
        document is visited (anchors, ``x-`` fields and each mapping of a merge sequence
        included), so no merge-key ordering and no key PyYAML and Compose decode differently
        (``? !!binary …``) can hide a value from this check."""
        for where, key, value in _mapping_entries(root):
            spot = f"{file_name}: {where}"
            if not isinstance(key, yaml.ScalarNode) or key.tag not in PLAIN_KEY_TAGS:
                self.problem(spot, "a key must be a plain string, number or boolean")
            elif where == "include":
                self.problem(spot, "other compose files are not allowed: every service belongs in this "
                                   "file, where it is checked")
            elif key.value == "extends" and isinstance(value, yaml.MappingNode) and any(
                isinstance(k, yaml.ScalarNode) and k.value == "file" for k, _ in merged_pairs(value)
            ):
                self.problem(f"{spot}.file", "must not name another compose file: services are checked only "
                                             "in this one")
            elif key.value == "env_file":
                for index, path in enumerate(_env_file_paths(value)):
                    if path is None or self._escapes(path):
                        self.problem(f"{spot}[{index}]", f"a host file outside the scenario ({path})")
        dotenv = self.dir / ".env"
        if dotenv.exists() and not is_inside(self.dir, dotenv):
            self.problem(".env", "a link to a file outside the scenario directory")

    def _escapes(self, path: str) -> bool:
        """Whether a host path Compose resolves against the scenario directory leaves it.

        Any ``$`` counts: Compose interpolates variables anywhere in the string (``./${X}``)."""
        return "$" in path or path.startswith(("/", "~")) or not is_inside(self.dir, self.dir / path)

    # -- meta.json fields ----------------------------------------------------------------

    def _build(self, compose: dict[str, Any] | None) -> Scenario | None:
        meta = self.meta
        scenario_id = self._string("id", required=True)
        if scenario_id and not ID_PATTERN.fullmatch(scenario_id):
            self.problem(
                "meta.json: id",
                f"must use lowercase letters, digits, '.', '_' and '-', got {scenario_id!r}",
            )
        title = self._string("title", required=True)
        page = self._string("page", required=True)
        difficulty = meta.get("difficulty")
        if "difficulty" not in meta:
            self.problem("meta.json: difficulty", "missing (an integer from 1 to 5)")
        elif not _is_int(difficulty) or not 1 <= difficulty <= 5:  # type: ignore[operator]
            self.problem(
                "meta.json: difficulty", f"must be an integer from 1 to 5, got {show_value(difficulty)}"
            )
        hints = self._string_list("hints")
        tags = self._string_list("tags")
        objectives = self._string_list("learning_objectives")
        source = self._source()
        sla = meta.get("sla_minutes", DEFAULT_SLA_MINUTES)
        if not _is_int(sla) or not 1 <= sla <= MAX_SLA_MINUTES:
            self.problem("meta.json: sla_minutes",
                         f"must be an integer from 1 to {MAX_SLA_MINUTES}, got {show_value(sla)}")
        shell = self._shell()
        condition, target = self._success(compose)
        faults = self._faults()
        if self.problems or not self.services:
            return None
        return Scenario(
            id=scenario_id or "",
            title=title or "",
            page=page or "",
            difficulty=int(difficulty),  # type: ignore[arg-type]
            directory=self.dir,
            compose_file=self.dir / self.compose_name,
            services=self.services,
            shell=shell,
            success_condition=condition,
            success_target=target,
            faults=faults,
            hints=hints,
            tags=tags,
            learning_objectives=objectives,
            source=source,
            sla_minutes=int(sla),
            published_ports=_published_ports(compose or {}),
            warnings=tuple(self.warnings),
            pack=self.pack,
        )

    def _string(self, key: str, *, required: bool = False) -> str | None:
        value = self.meta.get(key)
        if value is None:
            if required:
                self.problem(f"meta.json: {key}", "missing (a non-empty string)")
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem(f"meta.json: {key}", f"must be a non-empty string, got {show_value(value)}")
            return None
        return value

    def _string_list(self, key: str) -> tuple[str, ...]:
        return self._strings(self.meta.get(key), f"meta.json: {key}")

    def _strings(self, value: Any, where: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.problem(where, f"must be a list of strings, got {show_value(value)}")
            return ()
        items = []
        for index, item in enumerate(value):
            if isinstance(item, str) and item.strip():
                items.append(item)
            else:
                self.problem(f"{where}[{index}]", f"must be a non-empty string, got {show_value(item)}")
        return tuple(items)

    def _source(self) -> dict[str, Any]:
        source = self.meta.get("source")
        if source is None:
            return {}
        if not isinstance(source, dict):
            self.problem("meta.json: source", f"must be an object, got {show_value(source)}")
            return {}
        for key in sorted(set(source) - SOURCE_KEYS):
            self.warnings.append(f"meta.json: source.{key}: unknown key, ignored")
        for key in ("incident_date", "reference"):
            if key in source and not isinstance(source[key], str):
                self.problem(f"meta.json: source.{key}", f"must be a string, got {show_value(source[key])}")
        if "sanitized" in source and not isinstance(source["sanitized"], bool):
            shown = show_value(source["sanitized"])
            self.problem("meta.json: source.sanitized", f"must be true or false, got {shown}")
        return dict(source)

    def _shell(self) -> str:
        shell = self.meta.get("shell")
        if shell is None:
            return self.services[0] if self.services else ""
        if not isinstance(shell, str):
            self.problem("meta.json: shell", f"must be a service name, got {show_value(shell)}")
            return ""
        self._service_exists("meta.json: shell", shell)
        return shell

    def _service_exists(self, where: str, service: Any) -> bool:
        if not isinstance(service, str) or not service:
            self.problem(where, f"must be a service name, got {show_value(service)}")
            return False
        if self.services and service not in self.services:
            self.problem(
                where,
                f'"{service}" is not a service of {self.compose_name} '
                f"(services: {', '.join(self.services)})",
            )
            return False
        return True

    def _success(self, compose: dict[str, Any] | None) -> tuple[str, str | None]:
        condition = self.meta.get("success_condition")
        where = "meta.json: success_condition"
        if condition is None:
            self.problem(where, 'missing ("http_200" or "exit_zero")')
            return "", None
        if condition not in SUCCESS_CONDITIONS:
            self.problem(where, f'must be "http_200" or "exit_zero", got {show_value(condition)}')
            return "", None
        target = self.meta.get("success_target")
        if condition == "exit_zero":
            self._script_exists("meta.json: success_condition", "check.sh")
            return condition, None
        if not isinstance(target, str):
            self.problem("meta.json: success_target", f"must be an http(s) URL, got {show_value(target)}")
            return condition, None
        parts = urlsplit(target)
        try:
            port_ok = parts.port is None or parts.port > 0
        except ValueError:
            port_ok = False
        if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
            self.problem("meta.json: success_target", f"must be an http(s) URL, got {target!r}")
        elif parts.hostname not in ("localhost", "127.0.0.1") and self.services:
            self._service_exists("meta.json: success_target (host)", parts.hostname)
        return condition, target

    def _script_exists(self, where: str, name: Any) -> bool:
        if not isinstance(name, str) or not name:
            self.problem(where, f"must name a script, got {show_value(name)}")
            return False
        path = self.dir / name
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
        has_script = (self.dir / "break.sh").is_file()
        has_steps = "break" in meta
        has_faults = "faults" in meta
        chosen = sum((has_script, has_steps, has_faults))
        if chosen == 0:
            self.problem("meta.json: break", "no fault injection: add break.sh, 'break' steps or 'faults'")
            return ()
        if has_faults:
            if has_steps:
                self.problem("meta.json: break", "give either 'break' or 'faults', not both")
            elif has_script:
                self.warnings.append("break.sh: ignored because meta.json has 'faults'")
            return self._fault_list(meta["faults"])
        if has_steps:
            if has_script:
                self.warnings.append("break.sh: ignored because meta.json has 'break' steps")
            steps = self._steps(meta["break"], "meta.json: break")
            return (Fault(DEFAULT_FAULT_NAME, steps=steps),)
        return (Fault(DEFAULT_FAULT_NAME, script="break.sh"),)

    def _fault_list(self, value: Any) -> tuple[Fault, ...]:
        if not isinstance(value, list) or not value:
            self.problem("meta.json: faults", f"must be a non-empty list of faults, got {show_value(value)}")
            return ()
        faults: list[Fault] = []
        seen: set[str] = set()
        for index, entry in enumerate(value):
            where = f"meta.json: faults[{index}]"
            if not isinstance(entry, dict):
                self.problem(where, f"must be an object, got {show_value(entry)}")
                continue
            for key in sorted(set(entry) - FAULT_KEYS):
                self.warnings.append(f"{where}.{key}: unknown key, ignored")
            name = entry.get("name")
            if not isinstance(name, str) or not ID_PATTERN.fullmatch(name):
                self.problem(f"{where}.name", f"must be a short lowercase name, got {show_value(name)}")
                continue
            if name in seen:
                self.problem(f"{where}.name", f"duplicate fault name {name!r}")
            seen.add(name)
            faults.append(self._fault(where, name, entry))
        return tuple(faults)

    def _fault(self, where: str, name: str, entry: dict[str, Any]) -> Fault:
        script = entry.get("script")
        if ("break" in entry) == (script is not None):
            self.problem(where, "needs exactly one of 'break' (steps) or 'script'")
        steps = self._steps(entry["break"], f"{where}.break") if "break" in entry else ()
        if script is not None:
            self._script_exists(f"{where}.script", script)
        hints = None
        if "hints" in entry:
            hints = self._strings(entry["hints"], f"{where}.hints")
        solve = entry.get("solve", "solve.sh")
        if not isinstance(solve, str) or not is_inside(self.dir, self.dir / solve):
            self.problem(f"{where}.solve", f"must name a script inside the scenario, got {show_value(solve)}")
            solve = "solve.sh"
        elif "solve" in entry:
            self._script_exists(f"{where}.solve", solve)
        return Fault(name, steps=steps, script=script, hints=hints, solve=solve)

    def _steps(self, value: Any, where: str) -> tuple[BreakStep, ...]:
        if not isinstance(value, list) or not value:
            self.problem(where, f"must be a non-empty list of steps, got {show_value(value)}")
            return ()
        steps = []
        for index, entry in enumerate(value):
            step = self._step(entry, f"{where}[{index}]")
            if step is not None:
                steps.append(step)
        return tuple(steps)

    def _step(self, entry: Any, where: str) -> BreakStep | None:  # noqa: PLR0911 - one return per shape
        if not isinstance(entry, dict) or len(entry) != 1:
            self.problem(where, 'must be one of {"cp": …}, {"exec": …}, {"restart": …}')
            return None
        action, body = next(iter(entry.items()))
        if action not in ("cp", "exec", "restart"):
            self.problem(where, f"unknown step {action!r} (cp, exec or restart)")
            return None
        where = f"{where}.{action}"
        if not isinstance(body, dict):
            self.problem(where, f"must be an object, got {show_value(body)}")
            return None
        service = str(body.get("service", ""))
        ok = self._service_exists(f"{where}.service", body.get("service"))
        if action == "cp":
            ok = self._cp_fields(where, body) and ok
            return BreakStep("cp", service, src=body.get("src"), dest=body.get("dest")) if ok else None
        if action == "exec":
            cmd = body.get("cmd")
            if not isinstance(cmd, list) or not cmd or not all(isinstance(c, str) for c in cmd):
                self.problem(f"{where}.cmd", f"must be a non-empty list of strings, got {show_value(cmd)}")
                return None
            return BreakStep("exec", service, cmd=tuple(cmd)) if ok else None
        return BreakStep("restart", service) if ok else None

    def _cp_fields(self, where: str, body: dict[str, Any]) -> bool:
        src, dest = body.get("src"), body.get("dest")
        ok = True
        if not isinstance(src, str) or not src:
            self.problem(f"{where}.src", f"must be a path in the scenario directory, got {show_value(src)}")
            ok = False
        elif not is_inside(self.dir, self.dir / src):
            self.problem(f"{where}.src", f"{src} is outside the scenario directory")
            ok = False
        elif not (self.dir / src).is_file():
            what = "is a directory (cp copies one file)" if (self.dir / src).is_dir() else "does not exist"
            self.problem(f"{where}.src", f"{src} {what}")
            ok = False
        if not isinstance(dest, str) or not PurePosixPath(dest).is_absolute():
            self.problem(f"{where}.dest",
                         f"must be an absolute path in the container, got {show_value(dest)}")
            ok = False
        return ok


def _published_ports(compose: dict[str, Any]) -> tuple[PublishedPort, ...]:
    """Host ports the compose file publishes, so that ``localhost:HOSTPORT`` URLs can be mapped."""
    found = []
    services = compose.get("services")
    for service, spec in (services if isinstance(services, dict) else {}).items():
        if not isinstance(spec, dict):
            continue
        for entry in _as_list(spec.get("ports")):
            mapping = _port_mapping(entry)
            if mapping:
                found.append(PublishedPort(str(service), *mapping))
    return tuple(found)


def _port_mapping(entry: Any) -> tuple[int, int] | None:
    if isinstance(entry, dict):
        host, container = entry.get("published"), entry.get("target")
    else:
        parts = str(entry).split("/")[0].split(":")
        if len(parts) < 2:
            return None
        host, container = parts[-2], parts[-1]
    try:
        return int(str(host)), int(str(container))
    except ValueError:
        return None  # ranges and empty host ports cannot be addressed by a fixed URL


class _TooLarge(Exception):
    """A YAML document whose aliases expand past MAX_YAML_NODES."""


def _bounded_yaml(text: str, inspect: Callable[[yaml.Node], None]) -> Any:
    """``yaml.safe_load`` that refuses alias bombs before building anything from them, and shows
    ``inspect`` the node graph as written (constructing merges it in place) first.

    Composing keeps each anchored node once however often it is referred to, so the node graph
    is small; the size it would have with every alias expanded is counted (once per node) before
    the document is constructed."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, {})
        inspect(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    known = sizes.get(id(node))
    if known is not None:
        return known
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(child, sizes) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    if size > MAX_YAML_NODES:
        raise _TooLarge
    sizes[id(node)] = size
    return size


def _mapping_entries(root: yaml.Node) -> Iterator[tuple[str, yaml.Node, yaml.Node]]:
    """Every ``(place, key node, value node)`` of every mapping in the graph, with what ``<<``
    merges in counted as the mapping's own (a top-level ``<<: *x`` can carry ``include``)."""
    seen: set[int] = set()
    queue: deque[tuple[yaml.Node, str]] = deque([(root, "")])
    while queue:
        node, where = queue.popleft()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in merged_pairs(node):
                name = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
                place = f"{where}.{name}" if where else name
                yield place, key, value
                queue.extend([(key, place), (value, place)])
        elif isinstance(node, yaml.SequenceNode):
            queue.extend((child, f"{where}[{index}]") for index, child in enumerate(node.value))


def merged_pairs(node: yaml.MappingNode) -> list[tuple[yaml.Node, yaml.Node]]:
    """A mapping's key-value pairs with the mappings its ``<<`` keys merge in inlined, each of
    them kept (which one wins is Compose's business: every one of them is checked)."""
    pairs: list[tuple[yaml.Node, yaml.Node]] = []
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode) and key.tag == MERGE_TAG:
            sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
            for source in sources:
                if isinstance(source, yaml.MappingNode):
                    pairs.extend(merged_pairs(source))
        else:
            pairs.append((key, value))
    return pairs


def _env_file_paths(node: yaml.Node) -> list[str | None]:
    """The paths an ``env_file`` value names (a path, a list of paths or of ``{path: …}``);
    None for an entry of another shape, which no check could vouch for."""
    entries = node.value if isinstance(node, yaml.SequenceNode) else [node]
    paths: list[str | None] = []
    for entry in entries:
        path = entry
        if isinstance(entry, yaml.MappingNode):
            path = next((v for k, v in entry.value if getattr(k, "value", None) == "path"), None)
        paths.append(str(path.value) if isinstance(path, yaml.ScalarNode) else None)
    return paths


def is_inside(root: Path, path: Path) -> bool:
    """Whether ``path``, links resolved, lies in ``root``; a loop of links or a NUL byte is not."""
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError, RuntimeError):  # outside; a NUL byte; a symlink loop
        return False
    return True


def _as_list(value: Any) -> list[Any]:
    """A compose list already checked by the loader: a lone string is a list of one."""
    if isinstance(value, list):
        return value
    return [value] if isinstance(value, (str, int)) and not isinstance(value, bool) else []


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _yaml_type(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    return _json_type(value) if isinstance(value, (list, str, bool, int, float, type(None))) else "a date"


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    return "a number"


def show_value(value: Any) -> str:
    """A value quoted for a problem report, cut at 60 characters."""
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
