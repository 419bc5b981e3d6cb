"""``replaybook new ID``: a new scenario in a pack, from a stack template, already playable.

Each template (``templates/scenario/<stack>/``) is a complete scenario with a placeholder
fault, proven by ``replaybook test`` in the suite; ``new`` fills in the author's answers (the
texts of meta.json) and the official pack's ``supervise``. The scenario is written into a
hidden temporary directory in the pack, loaded with ``load_scenario`` (so the answers satisfy
the schema) and only then renamed into place: a refused or failed ``new`` leaves nothing.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from libreplay.authoring import template_files
from libreplay.authoring.choices import DEFAULT_DIFFICULTY, DEFAULT_TEMPLATE, TEMPLATES
from libreplay.core.errors import InvalidInput, NotFound, ScenarioInvalid

if TYPE_CHECKING:
    from libreplay.authoring.postmortem import Draft

# meta.schema.json's id pattern: the whole text must match.
ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]*\Z")
ID_RULE = (
    "lowercase letters, digits, '.', '_' and '-', starting with a letter or digit (e.g. 012-checkout-502)"
)
TITLE_LIMIT = 80
SOURCE_PLACEHOLDER = "(Author: the post-mortem or page this scenario is drawn from)"
# The answers that have no sensible default, as the flags that give them.
REQUIRED = (("title", "--title"), ("page", "--page"))


@dataclass(frozen=True)
class Answers:
    """What the author says about the incident. ``None`` / ``()`` is "not answered": the
    template's placeholder is used where there is one."""

    title: str | None = None
    page: str | None = None
    template: str | None = None
    difficulty: int | None = None
    tags: tuple[str, ...] = ()
    hints: tuple[str, ...] = ()
    objectives: tuple[str, ...] = ()
    incident_date: str | None = None
    reference: str | None = None
    fix: str | None = None
    why: str | None = None
    follow_ups: tuple[str, ...] = ()

    def missing(self) -> tuple[str, ...]:
        """The flags of the required answers not given yet."""
        return tuple(flag for field, flag in REQUIRED if not getattr(self, field))


@dataclass(frozen=True)
class NewScenario:
    id: str
    directory: Path
    template: str
    warnings: tuple[str, ...]
    next_steps: tuple[str, ...]


def check_id(scenario_id: str) -> None:
    if not ID_PATTERN.match(scenario_id):
        raise InvalidInput(f"{scenario_id!r} is not a valid scenario id: {ID_RULE}")


def pack_directory(path: Path) -> Path:
    """``path`` if it is a pack: the root of a git work tree, or a directory that holds
    scenarios. A scenario directory itself, a file or a missing path is refused."""
    from libreplay.packs.catalog import scenario_dirs
    from libreplay.scenario.load import is_scenario_dir

    if not path.exists():
        raise NotFound(f"{path}: no such pack directory", hint="replaybook new-pack DIR makes one")
    if not path.is_dir():
        raise InvalidInput(f"{path} is a file, not a pack directory", hint="--pack DIR names the pack")
    if is_scenario_dir(path):
        raise InvalidInput(
            f"{path} is a scenario (it has meta.json), not a pack",
            hint="run new in the pack's directory, or pass --pack <the pack>",
        )
    if (path / ".git").exists() or next(scenario_dirs(path), None) is not None:
        return path.absolute()
    raise InvalidInput(
        f"{path} is not a pack: a pack is the root of a git repository or a directory of scenarios",
        hint="replaybook new-pack DIR makes one; --pack DIR names an existing pack",
    )


def refuse_existing(pack: Path, scenario_id: str) -> None:
    if (pack / scenario_id).exists() or (pack / scenario_id).is_symlink():
        raise InvalidInput(f"{pack / scenario_id} already exists: choose another ID")


def with_draft(answers: Answers, draft: Draft) -> Answers:
    """The post-mortem's draft under the answers given explicitly: a given answer wins."""
    return replace(
        answers,
        title=answers.title or draft.title,
        page=answers.page or draft.page,
        tags=answers.tags or draft.tags,
        hints=answers.hints or draft.hints,
        objectives=answers.objectives or draft.objectives,
        incident_date=answers.incident_date or draft.incident_date,
        reference=answers.reference or draft.reference,
        fix=answers.fix or draft.fix,
        why=answers.why or draft.why,
        follow_ups=answers.follow_ups or draft.follow_ups,
    )


