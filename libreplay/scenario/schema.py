"""meta.json's format as a JSON Schema (``meta.schema.json``, draft 2020-12), and its errors in
replaybook's words.

The schema is the contract another implementation validates against: types, ranges, patterns,
required keys and the rules between keys. :func:`check` runs it over a document and turns every
error into the message replaybook has always given for that field (``faults[0].name: must be a
short lowercase name, got 'Bad Name'``), keyed on the place in the document and the keyword that
failed. What needs the scenario's other files (services, scripts, a URL's host) is the loader's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from libreplay.scenario.model import MAX_HOLD_SECONDS, MAX_SLA_MINUTES, json_type, show_value

if TYPE_CHECKING:
    from jsonschema import ValidationError
    from jsonschema.protocols import Validator

SCHEMA_FILE = "meta.schema.json"

Place = tuple[str | int, ...]
"""Where in meta.json: keys and list indices from the top, ``()`` for the document itself."""

NON_EMPTY_STRING = "must be a non-empty string, got {value}"
SERVICE_NAME = "must be a service name, got {value}"
BODY_OBJECT = "must be an object, got {value}"
# The message for each field, whichever of its keywords failed; a fault's steps and hints are
# named like the scenario's own ("break[].exec.cmd" also stands for "faults[].break[].exec.cmd").
MESSAGES = {
    "id": NON_EMPTY_STRING,
    "title": NON_EMPTY_STRING,
    "page": NON_EMPTY_STRING,
    "difficulty": "must be an integer from 1 to 5, got {value}",
    "success_condition": 'must be "http_200" or "exit_zero", got {value}',
    "success_target": "must be an http(s) URL, got {value}",
    "sla_minutes": f"must be an integer from 1 to {MAX_SLA_MINUTES}, got {{value}}",
    "hold_seconds": f"must be an integer from 0 to {MAX_HOLD_SECONDS}, got {{value}}",
    "survive_restart": "must be a list of service names, each once, got {value}",
    "survive_restart[]": SERVICE_NAME,
    "resources": "must be an object of cpus, memory and pids, got {value}",
    "resources.cpus": "must be a number of CPUs from 0.01 to 256, got {value}",
    "resources.memory": "must be a size such as 512m or 2g, got {value}",
    "resources.pids": "must be an integer from 16 to 4194304, got {value}",
    "guards": "must be a list of guards, got {value}",
    "guards[]": "must be an object, got {value}",
    "guards[].name": "must be a short lowercase name, got {value}",
    "guards[].condition": 'must be "http_200" or "exit_zero", got {value}',
    "guards[].script": "must name a script, got {value}",
    "guards[].target": "must be an http(s) URL, got {value}",
    "guards[].message": NON_EMPTY_STRING,
    "debrief": "must be an object, got {value}",
    "debrief.fix": NON_EMPTY_STRING,
    "debrief.why": NON_EMPTY_STRING,
    "debrief.follow_ups": "must be a list of strings, got {value}",
    "debrief.follow_ups[]": NON_EMPTY_STRING,
    "shell": SERVICE_NAME,
    "hints": "must be a list of strings, got {value}",
    "hints[]": NON_EMPTY_STRING,
    "tags": "must be a list of strings, got {value}",
    "tags[]": NON_EMPTY_STRING,
    "learning_objectives": "must be a list of strings, got {value}",
    "learning_objectives[]": NON_EMPTY_STRING,
    "source": "must be an object, got {value}",
    "source.incident_date": "must be a string, got {value}",
    "source.reference": "must be a string, got {value}",
    "source.sanitized": "must be true or false, got {value}",
    "break": "must be a list of steps (null or [] for none), got {value}",
    "break[]": 'must be one of {{"cp": …}}, {{"exec": …}}, {{"restart": …}}',
    "break[].cp": BODY_OBJECT,
    "break[].cp.service": SERVICE_NAME,
    "break[].cp.src": "must be a path in the scenario directory, got {value}",
    "break[].cp.dest": "must be an absolute path in the container, got {value}",
    "break[].exec": BODY_OBJECT,
    "break[].exec.service": SERVICE_NAME,
    "break[].exec.cmd": "must be a non-empty list of strings, got {value}",
    "break[].restart": BODY_OBJECT,
    "break[].restart.service": SERVICE_NAME,
    "faults": "must be a list of faults (null or [] for none), got {value}",
    "faults[]": "must be an object, got {value}",
    "faults[].name": "must be a short lowercase name, got {value}",
    "faults[].script": "must name a script, got {value}",
    "faults[].solve": "must name a script inside the scenario, got {value}",
}
# Where a keyword's failure says something else than the field's message.
MISSING = {
    "id": "missing (a non-empty string)",
    "title": "missing (a non-empty string)",
    "page": "missing (a non-empty string)",
    "difficulty": "missing (an integer from 1 to 5)",
    "success_condition": 'missing ("http_200" or "exit_zero")',
}
NULL_IS_MISSING = frozenset({"id", "title", "page", "success_condition"})
RULE_MESSAGES = {
    ("break", "dependentSchemas"): "give either 'break' or 'faults', not both",
    ("break[]", "propertyNames"): "unknown step {name!r} (cp, exec or restart)",
    ("faults[]", "oneOf"): "needs exactly one of 'break' (steps) or 'script'",
    ("faults[].solve", "minLength"): "must name a script, got {value}",
    ("guards[].name", "required"): "missing (a short lowercase name)",
    ("guards[].condition", "required"): 'missing ("http_200" or "exit_zero")',
    ("guards[].message", "required"): "missing (what the trainee is told while it fails)",
    ("guards[].script", "required"): "missing (an exit_zero guard runs a script)",
    ("guards[].target", "required"): "missing (an http_200 guard fetches a URL)",
}
ID_RULE = "must use lowercase letters, digits, '.', '_' and '-', got {name!r}"
UNMAPPED = "does not match meta.schema.json ({rule}), got {value}"  # a field MESSAGES lacks
# A list whose every item is one value to the reader: a bad item is reported as the whole list.
WHOLE_LISTS = frozenset({"break[].exec.cmd"})


@dataclass(frozen=True)
class Issue:
    place: Place
    rule: str  # the schema keyword that failed: "type", "required", "oneOf"…
    message: str


class Issues:
    """meta.json's schema problems by place, looked up by the loader as it reaches each place.

    One place has one message: the first the schema gives there (each field lists its keywords
    from the most basic, ``type``, to the most specific)."""

    def __init__(self, issues: Iterable[Issue]) -> None:
        self._by_place: dict[Place, list[Issue]] = {}
        for issue in issues:
            self._by_place.setdefault(issue.place, []).append(issue)

    def at(self, place: Place, rule: str | None = None) -> str | None:
        """The message for ``place`` (only of keyword ``rule`` when given), or None."""
        for issue in self._by_place.get(place, []):
            if rule is None or issue.rule == rule:
                return issue.message
        return None

    def __iter__(self) -> Iterator[Issue]:
        for issues in self._by_place.values():
            yield from issues


def check(meta: Any) -> Issues:
    """Every way ``meta`` (a parsed meta.json) breaks the schema, in replaybook's words."""
    return Issues(issue for error in _validator().iter_errors(meta) for issue in _issues(error, meta))


