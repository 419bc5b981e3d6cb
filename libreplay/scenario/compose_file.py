"""The compose file as the pack wrote it: parsed within bounds, and checked for the files Compose
would read while resolving it, before Compose ever runs.

Compose reads other files *while resolving* the model (``include``, ``extends.file``,
``env_file``, a ``.env``), before the resolved model can be checked (:mod:`.sandbox`): those are
checked here, on the YAML node graph as written, where keys must be plain scalars PyYAML and
Compose read alike. The document is bounded too: an alias bomb is refused before anything is
built from it. Everything found is a problem or a warning naming the file and the field.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from libreplay.scenario.model import PublishedPort, is_inside, json_type

MAX_YAML_NODES = 100_000  # counted with every alias expanded: a "billion laughs" stops here
PLAIN_KEY_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "merge")
)
MERGE_TAG = "tag:yaml.org,2002:merge"
MAX_PORT_RANGE = 64  # ports of one "8080-8143:80-143" entry read here; the sandbox bounds the total


@dataclass
class ComposeFile:
    """What reading the compose file found. ``document`` and ``services`` are set only when the
    file is a mapping with a non-empty ``services`` mapping."""

    name: str
    document: dict[str, Any] | None = None
    services: tuple[str, ...] = ()
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # The host paths the check looked at (.env, env_file): see libreplay.scenario.load.Checked.
    consulted: list[Path] = field(default_factory=list)

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")


def read_compose_text(text: str, name: str, directory: Path) -> ComposeFile:
    """Parse the compose file ``name`` of the scenario in ``directory`` and check its shape."""
    found = ComposeFile(name)
    document = _parse(text, found, directory)
    if document is _UNREADABLE:
        return found
    if not isinstance(document, dict):
        found.problem(name, "must hold a mapping with a 'services' key")
        return found
    services = document.get("services")
    if not isinstance(services, dict) or not services:
        found.problem(f"{name}: services", "must be a non-empty mapping of services")
        return found
    found.document = document
    found.services = tuple(str(service) for service in services)
    for service, spec in services.items():
        if not isinstance(spec, dict):
            found.problem(f"{name}: services.{service}", f"must be a mapping, got {_yaml_type(spec)}")
        elif "container_name" in spec:
            found.warnings.append(f"{name}: services.{service}.container_name: ignored: a fixed name "
                                  "would collide when two sessions run")
    return found


_UNREADABLE = object()  # None is a document too: `null`, an empty file


def _parse(text: str, found: ComposeFile, directory: Path) -> Any:
    """The YAML document, or _UNREADABLE after reporting why it cannot be read."""
    name = found.name
    try:
        return _bounded_yaml(text, inspect=lambda node: _check_file_reads(found, node, directory))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        found.problem(name, f"invalid YAML{where}: {reason}")
    except _TooLarge:
        found.problem(name, f"expands to more than {MAX_YAML_NODES} values (aliases of aliases?)")
    except ValueError as exc:  # a scalar that looks like a date or is tagged !!int but is none
        found.problem(name, f"invalid YAML: {exc}")
    except RecursionError:
        found.problem(name, "invalid YAML: nested too deeply")
    return _UNREADABLE


def _check_file_reads(found: ComposeFile, root: yaml.Node, directory: Path) -> None:
    """Files Compose itself would read while resolving: only the scenario's own.

    Checked on the YAML node graph, before anything is constructed: every mapping of the
    document is visited (anchors, ``x-`` fields and each mapping of a merge sequence
    included), so no merge-key ordering and no key PyYAML and Compose decode differently
    (``? !!binary …``) can hide a value from this check."""
    for where, key, value in _mapping_entries(root):
        spot = f"{found.name}: {where}"
        if not isinstance(key, yaml.ScalarNode) or key.tag not in PLAIN_KEY_TAGS:
            found.problem(spot, "a key must be a plain string, number or boolean")
        elif where == "include":
            found.problem(spot, "other compose files are not allowed: every service belongs in this "
                                "file, where it is checked")
        elif key.value == "extends" and isinstance(value, yaml.MappingNode) and any(
            isinstance(k, yaml.ScalarNode) and k.value == "file" for k, _ in merged_pairs(value)
        ):
            found.problem(f"{spot}.file", "must not name another compose file: services are checked only "
                                          "in this one")
        elif key.value == "env_file":
            for index, path in enumerate(_env_file_paths(value)):
                if path is None or _escapes(directory, path, found.consulted):
                    found.problem(f"{spot}[{index}]", f"a host file outside the scenario ({path})")
    dotenv = directory / ".env"
    found.consulted.append(dotenv)
    if dotenv.exists() and not is_inside(directory, dotenv):
        found.problem(".env", "a link to a file outside the scenario directory")


def _escapes(directory: Path, path: str, consulted: list[Path]) -> bool:
    """Whether a host path Compose resolves against the scenario directory leaves it.

    Any ``$`` counts: Compose interpolates variables anywhere in the string (``./${X}``)."""
    if "$" in path or path.startswith(("/", "~")):
        return True
    consulted.append(directory / path)
    return not is_inside(directory, directory / path)


def published_ports(document: dict[str, Any]) -> tuple[PublishedPort, ...]:
    """TCP host ports the compose file publishes, as written, so that ``localhost:HOSTPORT`` URLs
    can be mapped without running Compose (the sandbox checks that Compose resolves the same)."""
    found = []
    services = document.get("services")
    for service, spec in (services if isinstance(services, dict) else {}).items():
        if not isinstance(spec, dict):
            continue
        for entry in _as_list(spec.get("ports")):
            found += [PublishedPort(str(service), *mapping) for mapping in _port_mappings(entry)]
    return tuple(found)


def _port_mappings(entry: Any) -> list[tuple[int, int]]:
    """(host port, container port) pairs of one TCP entry: ``"8080:80"``, ``"127.0.0.1:8080:80"``,
    ``"8080-8081:80-81"`` (a pair per port, as Compose expands it) or the long syntax."""
    if isinstance(entry, dict):
        if str(entry.get("protocol", "tcp")) != "tcp":
            return []
        host, container = str(entry.get("published")), str(entry.get("target"))
    else:
        text, _, protocol = str(entry).partition("/")
        parts = text.split(":")
        if protocol not in ("", "tcp") or len(parts) < 2:
            return []  # UDP, or no host port: no URL can name it
        host, container = parts[-2], parts[-1]
    hosts, containers = _port_range(host), _port_range(container)
    if len(hosts) != len(containers):
        return []
    return list(zip(hosts, containers, strict=True))


def _port_range(text: str) -> list[int]:
    """``"8080"`` or ``"8080-8082"`` as port numbers; none for anything else (a variable)."""
    first, _, last = text.partition("-")
    numbers = [part for part in (first, last or first) if part.isascii() and part.isdigit() and len(part) < 6]
    if len(numbers) != 2 or not 0 <= int(numbers[1]) - int(numbers[0]) < MAX_PORT_RANGE:
        return []
    return list(range(int(numbers[0]), int(numbers[1]) + 1))


class _TooLarge(Exception):
    """A YAML document whose aliases expand past MAX_YAML_NODES."""


def _bounded_yaml(text: str, inspect: Callable[[yaml.Node], None]) -> Any:
    """``yaml.safe_load`` that refuses alias bombs before building anything from them, and shows
    ``inspect`` the node graph as written (constructing merges it in place) first.

    Composing keeps each anchored node once however often it is referred to, so the node graph
    is small; the size it would have with every alias expanded is counted (once per node) before
    the document is constructed."""
    loader, node = _composed(text)
    try:
        if node is None:
            return None
        _expanded_size(node, {})
        inspect(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _composed(text: str) -> tuple[yaml.SafeLoader | yaml.CSafeLoader, yaml.Node | None]:
    """The document's node graph and the loader that will construct it.

    libyaml's parser (CSafeLoader) composes the same graph about ten times faster than the
    pure-Python one, and the construction is the same Python code in both. But libyaml words
    its errors differently and refuses a few documents PyYAML reads (a ``%YAML 1.3``
    directive, nesting PyYAML stops with RecursionError): a document libyaml cannot parse is
    parsed again in pure Python, whose answer (the document, or the error and its message) is
    the one reported, as it was before libyaml was used."""
    if yaml.__with_libyaml__:
        fast = yaml.CSafeLoader(text)
        try:
            return fast, fast.get_single_node()
        except yaml.YAMLError:
            fast.dispose()
    loader = yaml.SafeLoader(text)
    try:
        return loader, loader.get_single_node()
    except BaseException:
        loader.dispose()
        raise


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


def _as_list(value: Any) -> list[Any]:
    """A compose list: a lone string is a list of one."""
    if isinstance(value, list):
        return value
    return [value] if isinstance(value, (str, int)) and not isinstance(value, bool) else []


def _yaml_type(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    return json_type(value) if isinstance(value, (list, str, bool, int, float, type(None))) else "a date"