def create_scenario(
    pack: Path, scenario_id: str, answers: Answers, *, warnings: tuple[str, ...] = ()
) -> NewScenario:
    """Write the scenario ``pack/scenario_id``; raise before writing anything it would refuse."""
    from libreplay.scenario.load import load_scenario

    check_id(scenario_id)
    pack = pack_directory(pack)
    refuse_existing(pack, scenario_id)
    cleaned, notes = clean(answers)
    if cleaned.missing():
        raise InvalidInput(f"{', '.join(cleaned.missing())} required: a scenario needs a title and a page")
    template = answers.template or DEFAULT_TEMPLATE
    if template not in TEMPLATES:
        raise InvalidInput(f"{template!r} is not a template: one of {', '.join(TEMPLATES)}")
    source = template_files.template_root() / "scenario" / template
    with template_files.writing(pack / scenario_id, "the scenario"):
        staging_root = Path(tempfile.mkdtemp(prefix=f".new-{scenario_id}-", dir=pack))
        try:
            staging = staging_root / scenario_id
            _write_scenario(staging, source, scenario_id, cleaned)
            try:
                load_scenario(staging)
            except ScenarioInvalid as exc:  # named as it would have been: the author never sees staging
                raise ScenarioInvalid(str(pack / scenario_id), exc.problems) from None
            staging.rename(pack / scenario_id)
        finally:
            shutil.rmtree(staging_root, ignore_errors=True)
    return NewScenario(
        scenario_id, pack / scenario_id, template, (*warnings, *notes), _next_steps(pack, scenario_id)
    )


def clean(answers: Answers) -> tuple[Answers, tuple[str, ...]]:
    """Texts as meta.json's schema wants them: stripped, no blank entries, a one-line title."""
    notes: list[str] = []
    title = _text(answers.title)
    if title is not None:
        first_line = title.splitlines()[0].strip()
        if len(first_line) > TITLE_LIMIT:
            first_line = first_line[: TITLE_LIMIT - 1].rsplit(" ", 1)[0].rstrip(" ,.;:-") + "…"
        if first_line != title:
            notes.append(f"title shortened to one line of at most {TITLE_LIMIT} characters: {first_line!r}")
        title = first_line
    return replace(
        answers,
        title=title,
        page=_text(answers.page),
        tags=_texts(answers.tags),
        hints=_texts(answers.hints),
        objectives=_texts(answers.objectives),
        incident_date=_text(answers.incident_date),
        reference=_text(answers.reference),
        fix=_text(answers.fix),
        why=_text(answers.why),
        follow_ups=_texts(answers.follow_ups),
    ), tuple(notes)


def meta_for(scenario_id: str, answers: Answers, stack: dict[str, Any]) -> dict[str, Any]:
    """meta.json: the author's texts first, then the stack's own keys (check, guards, break);
    an unanswered text keeps the stack's placeholder, which tells the author what goes there."""
    stack = dict(stack)
    meta: dict[str, Any] = {
        "id": scenario_id,
        "title": answers.title,
        "page": answers.page,
        "difficulty": answers.difficulty or DEFAULT_DIFFICULTY,
        "sla_minutes": stack.pop("sla_minutes"),
        "hold_seconds": stack.pop("hold_seconds"),
        "shell": stack.pop("shell"),
        "hints": list(answers.hints) or stack.pop("hints"),
        "tags": list(answers.tags),
        "learning_objectives": list(answers.objectives) or stack.pop("learning_objectives"),
        "source": _source(answers),
    }
    stack.pop("hints", None)
    stack.pop("learning_objectives", None)
    placeholder = stack.pop("debrief")
    meta.update(stack)
    meta["debrief"] = {
        "fix": answers.fix or placeholder["fix"],
        "why": answers.why or placeholder["why"],
        "follow_ups": list(answers.follow_ups) or placeholder["follow_ups"],
    }
    # The fault last, as in the official pack: it is what the author changes most.
    for key in ("break", "faults"):
        if key in meta:
            meta[key] = meta.pop(key)
    return meta


def _source(answers: Answers) -> dict[str, str]:
    source = {"incident_date": answers.incident_date, "reference": answers.reference or SOURCE_PLACEHOLDER}
    return {key: value for key, value in source.items() if value}


def _write_scenario(target: Path, source: Path, scenario_id: str, answers: Answers) -> None:
    values = {"id": scenario_id, "title": answers.title or scenario_id}
    for relative in template_files.template_files(source):
        if relative.as_posix() != "meta.json":
            template_files.write_file(source / relative, target / relative, values)
    template_files.write_file(template_files.supervise_source(), target / "supervise", values)
    stack = json.loads((source / "meta.json").read_text(encoding="utf-8"))
    meta = meta_for(scenario_id, answers, stack)
    (target / "meta.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _next_steps(pack: Path, scenario_id: str) -> tuple[str, ...]:
    if (pack / "Makefile").is_file():
        return (f"make dev ID={scenario_id}", f"make test-one ID={scenario_id}")
    return (f"replaybook dev ./{scenario_id}", f"replaybook test ./{scenario_id}")


def _text(value: str | None) -> str | None:
    stripped = (value or "").strip()
    return stripped or None


def _texts(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(text for text in (_text(value) for value in values) if text)