def place_name(place: Place) -> str:
    """``faults[0].break[1].exec.service``: a place as problem reports name it."""
    text = ""
    for step in place:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


def value_at(document: Any, place: Place) -> Any:
    """The value at ``place``, None where there is none."""
    value = document
    for step in place:
        if isinstance(value, dict) and isinstance(step, str):
            value = value.get(step)
        elif isinstance(value, list) and isinstance(step, int) and step < len(value):
            value = value[step]
        else:
            return None
    return value


@cache
def meta_schema() -> dict[str, Any]:
    """The schema, as shipped with the package."""
    text = resources.files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> Validator:
    # jsonschema takes a fifth of a second to import: only a command that loads a scenario pays it.
    from jsonschema import Draft202012Validator, validators

    # JSON Schema has one kind of number, so 3.0 would pass as an integer; Python's json tells
    # them apart and the format has always refused a fraction or an exponent.
    integers_as_written = Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool)
    )
    strict = validators.extend(Draft202012Validator, type_checker=integers_as_written)
    validator: Validator = strict(meta_schema())
    return validator


def _issues(error: ValidationError, meta: Any) -> list[Issue]:
    place: Place = tuple(error.absolute_path)
    rule = str(error.validator)
    if rule == "required":
        # One error per missing key, none saying which: each is told by the keys present.
        missing = [key for key in error.validator_value if key not in error.instance]
        return [_issue((*place, key), rule, meta) for key in missing]
    if "dependentSchemas" in error.relative_schema_path:
        # {"faults": {"not": {"required": ["break"]}}}: the key that must not be there is at fault.
        return [_issue((*place, *error.validator_value["required"]), "dependentSchemas", meta)]
    if "propertyNames" in error.relative_schema_path:
        return [_issue(place, "propertyNames", meta, name=error.instance)]
    return [_issue(place, rule, meta)]


def _issue(place: Place, rule: str, meta: Any, name: Any = None) -> Issue:
    field = _field(place)
    if field.endswith("[]") and field[:-2] in WHOLE_LISTS:
        place, field = place[:-1], field[:-2]
    return Issue(place, rule, _message(field, rule, value_at(meta, place), name))


def _message(field: str, rule: str, value: Any, name: Any) -> str:
    if field == "":
        return f"must hold a JSON object, got {json_type(value)}"
    if field in MISSING and (rule == "required" or (value is None and field in NULL_IS_MISSING)):
        return MISSING[field]
    if field == "id" and rule == "pattern" and value.strip():
        return ID_RULE.format(name=value)
    template = RULE_MESSAGES.get((field, rule)) or MESSAGES.get(field, UNMAPPED)
    return template.format(value=show_value(value), name=name, rule=rule)


def _field(place: Place) -> str:
    """The place with its indices left out (``faults[].name``), a fault's steps and hints
    named like the scenario's own."""
    text = ""
    for step in place:
        text += "[]" if isinstance(step, int) else (f".{step}" if text else step)
    for own in ("break", "hints", "debrief"):
        prefix = f"faults[].{own}"
        if text == prefix or text.startswith(f"{prefix}["):
            return text.removeprefix("faults[].")
    return text
